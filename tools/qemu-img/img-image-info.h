// What qemu-img info reports about one image (bdrv_query_image_info's ImageInfo) and the two
// ways it prints it: bdrv_image_info_dump's human text and the JSON object, both with
// QEMU's member order (the JSON comes from a QDict, so its members, and those of the
// format-specific data, are in QDict hash order; the human dump walks the same QDict).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "block/block.h"
#include "qobject/json.h"

namespace qemu::img {

struct ImageInfo {
    std::string filename;
    std::string format;
    int64_t virtual_size = 0;
    std::optional<int64_t> actual_size;
    std::optional<int64_t> cluster_size;
    std::optional<bool> dirty_flag;  // only from drivers that answer bdrv_get_info
    std::optional<JsonValue> format_specific;  // {"type": ..., "data": {...}}
    std::optional<std::string> backing_filename;
    std::optional<std::string> full_backing_filename;
    std::optional<std::string> backing_filename_format;
};

// bdrv_query_image_info for an open node; `filename` is the name to show for it.
Result<ImageInfo> query_image_info(block::BlockNode& node, std::string filename, int64_t virtual_size);

// The ImageInfo as a JSON object whose members are in the order QEMU prints them.
JsonValue image_info_json(const ImageInfo& info);

// qobject_to_json_pretty of such a value.
std::string json_pretty(const JsonValue& value);

// bdrv_image_info_dump: "image: ...\n" up to the format-specific block.
std::string image_info_human(const ImageInfo& info);


}  // namespace qemu::img
