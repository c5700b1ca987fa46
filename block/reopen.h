// Changing the access mode of open nodes (QEMU's raw_reconfigure_getfd): the file
// protocol's descriptor is replaced by a new one from qemu_open, so for a /dev/fdset/N
// name the set member with the wanted mode is duplicated. This is what auto-read-only
// (read-only until somebody writes) and blockdev-reopen are built on.
#pragma once

#include "block/block.h"
#include "util/error.h"

namespace qemu::block {

// Whether the descriptors under `node` are open for writing.
bool has_write_access(BlockNode& node);

// Reopens every file-protocol descriptor under `node` (the node itself and its children)
// O_RDWR or O_RDONLY, keeping the image locks; on failure nothing changes.
Result<void> reopen_file_access(BlockNode& node, bool read_write);

}  // namespace qemu::block
