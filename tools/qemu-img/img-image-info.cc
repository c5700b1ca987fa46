// qemu-img's ImageInfo: collecting it from a node and printing it (see img-image-info.h).
#include "tools/qemu-img/img-image-info.h"

#include <cinttypes>

#include "block/node-filename.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

Result<ImageInfo> query_image_info(block::BlockNode& node, std::string filename, int64_t virtual_size)
{
    ImageInfo info{.filename = std::move(filename),
        .format = std::string(node.driver().format_name),
        .virtual_size = virtual_size};
    if (auto size = node.allocated_file_size()) {
        info.actual_size = *size;
    }
    // A failing bdrv_get_info only leaves out what it would have told.
    if (auto got = node.info()) {
        if (got->cluster_size != 0) {
            info.cluster_size = got->cluster_size;
        }
        info.dirty_flag = false;
    }
    if (node.driver().get_specific_info) {
        info.format_specific = TRY(node.driver().get_specific_info(node));
    }
    if (!node.backing_file().empty()) {
        info.backing_filename = node.backing_file();
        if (auto full = block::full_backing_filename(node)) {
            info.full_backing_filename = *full;
        }
        if (!node.backing_format().empty()) {
            info.backing_filename_format = node.backing_format();
        }
    }
    return info;
}

JsonValue image_info_json(const ImageInfo& info)
{
    JsonValue out = JsonValue::object();
    out["filename"] = info.filename;
    out["format"] = info.format;
    if (info.dirty_flag) {
        out["dirty-flag"] = *info.dirty_flag;
    }
    if (info.actual_size) {
        out["actual-size"] = *info.actual_size;
    }
    out["virtual-size"] = info.virtual_size;
    if (info.cluster_size) {
        out["cluster-size"] = *info.cluster_size;
    }
    if (info.backing_filename) {
        out["backing-filename"] = *info.backing_filename;
    }
    if (info.full_backing_filename) {
        out["full-backing-filename"] = *info.full_backing_filename;
    }
    if (info.backing_filename_format) {
        out["backing-filename-format"] = *info.backing_filename_format;
    }
    if (info.format_specific) {
        out["format-specific"] = *info.format_specific;
    }
    return block::qdict_ordered(out);
}

std::string json_pretty(const JsonValue& value)
{
    return json_to_string(value, {.pretty = true});
}

std::string image_info_human(const ImageInfo& info)
{
    std::string out = "image: " + info.filename + "\nfile format: " + info.format +
                      "\nvirtual size: " + size_to_str(static_cast<uint64_t>(info.virtual_size)) + " (" +
                      std::to_string(info.virtual_size) + " bytes)\ndisk size: " +
                      (info.actual_size ? size_to_str(static_cast<uint64_t>(*info.actual_size)) : "unavailable") + "\n";
    if (info.cluster_size) {
        out += "cluster_size: " + std::to_string(*info.cluster_size) + "\n";
    }
    if (info.dirty_flag && *info.dirty_flag) {
        out += "cleanly shut down: no\n";
    }
    if (info.backing_filename) {
        out += "backing file: " + *info.backing_filename;
        if (!info.full_backing_filename) {
            out += " (cannot determine actual path)";
        } else if (*info.full_backing_filename != *info.backing_filename) {
            out += " (actual path: " + *info.full_backing_filename + ")";
        }
        out += "\n";
        if (info.backing_filename_format) {
            out += "backing file format: " + *info.backing_filename_format + "\n";
        }
    }
    if (info.format_specific) {
        out += "Format specific information:\n" + block::dump_format_specific(*info.format_specific);
    }
    return out;
}

}  // namespace qemu::img
