// Reopening open nodes with other options (QEMU's bdrv_reopen). What a protocol holds on
// the host (file and host_device: the descriptor) is changed through the driver's reopen
// capability (BlockDriver::reopen_prepare/commit/abort), so for a /dev/fdset/N name the
// set member with the wanted mode is duplicated. auto-read-only (read-only until somebody
// writes) and blockdev-reopen are built on this; nothing here knows a driver by name.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "block/block.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu::block {

// Whether the host resources under `node` are open for writing.
bool has_write_access(BlockNode& node);

// What the host access of one node with the reopen capability should become.
struct FileAccess {
    BlockNode* file;
    bool read_write;
    std::optional<bool> direct;  // unchanged when not given
};

// A change of host access under way: every node's driver has prepared it (the new
// descriptors are open and locked beside the old ones). Destroying it commits (the new
// ones take over, the old are unlocked and closed); undo() aborts instead, so the new ones
// go. Neither can fail.
class FileAccessChange {
public:
    FileAccessChange() = default;
    FileAccessChange(FileAccessChange&&) = default;
    FileAccessChange& operator=(FileAccessChange&&) = delete;
    ~FileAccessChange();
    void undo();

private:
    friend Result<FileAccessChange> change_file_access(BlockGraph& graph, std::span<const FileAccess> wanted);
    std::vector<BlockNode*> m_prepared;
};

// Prepares every node's new access (for file and host_device a descriptor opened through
// qemu_open and locked, where the access mode or O_DIRECT differs); on failure the ones
// prepared are aborted and nothing changes.
Result<FileAccessChange> change_file_access(BlockGraph& graph, std::span<const FileAccess> wanted);

// blockdev-reopen of one node: `options` is its complete new option set (flattened, the
// child as "file" naming a node or as a "file.*" subtree). What the node and its driver
// can change (read-only, auto-read-only, cache.*, discard, detect-zeroes, driver options
// such as raw's offset/size) takes the new values, options left out their defaults; any
// other difference fails with QEMU's "Cannot change the option 'X'" and changes nothing.
Result<void> reopen(BlockNode& node, BlockOptions options);

// bdrv_reopen_set_read_only: the same node with every option kept but read-only or
// read-write (its children that inherit from it follow), as blockdev-snapshot leaves the
// old image and change-backing-file opens a backing image for its write.
Result<void> reopen_set_read_only(BlockNode& node, bool read_only);

}  // namespace qemu::block
