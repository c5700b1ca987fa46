// BlockdevOptions (blockdev-add, blockdev-reopen, -blockdev in JSON) to the block layer's
// flat dotted-key options, as QEMU flattens its QDict before bdrv_open. This is the one
// way the generated option types reach a driver: no code here knows any driver's options.
#pragma once

#include <string>

#include "block/block.h"
#include "qapi/qapi-types.h"
#include "qobject/json.h"
#include "util/error.h"

namespace qemu::block {

// `path` names the value in error messages ("" for a command's arguments).
Result<BlockOptions> flatten_blockdev_options(const qapi::BlockdevOptions& options, const std::string& path = "");

// Strictly decodes a BlockdevOptions object (QEMU's texts for missing, unexpected and
// mistyped members), then flattens it.
Result<BlockOptions> blockdev_options_from_json(const JsonValue& value, const std::string& path = "");

// A BlockdevRef at `path` (a node's name, or nested options decoded strictly) as
// `out[key]` or the flat `out[key.*]`, as BlockDevices::open_ref takes it.
Result<void> flatten_blockdev_ref(
    const JsonValue& ref, const std::string& key, const std::string& path, BlockOptions& out);

}  // namespace qemu::block
