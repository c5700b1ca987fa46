// The name QEMU shows for a node (bdrv_refresh_filename): its file's name, or, when the
// node or one below it was given options that change what the image is (the drivers'
// strong_runtime_opts), a json: name listing them. Members are in QEMU's QDict order.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "block/block.h"

namespace qemu::block {

// QEMU prints a QDict (a json: name, a check report) from its hash table, bucket by bucket
// in the order of this hash of the key, so our output lists keys in that order too.
unsigned qdict_bucket(std::string_view key);

// A JSON value with every object's members reordered as a QDict lists them.
JsonValue qdict_ordered(const JsonValue& value);

// bdrv_image_info_specific_dump: the "data" of an ImageInfoSpecific, one member a line,
// '-' in keys shown as ' ', nested values indented by 4 per level.
std::string dump_format_specific(const JsonValue& specific);

// {"key": value, ...} with the members (values already JSON text) in QDict order.
std::string qdict_json_object(std::vector<std::pair<std::string, std::string>> members);

// The JSON text of a strong option's value as given, or nothing if it was not given; the
// key is dotted from the top node ("size", "file.size").
using OptionRenderer = std::function<std::optional<std::string>(BlockNode& node, const std::string& dotted_key)>;

// The json: object of `node` (without "json:"), or nothing when it has a plain name.
std::optional<std::string> json_filename(BlockNode& node, const OptionRenderer& render);

// What the node was opened with, typed as QMP and json: give options (numbers, booleans).
std::optional<std::string> render_open_option(BlockNode& node, const std::string& dotted_key);

// Gives the node its json: name where it needs one (done by the graph after each open).
void refresh_filename(BlockNode& node);

}  // namespace qemu::block
