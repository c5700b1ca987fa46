// qemu-img create and measure: the two subcommands that only need create options and a
// size, not an open image (measure may look at one).
#include <cerrno>
#include <getopt.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include "block/drivers.h"
#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

namespace {

// bdrv_img_create's look at the backing file: it must open (read-only, sharing everything,
// with its own backing chain), its format must be given, and it gives the size when none
// was. -u skips the open. Returns the exit status after reporting, 0 to go on.
int check_backing(CreateRequest& request, bool unsafe)
{
    auto fail = [&](std::string_view message) {
        error_report(request.filename + ": " + std::string(message));
        return 1;
    };
    auto backing_file = request.opts.find("backing_file");
    if (backing_file == request.opts.end()) {
        return 0;
    }
    const std::string& backing = backing_file->second;
    if (backing == request.filename) {
        return fail("Error: Trying to create an image with the same filename as the backing file");
    }
    if (backing.empty()) {
        return fail("Expected backing file name, got empty string");
    }
    std::optional<std::string> backing_format;
    if (auto it = request.opts.find("backing_fmt"); it != request.opts.end()) {
        backing_format = it->second;
    }
    if (unsafe) {
        if (!backing_format) {
            return fail("Backing file specified without backing format");
        }
        return 0;
    }
    // bdrv_get_full_backing_filename_from_filename.
    std::string full = backing;
    size_t stop = backing.find_first_of(":/");
    bool plain_relative = !backing.starts_with('/') && (stop == std::string::npos || backing[stop] != ':');
    if (plain_relative) {
        if (request.filename.empty() || request.filename.starts_with("json:")) {
            return fail("Cannot use relative backing file names for '" + request.filename + "'");
        }
        full = qemu_path_combine(request.filename, backing);
    }
    block::BlockGraph graph(open_context());
    block::BlockOptions options{{"force-share", "on"}};
    if (backing_format) {
        options.emplace("driver", *backing_format);
    }
    auto opened = graph.open(full, std::move(options), block::OpenFlags{.force_share = true});
    if (!opened) {
        error_report(request.filename + ": " + opened.error().desc);
        std::fputs("Could not open backing image.\n", stderr);
        return 1;
    }
    if (!backing_format) {
        error_report(request.filename + ": Backing file specified without backing format");
        std::fprintf(stderr, "Detected format of %s.", std::string((*opened)->driver().format_name).c_str());
        return 1;
    }
    if (!request.size) {
        auto length = (*opened)->length();
        if (!length) {
            return fail("Could not get size of '" + backing + "': " + length.error().desc);
        }
        request.size = static_cast<uint64_t>(*length);
    }
    return 0;
}

}  // namespace

int img_create(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {nullptr, 0, nullptr, 0},
    };
    std::string format = "raw";
    std::optional<std::string> options;
    std::optional<std::string> backing;
    std::optional<std::string> backing_format;
    bool quiet = false;
    bool unsafe = false;
    int c;
    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'F':
            backing_format = optarg;
            break;
        case 'b':
            backing = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report(std::string("Invalid option list: ") + optarg);
                return 1;
            }
            options = accumulate_options(options, optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            unsafe = true;
            break;
        case kOptObject:
            return object_option(optarg);
        default:
            break;
        }
    }
    std::optional<std::string> filename;
    if (optind < argc) {
        filename = argv[optind];
    }
    if (options && has_help_option(*options)) {
        return print_create_help(format, filename);
    }
    if (!filename) {
        return usage_error("Expecting image file name");
    }
    optind++;
    std::optional<int64_t> size;
    if (optind < argc) {
        auto parsed = cvtnum("image size", argv[optind++]);
        if (!parsed) {
            error_report(parsed.error().desc);
            return 1;
        }
        size = *parsed;
    }
    if (optind != argc) {
        return usage_error(std::string("Unexpected argument: ") + argv[optind]);
    }

    auto fail = [&](std::string_view message) {
        error_report(*filename + ": " + std::string(message));
        return 1;
    };
    const block::BlockDriver* driver = block::find_driver(format);
    if (!driver) {
        return fail("Unknown file format '" + format + "'");
    }
    if (!driver->create) {
        return fail("Format driver '" + format + "' does not support image creation");
    }
    CreateRequest request{.filename = *filename, .format = format};
    if (options) {
        auto parsed = parse_create_options(*options, request);
        if (!parsed) {
            return fail(parsed.error().desc);
        }
    }
    if (!request.size) {
        if (size) {
            request.size = static_cast<uint64_t>(*size);
        }
    } else if (size) {
        return fail("The image size must be specified only once");
    }
    if (auto added = add_old_style_options(request, backing, backing_format); !added) {
        return fail(added.error().desc);
    }
    if (int status = check_backing(request, unsafe); status != 0) {
        return status;
    }
    // QEMU reads the size back as a signed number where -1 means "none given".
    if (!request.size || *request.size == UINT64_MAX) {
        return fail("Image creation needs a size parameter");
    }
    if (!quiet) {
        std::printf("%s\n", formatting_line(request).c_str());
        std::fflush(stdout);
    }
    auto created = block::create_image(open_context(), request);
    if (!created) {
        // bdrv_img_create's wording for EFBIG; convert and dd create through bdrv_create,
        // which passes the driver's own text on.
        if (created.error().errno_value == EFBIG) {
            return fail("The image size is too large for file format '" + format + "'");
        }
        return fail(created.error().desc);
    }
    return 0;
}

int img_measure(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"object", required_argument, nullptr, kOptObject},
        {"output", required_argument, nullptr, kOptOutput},
        {"size", required_argument, nullptr, kOptSize},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    std::optional<std::string> format;
    std::string out_format = "raw";
    std::optional<std::string> options;
    std::optional<std::string> snapshot;
    std::optional<int64_t> size;
    bool image_opts = false;
    bool force_share = false;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "hf:O:o:l:U", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case '?':
        case 'h':
            return print_help();
        case 'f':
            format = optarg;
            break;
        case 'O':
            out_format = optarg;
            break;
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report(std::string("Invalid option list: ") + optarg);
                return 1;
            }
            options = accumulate_options(options, optarg);
            break;
        case 'l':
            snapshot = optarg;
            break;
        case 'U':
            force_share = true;
            break;
        case kOptImageOpts:
            image_opts = true;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptOutput:
            if (std::string_view(optarg) == "json") {
                json = true;
            } else if (std::string_view(optarg) == "human") {
                json = false;
            } else {
                error_report("--output must be used with human or json as argument.");
                return 1;
            }
            break;
        case kOptSize: {
            auto parsed = cvtnum("image size", optarg);
            if (!parsed) {
                error_report(parsed.error().desc);
                return 1;
            }
            size = *parsed;
            break;
        }
        default:
            break;
        }
    }
    std::optional<std::string> filename;
    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        return 1;
    }
    if (argc - optind == 1) {
        filename = argv[optind];
    }
    if (!filename && (image_opts || format || snapshot)) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        return 1;
    }
    if (filename && size) {
        error_report("--size N cannot be used together with a filename.");
        return 1;
    }
    if (!filename && !size) {
        error_report("Either --size N or one filename must be specified.");
        return 1;
    }
    int64_t virtual_size = 0;
    if (filename) {
        if (snapshot) {
            error_report("Failed to load snapshot: This image format does not support snapshots");
            return 1;
        }
        auto image =
            open_image({.name = *filename, .format = format, .image_opts = image_opts, .force_share = force_share});
        if (!image) {
            error_report(image.error().desc);
            return 1;
        }
        auto length = image->blk->length();
        if (!length) {
            error_report(length.error().desc);
            return 1;
        }
        virtual_size = *length;
    }
    const block::BlockDriver* driver = block::find_driver(out_format);
    if (!driver) {
        error_report("Unknown file format '" + out_format + "'");
        return 1;
    }
    if (!driver->create) {
        error_report("Format driver '" + out_format + "' does not support image creation");
        return 1;
    }
    // As in QEMU, the options are checked before the driver is asked to measure.
    CreateRequest request{.format = out_format};
    if (options) {
        auto parsed = parse_create_options(*options, request);
        if (!parsed) {
            error_report(parsed.error().desc);
            error_report("Invalid options for file format '" + out_format + "'");
            return 1;
        }
    }
    if (!driver->measure) {
        error_report("Block driver '" + out_format + "' does not support size measurement");
        return 1;
    }
    if (size) {
        virtual_size = *size;
    } else if (!filename) {
        virtual_size = static_cast<int64_t>(request.size.value_or(0));
    }
    auto measured = driver->measure(virtual_size);
    if (!measured) {
        error_report(measured.error().desc);
        return 1;
    }
    if (json) {
        std::printf("{\n    \"required\": %lld,\n    \"fully-allocated\": %lld\n}\n",
            static_cast<long long>(measured->required), static_cast<long long>(measured->fully_allocated));
    } else {
        std::printf("required size: %lld\nfully allocated size: %lld\n", static_cast<long long>(measured->required),
            static_cast<long long>(measured->fully_allocated));
    }
    return 0;
}

}  // namespace qemu::img
