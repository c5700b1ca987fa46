// Reopening open nodes with other options (QEMU's bdrv_reopen). The file protocol's
// descriptor is replaced by a new one from qemu_open when the access mode or O_DIRECT
// changes, so for a /dev/fdset/N name the set member with the wanted mode is duplicated.
// auto-read-only (read-only until somebody writes) and blockdev-reopen are built on this.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "block/block.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu::block {

// Whether the descriptors under `node` are open for writing.
bool has_write_access(BlockNode& node);

// What one file-protocol node's descriptor should become.
struct FileAccess {
    BlockNode* file;
    bool read_write;
    std::optional<bool> direct;  // unchanged when not given
};

// A change of descriptors under way (bdrv_reopen_prepare/commit/abort): the new ones are in
// place and locked, the old ones kept and still locked. Destroying it commits (the old
// descriptors are unlocked and closed); undo() puts the old ones back first, so the new
// ones go instead. Neither can fail.
class FileAccessChange {
public:
    FileAccessChange() = default;
    FileAccessChange(FileAccessChange&&) = default;
    FileAccessChange& operator=(FileAccessChange&&) = delete;
    ~FileAccessChange();
    void undo();

private:
    friend Result<FileAccessChange> change_file_access(BlockGraph& graph, std::span<const FileAccess> wanted);
    struct Swap {
        BlockNode* file;
        QemuFd old_fd;
        int old_flags;
    };
    std::vector<Swap> m_swaps;
};

// Opens (through qemu_open) and locks a descriptor for every file node whose access mode
// or O_DIRECT differs from what it wants, then swaps them in; on failure nothing changes.
Result<FileAccessChange> change_file_access(BlockGraph& graph, std::span<const FileAccess> wanted);

// Reopens every file-protocol descriptor under `node` (the node itself and its children)
// O_RDWR or O_RDONLY, and with or without O_DIRECT when `direct` is given, keeping the
// image locks; on failure nothing changes.
Result<void> reopen_file_access(BlockNode& node, bool read_write, std::optional<bool> direct = std::nullopt);

// blockdev-reopen of one node: `options` is its complete new option set (flattened, the
// child as "file" naming a node or as a "file.*" subtree). What the node and its driver
// can change (read-only, auto-read-only, cache.*, discard, detect-zeroes, driver options
// such as raw's offset/size) takes the new values, options left out their defaults; any
// other difference fails with QEMU's "Cannot change the option 'X'" and changes nothing.
Result<void> reopen(BlockNode& node, BlockOptions options);

}  // namespace qemu::block
