// What query-block and query-named-block-nodes report about a node, shared with HMP's
// `info block`.
#pragma once

#include "block/block-backend.h"
#include "block/block.h"
#include "qapi/qapi-types.h"

namespace qemu::monitor {

// bdrv_query_image_info: one node's ImageInfo, its format-specific part and the backing
// file it names included.
qapi::ImageInfo image_info(block::BlockNode& node);

// bdrv_block_device_info: `blk` is the backend above the node, if any (its write cache
// setting is the one reported); `flat` leaves the backing chain out of the count.
qapi::BlockDeviceInfo block_device_info(block::BlockNode& node, block::BlockBackend* blk, bool flat = false);

}  // namespace qemu::monitor
