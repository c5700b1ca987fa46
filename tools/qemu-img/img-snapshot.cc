// qemu-img snapshot: internal snapshots. Neither raw nor file can hold any, so listing shows
// nothing and every change fails with QEMU's message for such a driver.
#include <getopt.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"

namespace qemu::img {

namespace {

enum class SnapshotAction { None, List, Apply, Create, Delete };

}  // namespace

int img_snapshot(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request{.read_write = true};
    SnapshotAction action = SnapshotAction::None;
    std::string name;
    int c;
    // QEMU 7.2 takes no -f here: the format is always probed.
    while ((c = getopt_long(argc, argv, ":la:c:d:hqU", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'l':
        case 'a':
        case 'c':
        case 'd':
            if (action != SnapshotAction::None) {
                return usage_error("Cannot mix '-l', '-a', '-c', '-d'");
            }
            action = c == 'l' ? SnapshotAction::List
                : c == 'a'    ? SnapshotAction::Apply
                : c == 'c'    ? SnapshotAction::Create
                              : SnapshotAction::Delete;
            if (c == 'l') {
                request.read_write = false;
            } else {
                name = optarg;
            }
            break;
        case 'q':
            break;
        case 'U':
            request.force_share = true;
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
    if (optind != argc - 1) {
        return usage_error("Expecting one image file name");
    }
    request.name = argv[optind];
    auto image = open_image(request);
    if (!image) {
        error_report(image.error().desc);
        return 1;
    }
    switch (action) {
    case SnapshotAction::None:
    case SnapshotAction::List:
        return 0;
    case SnapshotAction::Create:
        error_report("Could not create snapshot '" + name + "': " + std::to_string(-ENOTSUP) + " (" +
            std::strerror(ENOTSUP) + ")");
        return 1;
    case SnapshotAction::Apply:
        // Without snapshot support QEMU tries the layer below, closing and reopening this one,
        // so a probed raw image warns a second time.
        if (image->root().flags().probed) {
            const std::string& file = image->root().filename();
            std::fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, write operations "
                "on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                file.c_str());
        }
        error_report("Could not apply snapshot '" + name + "': Block driver does not support snapshots");
        return 1;
    case SnapshotAction::Delete:
        error_report("Could not delete snapshot '" + name + "': snapshot not found");
        return 1;
    }
    return 1;
}

}  // namespace qemu::img
