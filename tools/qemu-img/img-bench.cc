// qemu-img bench: a fixed number of reads or writes of one size, stepping through the image
// and wrapping at its end, timed. Requests are issued one after another; the depth is
// reported as given.
#include <getopt.h>
#include <sys/time.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

namespace {

// qemu_strtoul base 0 with an upper bound, as bench's counters are parsed.
std::optional<unsigned long> parse_counter(const char* text, unsigned long max)
{
    errno = 0;
    char* end = nullptr;
    unsigned long value = std::strtoul(text, &end, 0);
    if (end == text || *end != '\0' || errno != 0 || value > max) {
        return std::nullopt;
    }
    return value;
}

double now_seconds()
{
    timeval tv{};
    gettimeofday(&tv, nullptr);
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1000000;
}

}  // namespace

int img_bench(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"flush-interval", required_argument, nullptr, kOptFlushInterval},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"pattern", required_argument, nullptr, kOptPattern},
        {"no-drain", no_argument, nullptr, kOptNoDrain},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request;
    unsigned long count = 75000;
    unsigned long depth = 64;
    int64_t offset = 0;
    int64_t bufsize = 4096;
    std::optional<int64_t> step;
    unsigned long pattern = 0;
    unsigned long flush_interval = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'c':
        case 'd': {
            auto value = parse_counter(optarg, INT_MAX);
            if (!value) {
                error_report(c == 'c' ? "Invalid request count specified" : "Invalid queue depth specified");
                return 1;
            }
            (c == 'c' ? count : depth) = *value;
            break;
        }
        case 'f':
            request.format = optarg;
            break;
        case 'n':
            request.aio = "native";
            break;
        case 'i': {
            std::string_view mode = optarg;
            if (mode != "threads" && mode != "native" && mode != "io_uring") {
                error_report(std::string("Invalid aio option: ") + optarg);
                return 1;
            }
            request.aio = std::string(mode);
            break;
        }
        case 'o':
        case 's':
        case 'S': {
            auto value = c == 'o' ? cvtnum("offset", optarg)
                                  : cvtnum(c == 's' ? "buffer size" : "step_size", optarg, 0, INT_MAX);
            if (!value) {
                error_report(value.error().desc);
                return 1;
            }
            (c == 'o' ? offset : c == 's' ? bufsize : step.emplace()) = *value;
            break;
        }
        case 'q':
            break;
        case 't': {
            auto mode = parse_cache_mode(optarg);
            if (!mode) {
                error_report("Invalid cache mode");
                return 1;
            }
            request.cache = *mode;
            break;
        }
        case 'w':
            request.read_write = true;
            break;
        case 'U':
            request.force_share = true;
            break;
        case kOptPattern: {
            auto value = parse_counter(optarg, 0xff);
            if (!value) {
                error_report("Invalid pattern byte specified");
                return 1;
            }
            pattern = *value;
            break;
        }
        case kOptFlushInterval: {
            auto value = parse_counter(optarg, INT_MAX);
            if (!value) {
                error_report("Invalid flush interval specified");
                return 1;
            }
            flush_interval = *value;
            break;
        }
        case kOptNoDrain:
            break;
        case kOptImageOpts:
            request.image_opts = true;
            break;
        default:
            break;
        }
    }
    if (optind != argc - 1) {
        return usage_error("Expecting one image file name");
    }
    request.name = argv[argc - 1];
    if (!request.read_write && flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (flush_interval && flush_interval < depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }
    auto image = open_image(request);
    if (!image) {
        error_report(image.error().desc);
        return 1;
    }
    auto length = image->blk->length();
    if (!length) {
        return 1;
    }
    int64_t image_size = *length;
    int64_t stride = step.value_or(bufsize);
    std::printf("Sending %d %s requests, %d bytes each, %d in parallel (starting at offset %lld, step size %d)\n",
        static_cast<int>(count), request.read_write ? "write" : "read", static_cast<int>(bufsize),
        static_cast<int>(depth), static_cast<long long>(offset), static_cast<int>(stride));
    if (flush_interval) {
        std::printf("Sending flush every %d requests\n", static_cast<int>(flush_interval));
    }
    std::vector<uint8_t> buf(static_cast<size_t>(bufsize), static_cast<uint8_t>(pattern));
    double start = now_seconds();
    for (unsigned long done = 0; done < count; ++done) {
        auto result = request.read_write ? image->blk->pwrite(offset, buf) : image->blk->pread(offset, buf);
        if (!result) {
            std::fflush(stdout);
            error_report("Failed request: " + result.error().desc);
            return 1;
        }
        if (flush_interval && (done + 1) % flush_interval == 0) {
            auto flushed = image->blk->flush();
            if (!flushed) {
                error_report("Failed flush request: " + flushed.error().desc);
                return 1;
            }
        }
        // The next request steps on and wraps at the image's end; like QEMU's, a step that is
        // not a divisor of the size can land a request across the end, which then fails.
        offset += stride;
        offset = image_size == 0 ? 0 : offset % image_size;
    }
    std::printf("Run completed in %3.3f seconds.\n", now_seconds() - start);
    return 0;
}

}  // namespace qemu::img
