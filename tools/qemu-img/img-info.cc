// qemu-img info and map: the subcommands that open one image read-only and describe it
// (its size and format, its allocation).
#include <getopt.h>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-image-info.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

namespace {

// --output=human|json.
std::optional<bool> parse_output_json(const char* text)
{
    std::string_view value = text ? text : "human";
    if (value == "json") {
        return true;
    }
    if (value == "human") {
        return false;
    }
    error_report("--output must be used with human or json as argument.");
    return std::nullopt;
}

struct MapEntry {
    int64_t start = 0;
    int64_t length = 0;
    int depth = 0;
    bool data = false;
    bool zero = false;
    bool present = false;
    bool has_offset = false;
    int64_t offset = 0;
    std::optional<std::string> filename;
};

Result<MapEntry> map_status(block::BlockNode& root, int64_t offset, int64_t bytes)
{
    // Down the backing chain to the first layer that has data or zeroes for the range.
    block::BlockNode* layer = &root;
    int depth = 0;
    block::BlockStatus status;
    for (;;) {
        status = TRY(layer->block_status(true, offset, bytes));
        if (status.bytes == 0) {
            return make_error("Invalid argument");
        }
        bytes = status.bytes;
        if (status.flags & (block::status::kData | block::status::kZero)) {
            break;
        }
        layer = layer->backing();
        if (!layer) {
            // Neither data nor zeroes, and no backing file to ask: QEMU's get_block_status
            // reports nothing at all, an offset the driver gave (null-co's) included.
            status.flags = 0;
            break;
        }
        depth++;
    }
    MapEntry entry{.start = offset,
        .length = status.bytes,
        .depth = depth,
        .data = (status.flags & block::status::kData) != 0,
        .zero = (status.flags & block::status::kZero) != 0,
        .present = (status.flags & block::status::kAllocated) != 0,
        .has_offset = (status.flags & block::status::kOffsetValid) != 0,
        .offset = status.map};
    if (status.file && entry.has_offset) {
        entry.filename = status.file->filename();
    }
    return entry;
}

bool mergeable(const MapEntry& curr, const MapEntry& next)
{
    if (curr.length == 0) {
        return false;
    }
    if (curr.depth != next.depth || curr.zero != next.zero || curr.data != next.data || curr.present != next.present ||
        curr.has_offset != next.has_offset || curr.filename != next.filename) {
        return false;
    }
    return !curr.has_offset || curr.offset + curr.length == next.offset;
}

bool dump_map_entry(bool json, const MapEntry& entry, bool last)
{
    if (json) {
        std::printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", \"depth\": %d, \"present\": %s, \"zero\": %s, "
                    "\"data\": %s",
            entry.start, entry.length, entry.depth, entry.present ? "true" : "false", entry.zero ? "true" : "false",
            entry.data ? "true" : "false");
        if (entry.has_offset) {
            std::printf(", \"offset\": %" PRId64, entry.offset);
        }
        std::printf("}%s\n", last ? "]" : ",");
        return true;
    }
    if (entry.data && !entry.has_offset) {
        error_report("File contains external, encrypted or compressed clusters.");
        return false;
    }
    if (entry.data && !entry.zero) {
        std::printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", static_cast<uint64_t>(entry.start),
            static_cast<uint64_t>(entry.length), static_cast<uint64_t>(entry.has_offset ? entry.offset : 0),
            entry.filename.value_or("").c_str());
    }
    return true;
}

}  // namespace

int img_info(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"format", required_argument, nullptr, 'f'},
        {"output", required_argument, nullptr, kOptOutput},
        {"backing-chain", no_argument, nullptr, kOptBackingChain},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request{.no_io = true};
    const char* output = nullptr;
    bool chain = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:hU", kLongOptions, nullptr)) != -1) {
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
        case 'U':
            request.force_share = true;
            break;
        case kOptOutput:
            output = optarg;
            break;
        case kOptBackingChain:
            chain = true;
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
    auto json = parse_output_json(output);
    if (!json) {
        return 1;
    }
    request.no_backing = true;
    // collect_image_info_list: each image of the chain is opened on its own, without its
    // backing file, by the full name the one above gives and with the format it names.
    std::vector<ImageInfo> infos;
    std::set<std::string> seen;
    for (;;) {
        if (!seen.insert(request.name).second) {
            error_report("Backing file '" + request.name + "' creates an infinite loop.");
            return 1;
        }
        auto image = open_image(request);
        if (!image) {
            error_report(image.error().desc);
            return 1;
        }
        block::BlockNode& root = image->root();
        auto length = image->blk->length();
        if (!length) {
            error_report(length.error().desc);
            return 1;
        }
        auto info = query_image_info(root, image_display_name(root, request), *length);
        if (!info) {
            error_report(info.error().desc);
            return 1;
        }
        infos.push_back(std::move(*info));
        const ImageInfo& last = infos.back();
        if (!chain || !last.backing_filename) {
            break;
        }
        if (!last.full_backing_filename) {
            error_report("Could not determine absolute backing filename, but backing filename '" +
                         *last.backing_filename + "' present");
            return 1;
        }
        request.name = *last.full_backing_filename;
        request.image_opts = false;
        if (last.backing_filename_format) {
            request.format = *last.backing_filename_format;
        }
    }
    if (*json) {
        if (chain) {
            JsonValue list = JsonValue::array();
            for (const ImageInfo& info : infos) {
                list.push_back(image_info_json(info));
            }
            std::printf("%s\n", json_pretty(list).c_str());
        } else {
            std::printf("%s\n", json_pretty(image_info_json(infos.front())).c_str());
        }
        return 0;
    }
    for (size_t i = 0; i < infos.size(); ++i) {
        std::printf("%s%s", i ? "\n" : "", image_info_human(infos[i]).c_str());
    }
    return 0;
}

int img_map(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"format", required_argument, nullptr, 'f'},
        {"output", required_argument, nullptr, kOptOutput},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {"start-offset", required_argument, nullptr, kOptStartOffset},
        {"max-length", required_argument, nullptr, kOptMaxLength},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request;
    const char* output = nullptr;
    int64_t start_offset = 0;
    std::optional<int64_t> max_length;
    int c;
    while ((c = getopt_long(argc, argv, ":f:hU", kLongOptions, nullptr)) != -1) {
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
        case 'U':
            request.force_share = true;
            break;
        case kOptOutput:
            output = optarg;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptImageOpts:
            request.image_opts = true;
            break;
        case kOptStartOffset:
        case kOptMaxLength: {
            auto value = cvtnum(c == kOptStartOffset ? "start offset" : "max length", optarg);
            if (!value) {
                error_report(value.error().desc);
                return 1;
            }
            (c == kOptStartOffset ? start_offset : max_length.emplace()) = *value;
            break;
        }
        default:
            break;
        }
    }
    if (optind != argc - 1) {
        return usage_error("Expecting one image file name");
    }
    request.name = argv[optind];
    auto json = parse_output_json(output);
    if (!json) {
        return 1;
    }
    auto image = open_image(request);
    if (!image) {
        error_report(image.error().desc);
        return 1;
    }
    if (*json) {
        std::printf("[");
    } else {
        std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    }
    auto total = image->blk->length();
    if (!total) {
        error_report(total.error().desc);
        return 1;
    }
    int64_t length = *total;
    if (max_length && *max_length < length - start_offset) {
        length = start_offset + *max_length;
    }
    MapEntry curr{.start = start_offset};
    while (curr.start + curr.length < length) {
        int64_t offset = curr.start + curr.length;
        int64_t bytes = std::min<int64_t>(int64_t{1} << 30, length - offset);
        auto next = map_status(image->root(), offset, bytes);
        if (!next) {
            error_report("Could not read file metadata: " + next.error().desc);
            return 1;
        }
        if (mergeable(curr, *next)) {
            curr.length += next->length;
            continue;
        }
        if (curr.length > 0 && !dump_map_entry(*json, curr, false)) {
            return 1;
        }
        curr = std::move(*next);
    }
    return dump_map_entry(*json, curr, true) ? 0 : 1;
}

}  // namespace qemu::img
