// qemu-img dd: copies a byte range of one image into a new one, block by block, with dd's
// operands (if=, of=, bs=, count=, skip=).
#include <getopt.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "block/drivers.h"
#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

int img_dd(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    std::optional<std::string> format;
    std::string out_format = "raw";
    bool image_opts = false;
    bool force_share = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:U", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            format = optarg;
            break;
        case 'O':
            out_format = optarg;
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
    int64_t block_size = 512;
    std::optional<int64_t> count;
    std::optional<int64_t> skip;
    std::optional<std::string> in_name;
    std::optional<std::string> out_name;
    for (int i = optind; i < argc; ++i) {
        std::string_view arg = argv[i];
        size_t eq = arg.find('=');
        std::string_view key = arg.substr(0, eq);
        if (eq == std::string_view::npos ||
            (key != "bs" && key != "count" && key != "if" && key != "of" && key != "skip")) {
            error_report("unrecognized operand " + std::string(key));
            return 1;
        }
        std::string value(arg.substr(eq + 1));
        if (key == "if") {
            in_name = value;
        } else if (key == "of") {
            out_name = value;
        } else {
            auto parsed = key == "bs" ? cvtnum("bs", value, 1, INT_MAX) : cvtnum(key, value);
            if (!parsed) {
                error_report(parsed.error().desc);
                return 1;
            }
            (key == "bs" ? block_size : key == "count" ? count.emplace() : skip.emplace()) = *parsed;
        }
    }
    if (!in_name || !out_name) {
        error_report("Must specify both input and output files");
        return 1;
    }
    auto input = open_image({.name = *in_name, .format = format, .image_opts = image_opts, .force_share = force_share});
    if (!input) {
        error_report(input.error().desc);
        return 1;
    }
    const block::BlockDriver* driver = block::find_driver(out_format);
    if (!driver) {
        error_report("Unknown file format");
        return 1;
    }
    if (!driver->create) {
        error_report("Format driver '" + out_format + "' does not support image creation");
        return 1;
    }
    auto length = input->blk->length();
    if (!length) {
        error_report("Failed to get size for '" + *in_name + "'");
        return 1;
    }
    int64_t size = *length;
    if (count && *count <= INT64_MAX / block_size && *count * block_size < size) {
        size = *count * block_size;
    }
    bool skip_past_end = skip && (*skip > INT64_MAX / block_size || size < *skip * block_size);
    int64_t start = skip && !skip_past_end ? *skip * block_size : 0;
    CreateRequest create{
        .filename = *out_name, .format = out_format, .size = static_cast<uint64_t>(skip_past_end ? 0 : size - start)};
    auto created = block::create_image(open_context(), create);
    if (!created) {
        error_report(*out_name + ": error while creating output image: " + created.error().desc);
        return 1;
    }
    auto output = open_image({.name = *out_name, .format = out_format, .read_write = true});
    if (!output) {
        error_report(output.error().desc);
        return 1;
    }
    int64_t in_pos = start;
    if (skip_past_end) {
        // Like dd(1): an empty output, and only a complaint.
        error_report(*in_name + ": cannot skip to specified offset");
        in_pos = size;
    }
    std::vector<uint8_t> buf(static_cast<size_t>(block_size));
    for (int64_t out_pos = 0; in_pos < size;) {
        size_t bytes = static_cast<size_t>(std::min(block_size, size - in_pos));
        std::span<uint8_t> chunk(buf.data(), bytes);
        auto read = input->blk->pread(in_pos, chunk);
        if (!read) {
            error_report("error while reading from input image file: " + read.error().desc);
            return 1;
        }
        in_pos += static_cast<int64_t>(bytes);
        auto written = output->blk->pwrite(out_pos, chunk);
        if (!written) {
            error_report("error while writing to output image file: " + written.error().desc);
            return 1;
        }
        out_pos += static_cast<int64_t>(bytes);
    }
    return 0;
}

}  // namespace qemu::img
