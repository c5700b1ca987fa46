// Reopening the file and host_device protocols (bdrv_reopen_prepare/commit/abort): a new
// descriptor from qemu_open for another access mode or O_DIRECT, so that for a
// /dev/fdset/N name the set's member with the wanted mode is duplicated. It is opened and
// locked beside the old one, which stays in use until the reopen commits.
#include <fcntl.h>

#include <utility>

#include "block/file-posix.h"

namespace qemu::block::file_posix {

namespace {

int flags_for(int current, HostAccess wanted)
{
    int flags = (current & ~(O_ACCMODE | O_DIRECT)) | (wanted.read_write ? O_RDWR : O_RDONLY);
    return wanted.direct ? flags | O_DIRECT : flags;
}

// Gives up a descriptor that may hold image locks. An fd-set duplicate shares its open
// file description, and so its locks, with the set's member, which stays open: the locks
// must go before the fd does. Unlocking read locks cannot conflict with anybody.
void release(const FileState& s, QemuFd fd)
{
    if (s.use_lock) {
        (void)apply_lock_bytes(fd.get(), 0, 0, true);
    }
    // fd closes here (an fd-set duplicate goes back to its set).
}

}  // namespace

HostAccess file_host_access(BlockNode& node)
{
    const FileState& s = state_of(node);
    return HostAccess{.read_write = (s.open_flags & O_ACCMODE) == O_RDWR, .direct = (s.open_flags & O_DIRECT) != 0};
}

Result<void> file_reopen_prepare(BlockNode& node, HostAccess wanted)
{
    FileState& s = state_of(node);
    if (s.pending_reopen) {
        release(s, std::move(s.pending_reopen->fd));
        s.pending_reopen.reset();
    }
    int flags = flags_for(s.open_flags, wanted);
    if (flags == s.open_flags) {
        return {};
    }
    QemuFd fd = TRY(qemu_open(node.graph().context(), node.filename(), flags));
    if (s.use_lock) {
        // QEMU's image locks are read locks, so the old and the new descriptor both hold
        // them until the reopen is committed: no other process can slip in between.
        auto locked = apply_lock_bytes(fd.get(), s.locked_perm, ~s.locked_shared & perm::kAll, false);
        if (!locked) {
            release(s, std::move(fd));
            return std::unexpected(locked.error());
        }
    }
    s.pending_reopen = FileState::PendingReopen{.fd = std::move(fd), .open_flags = flags};
    return {};
}

void file_reopen_commit(BlockNode& node)
{
    FileState& s = state_of(node);
    if (!s.pending_reopen) {
        return;
    }
    QemuFd old = std::exchange(s.fd, std::move(s.pending_reopen->fd));
    s.open_flags = s.pending_reopen->open_flags;
    s.pending_reopen.reset();
    set_direct_alignment(s);
    release(s, std::move(old));
}

void file_reopen_abort(BlockNode& node)
{
    FileState& s = state_of(node);
    if (!s.pending_reopen) {
        return;
    }
    QemuFd fresh = std::move(s.pending_reopen->fd);
    s.pending_reopen.reset();
    release(s, std::move(fresh));
}

Result<void> file_check_perm(BlockNode& node, uint64_t wanted, uint64_t shared)
{
    FileState& s = state_of(node);
    // raw_check_perm: an auto-read-only node has a writable descriptor exactly while some
    // user may write or resize through it. Write permission reopens it read-write and fails
    // as that open does (`Could not open 'X': Read-only file system`); when the last writer
    // leaves it goes back to read-only. QEMU fails the permission change if that second
    // open fails (an fd set without a read-only member, a sealed file system); ours keeps
    // the writable descriptor instead, as dropping a right must not fail.
    if (node.flags().auto_read_only && !node.read_only() && !s.pending_reopen) {
        bool writers = (wanted & (perm::kWrite | perm::kWriteUnchanged | perm::kResize)) != 0;
        if (writers != ((s.open_flags & O_ACCMODE) == O_RDWR)) {
            auto reopened =
                file_reopen_prepare(node, HostAccess{.read_write = writers, .direct = (s.open_flags & O_DIRECT) != 0});
            if (reopened) {
                file_reopen_commit(node);
            } else if (writers) {
                return reopened;
            }
        }
    }
    return lock_check_perm(node, wanted, shared);
}

}  // namespace qemu::block::file_posix
