// qemu-img amend: changing a format's options in place. Neither raw nor file has options
// that can be amended, so this parses the command line as QEMU does and refuses.
#include <getopt.h>

#include <optional>
#include <string>

#include "block/drivers.h"
#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"

namespace qemu::img {

namespace {

// print_amend_option_help for the drivers built here: none supports amendment.
int refuse_amend(const std::string& format)
{
    if (!block::find_driver(format)) {
        error_report("Unknown file format '" + format + "'");
        return 1;
    }
    error_report("Format driver '" + format + "' does not support option amendment");
    return 1;
}

}  // namespace

int img_amend(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force", no_argument, nullptr, kOptForce},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request{.read_write = true};
    std::optional<std::string> options;
    std::string cache = "writeback";
    bool progress_wanted = false;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report(std::string("Invalid option list: ") + optarg);
                return 1;
            }
            options = accumulate_options(options, optarg);
            break;
        case 'f':
            request.format = optarg;
            break;
        case 't':
            cache = optarg;
            break;
        case 'p':
            progress_wanted = true;
            break;
        case 'q':
            quiet = true;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptImageOpts:
            request.image_opts = true;
            break;
        default:
            break;
        }
    }
    if (!options) {
        return usage_error("Must specify options (-o)");
    }
    Progress progress(progress_wanted && !quiet, 1.0f);
    int ret = [&]() -> int {
        // With an explicit format, help needs no image.
        if (request.format && has_help_option(*options)) {
            return refuse_amend(*request.format);
        }
        if (optind != argc - 1) {
            error_report("Expecting one image file name");
            return 1;
        }
        request.name = argv[argc - 1];
        auto mode = parse_cache_mode(cache);
        if (!mode) {
            error_report("Invalid cache option: " + cache);
            return 1;
        }
        request.cache = *mode;
        auto image = open_image(request);
        if (!image) {
            error_report(image.error().desc);
            return 1;
        }
        return refuse_amend(std::string(image->root().driver().format_name));
    }();
    progress.end();
    return ret;
}

}  // namespace qemu::img
