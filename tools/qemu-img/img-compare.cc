// qemu-img compare: whether two images have the same guest-visible content, walking both
// images' block status so ranges that are zero in both are not read.
#include <getopt.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"

namespace qemu::img {

namespace {

// bdrv_block_status_above over the whole backing chain.
Result<block::BlockStatus> chain_status(block::BlockNode& node, int64_t offset, int64_t bytes)
{
    return TRY(block::block_status_above(node, nullptr, true, offset, bytes)).status;
}

constexpr int64_t kIoBufSize = 2 * 1024 * 1024;

// Exit statuses of compare.
enum CompareStatus { kIdentical = 0, kDiffer = 1, kOpenError = 2, kStatusError = 3, kReadError = 4 };

// Offset of the first 512-byte sector where a and b differ, if any.
std::optional<size_t> first_difference(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
    auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end()) {
        return std::nullopt;
    }
    size_t at = static_cast<size_t>(ia - a.begin());
    return at / block::kSectorSize * block::kSectorSize;
}

// Offset of the first 512-byte sector that is not all zero, if any.
std::optional<size_t> first_nonzero(std::span<const uint8_t> buf)
{
    auto it = std::find_if(buf.begin(), buf.end(), [](uint8_t b) { return b != 0; });
    if (it == buf.end()) {
        return std::nullopt;
    }
    size_t at = static_cast<size_t>(it - buf.begin());
    return at / block::kSectorSize * block::kSectorSize;
}

struct Side {
    std::string name;
    OpenImage image;
    int64_t length = 0;
};

int check_empty(Side& side, int64_t offset, int64_t bytes, std::vector<uint8_t>& buf, bool quiet)
{
    std::span<uint8_t> chunk(buf.data(), static_cast<size_t>(bytes));
    auto read = side.image.blk->pread(offset, chunk);
    if (!read) {
        error_report(
            "Error while reading offset " + std::to_string(offset) + " of " + side.name + ": " + read.error().desc);
        return kReadError;
    }
    if (auto at = first_nonzero(chunk)) {
        qprintf(quiet, "Content mismatch at offset " + std::to_string(offset + static_cast<int64_t>(*at)) + "!\n");
        return kDiffer;
    }
    return kIdentical;
}

int compare_images(Side& one, Side& two, bool strict, bool quiet, Progress& progress)
{
    std::vector<uint8_t> buf1(static_cast<size_t>(kIoBufSize));
    std::vector<uint8_t> buf2(static_cast<size_t>(kIoBufSize));
    int64_t common = std::min(one.length, two.length);
    int64_t base = std::max(one.length, two.length);
    progress.print(0, 100);
    if (strict && one.length != two.length) {
        qprintf(quiet, "Strict mode: Image size mismatch!\n");
        return kDiffer;
    }
    for (int64_t offset = 0; offset < common;) {
        auto status1 = chain_status(one.image.root(), offset, one.length - offset);
        if (!status1) {
            error_report("Sector allocation test failed for " + one.name);
            return kStatusError;
        }
        auto status2 = chain_status(two.image.root(), offset, two.length - offset);
        if (!status2) {
            error_report("Sector allocation test failed for " + two.name);
            return kStatusError;
        }
        bool allocated1 = status1->flags & block::status::kAllocated;
        bool allocated2 = status2->flags & block::status::kAllocated;
        int64_t chunk = std::min({status1->bytes, status2->bytes, common - offset});
        if (strict && status1->flags != status2->flags) {
            qprintf(quiet, "Strict mode: Offset " + std::to_string(offset) + " block status mismatch!\n");
            return kDiffer;
        }
        bool both_zero = (status1->flags & block::status::kZero) && (status2->flags & block::status::kZero);
        if (!both_zero && allocated1 == allocated2) {
            if (allocated1) {
                chunk = std::min(chunk, kIoBufSize);
                std::span<uint8_t> a(buf1.data(), static_cast<size_t>(chunk));
                std::span<uint8_t> b(buf2.data(), static_cast<size_t>(chunk));
                for (Side* side : {&one, &two}) {
                    auto read = side->image.blk->pread(offset, side == &one ? a : b);
                    if (!read) {
                        error_report("Error while reading offset " + std::to_string(offset) + " of " + side->name +
                            ": " + read.error().desc);
                        return kReadError;
                    }
                }
                if (auto at = first_difference(a, b)) {
                    qprintf(quiet,
                        "Content mismatch at offset " + std::to_string(offset + static_cast<int64_t>(*at)) + "!\n");
                    return kDiffer;
                }
            }
        } else if (!both_zero) {
            chunk = std::min(chunk, kIoBufSize);
            int ret = check_empty(allocated1 ? one : two, offset, chunk, buf1, quiet);
            if (ret != kIdentical) {
                return ret;
            }
        }
        offset += chunk;
        progress.print(static_cast<float>(chunk) / static_cast<float>(base) * 100, 100);
    }
    if (one.length != two.length) {
        Side& over = one.length > two.length ? one : two;
        qprintf(quiet, "Warning: Image size mismatch!\n");
        for (int64_t offset = common; offset < base;) {
            auto status = chain_status(over.image.root(), offset, base - offset);
            if (!status) {
                error_report("Sector allocation test failed for " + over.name);
                return kStatusError;
            }
            int64_t chunk = status->bytes;
            if (status->flags & block::status::kAllocated) {
                chunk = std::min(chunk, kIoBufSize);
                int ret = check_empty(over, offset, chunk, buf1, quiet);
                if (ret != kIdentical) {
                    return ret;
                }
            }
            offset += chunk;
            progress.print(static_cast<float>(chunk) / static_cast<float>(base) * 100, 100);
        }
    }
    qprintf(quiet, "Images are identical.\n");
    return kIdentical;
}

}  // namespace

int img_compare(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    std::optional<std::string> format1;
    std::optional<std::string> format2;
    std::string cache = "writeback";
    bool progress_wanted = false;
    bool quiet = false;
    bool strict = false;
    bool image_opts = false;
    bool force_share = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:F:T:pqsU", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            format1 = optarg;
            break;
        case 'F':
            format2 = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'p':
            progress_wanted = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            strict = true;
            break;
        case 'U':
            force_share = true;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptImageOpts:
            image_opts = true;
            break;
        default:
            break;
        }
    }
    // No progress line in quiet mode.
    if (quiet) {
        progress_wanted = false;
    }
    if (optind != argc - 2) {
        return usage_error("Expecting two image file names");
    }
    Side one{.name = argv[optind]};
    Side two{.name = argv[optind + 1]};
    auto mode = parse_cache_mode(cache);
    if (!mode) {
        error_report("Invalid source cache option: " + cache);
        return kOpenError;
    }
    Progress progress(progress_wanted, 2.0f);
    int ret = [&]() -> int {
        for (auto [side, format] : {std::pair{&one, &format1}, std::pair{&two, &format2}}) {
            auto image = open_image({.name = side->name,
                .format = *format,
                .image_opts = image_opts,
                .force_share = force_share,
                .cache = *mode});
            if (!image) {
                error_report(image.error().desc);
                return kOpenError;
            }
            side->image = std::move(*image);
        }
        for (Side* side : {&one, &two}) {
            auto length = side->image.blk->length();
            if (!length) {
                error_report("Can't get size of " + side->name + ": " + length.error().desc);
                return kReadError;
            }
            side->length = *length;
        }
        return compare_images(one, two, strict, quiet, progress);
    }();
    progress.end();
    return ret;
}

}  // namespace qemu::img
