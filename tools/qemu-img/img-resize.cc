// qemu-img resize: grow or shrink an image to an absolute size or by a relative amount,
// refusing to shrink unless asked to with --shrink.
#include <getopt.h>

#include <cstdio>
#include <optional>
#include <string>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

int img_resize(int argc, char** argv)
{
    // The size is taken off the end before getopt runs, so that "-1G" is not an option.
    if (argc < 3) {
        return usage_error("Not enough arguments");
    }
    std::string_view size_text = argv[--argc];
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"preallocation", required_argument, nullptr, kOptPreallocation},
        {"shrink", no_argument, nullptr, kOptShrink},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request{.read_write = true, .resize = true};
    block::Prealloc prealloc = block::Prealloc::Off;
    bool quiet = false;
    bool shrink = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:hq", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            request.format = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptImageOpts:
            request.image_opts = true;
            break;
        case kOptPreallocation: {
            auto mode = block::parse_prealloc(optarg);
            if (!mode) {
                error_report(std::string("Invalid preallocation mode '") + optarg + "'");
                return 1;
            }
            prealloc = *mode;
            break;
        }
        case kOptShrink:
            shrink = true;
            break;
        default:
            break;
        }
    }
    if (optind != argc - 1) {
        return usage_error("Expecting image file name and size");
    }
    request.name = argv[optind];
    int sign = 0;
    if (size_text.starts_with('+')) {
        sign = 1;
        size_text.remove_prefix(1);
    } else if (size_text.starts_with('-')) {
        sign = -1;
        size_text.remove_prefix(1);
    }
    auto parsed = parse_size(size_text);
    if (!parsed) {
        error_report("Parameter 'size' expects a non-negative number below 2^64\n"
                     "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                     "and exabytes, respectively.");
        return 1;
    }
    auto image = open_image(request);
    if (!image) {
        error_report(image.error().desc);
        return 1;
    }
    auto current = image->blk->length();
    if (!current) {
        error_report("Failed to inquire current image length: " + current.error().desc);
        return 1;
    }
    // QEMU computes in wrapping 64-bit arithmetic, so sizes of 8 EiB and more come out negative.
    uint64_t amount = parsed->value;
    uint64_t total_bits = sign == 0 ? amount
        : sign > 0                  ? static_cast<uint64_t>(*current) + amount
                                    : static_cast<uint64_t>(*current) - amount;
    int64_t total = static_cast<int64_t>(total_bits);
    if (total <= 0) {
        error_report("New image size must be positive");
        return 1;
    }
    if (total <= *current && prealloc != block::Prealloc::Off) {
        error_report("Preallocation can only be used for growing images");
        return 1;
    }
    if (total < *current && !shrink) {
        error_report("Use the --shrink option to perform a shrink operation.");
        warn_report("Shrinking an image will delete all data beyond the shrunken image's end. Before performing such "
                    "an operation, make sure there is no important data there.");
        return 1;
    }
    auto resized = image->blk->truncate(total, prealloc);
    if (!resized) {
        error_report(resized.error().desc);
        return 1;
    }
    qprintf(quiet, "Image resized.\n");
    return 0;
}

}  // namespace qemu::img
