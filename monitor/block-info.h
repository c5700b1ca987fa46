// What query-block and query-named-block-nodes report about a node, shared with HMP's
// `info block`.
#pragma once

#include "block/block-backend.h"
#include "block/block.h"
#include "qapi/qapi-types.h"

namespace qemu::monitor {

// bdrv_block_device_info: `blk` is the backend above the node, if any (its write cache
// setting is the one reported).
qapi::BlockDeviceInfo block_device_info(block::BlockNode& node, block::BlockBackend* blk);

}  // namespace qemu::monitor
