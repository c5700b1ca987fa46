// Replacing a file node's descriptor with one of another access mode, through qemu_open.
#include "block/reopen.h"

#include <fcntl.h>

#include <utility>
#include <vector>

#include "block/drivers.h"
#include "block/file-posix.h"

namespace qemu::block {

namespace {

void collect_file_nodes(BlockNode& node, std::vector<BlockNode*>& out)
{
    if (&node.driver() == &kFileDriver) {
        out.push_back(&node);
        return;
    }
    for (BdrvChild& child : node.children()) {
        collect_file_nodes(*child.node, out);
    }
}

int access_flags(bool read_write)
{
    return read_write ? O_RDWR : O_RDONLY;
}

}  // namespace

bool has_write_access(BlockNode& node)
{
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);
    for (BlockNode* file : files) {
        if ((file_posix::state_of(*file).open_flags & O_ACCMODE) != O_RDWR) {
            return false;
        }
    }
    return true;
}

Result<void> reopen_file_access(BlockNode& node, bool read_write)
{
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);

    // Open every new descriptor first, so that a set lacking the mode changes nothing.
    std::vector<QemuFd> fresh;
    for (BlockNode* file : files) {
        file_posix::FileState& s = file_posix::state_of(*file);
        if ((s.open_flags & O_ACCMODE) == access_flags(read_write)) {
            fresh.emplace_back();
            continue;
        }
        int flags = (s.open_flags & ~O_ACCMODE) | access_flags(read_write);
        fresh.push_back(TRY(qemu_open(node.graph().context(), file->filename(), flags)));
    }
    for (size_t i = 0; i < files.size(); ++i) {
        if (!fresh[i].valid()) {
            continue;
        }
        file_posix::FileState& s = file_posix::state_of(*files[i]);
        if (s.use_lock) {
            // The new descriptor takes over the locks before the old one lets go of them,
            // so no other process can take a conflicting lock in between.
            (void)file_posix::apply_lock_bytes(fresh[i].get(), s.locked_perm, ~s.locked_shared & perm::kAll, false);
            (void)file_posix::apply_lock_bytes(s.fd.get(), 0, 0, true);
        }
        s.open_flags = (s.open_flags & ~O_ACCMODE) | access_flags(read_write);
        // The old descriptor is closed here (an fd-set duplicate goes back to its set).
        s.fd = std::move(fresh[i]);
    }
    return {};
}

}  // namespace qemu::block
