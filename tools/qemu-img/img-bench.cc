// qemu-img bench: a fixed number of reads or writes of one size, stepping through the image
// and wrapping at its end, timed, with `-d` of them in flight at once (bench_cb's logic:
// every completion starts the next request, and a flush every --flush-interval requests,
// after the queue has drained unless --no-drain).
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

#include "util/aio-context.h"

#include "block/iov.h"
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

// The state bench_cb works on.
struct Bench {
    block::BlockBackend* blk = nullptr;
    AioContext* ctx = nullptr;
    bool write = false;
    int64_t image_size = 0;
    int64_t offset = 0;
    int64_t step = 0;
    unsigned long remaining = 0;  // b->n: requests not yet completed
    unsigned long depth = 0;
    unsigned long in_flight = 0;
    unsigned long flush_interval = 0;
    bool drain_on_flush = true;
    bool in_flush = false;
    iovec iov{};
};

[[noreturn]] void fail_request(const char* what, const Error& error)
{
    std::fflush(stdout);
    error_report(std::string(what) + error.desc);
    std::exit(1);
}

void bench_cb(Bench& b, Result<void> result)
{
    if (!result) {
        fail_request("Failed request: ", result.error());
    }
    if (b.in_flush) {
        // The flush of a drained queue is done: the next requests may go.
        b.in_flush = false;
    } else if (b.in_flight > 0) {
        unsigned long left = b.remaining - b.in_flight;
        --b.remaining;
        --b.in_flight;
        if (b.flush_interval && left % b.flush_interval == 0) {
            if (!b.in_flight || !b.drain_on_flush) {
                if (b.drain_on_flush) {
                    b.in_flush = true;
                    b.blk->aio_flush(*b.ctx, [&b](Result<void> done) { bench_cb(b, std::move(done)); });
                } else {
                    b.blk->aio_flush(*b.ctx, [](Result<void> done) {
                        if (!done) {
                            fail_request("Failed flush request: ", done.error());
                        }
                    });
                }
            }
            if (b.drain_on_flush) {
                return;
            }
        }
    }
    while (b.remaining > b.in_flight && b.in_flight < b.depth) {
        int64_t at = b.offset;
        ++b.in_flight;
        // The next request steps on and wraps at the image's end; like QEMU's, a step that
        // is not a divisor of the size can land a request across the end, which then fails.
        b.offset += b.step;
        b.offset = b.image_size == 0 ? 0 : b.offset % b.image_size;
        auto next = [&b](Result<void> done) { bench_cb(b, std::move(done)); };
        if (b.write) {
            b.blk->aio_pwritev(*b.ctx, at, std::span(&b.iov, 1), {}, next);
        } else {
            b.blk->aio_preadv(*b.ctx, at, std::span(&b.iov, 1), next);
        }
    }
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
    bool drain_on_flush = true;
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
            drain_on_flush = false;
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
    // blk_blockalign: every request uses the same aligned buffer, as QEMU's do.
    block::AlignedBuffer buf = block::aligned_buffer(4096, static_cast<size_t>(std::max<int64_t>(bufsize, 1)));
    if (!buf) {
        error_report("Failed to allocate the request buffer");
        return 1;
    }
    std::memset(buf.get(), static_cast<int>(pattern), static_cast<size_t>(bufsize));
    AioContext ctx;
    Bench b{.blk = image->blk.get(), .ctx = &ctx, .write = request.read_write, .image_size = image_size,
        .offset = offset, .step = stride, .remaining = count, .depth = depth, .flush_interval = flush_interval,
        .drain_on_flush = drain_on_flush, .iov = {buf.get(), static_cast<size_t>(bufsize)}};
    double start = now_seconds();
    bench_cb(b, {});
    while (b.remaining > 0) {
        ctx.poll(true);
    }
    std::printf("Run completed in %3.3f seconds.\n", now_seconds() - start);
    image->blk->drain();
    return 0;
}

}  // namespace qemu::img
