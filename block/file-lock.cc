// Image locking for the `file` driver, on the same bytes QEMU uses so that our tools and a
// real QEMU see each other: a shared OFD lock on byte 100+bit for each permission a node
// holds and on byte 200+bit for each permission it refuses to share. Byte 0 is libvirt's.
// A conflict is found by asking (F_OFD_GETLK) whether an exclusive lock would be refused.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "block/file-posix.h"

namespace qemu::block::file_posix {

namespace {

constexpr int kPermBase = 100;
constexpr int kSharedBase = 200;

int ofd_lock(int fd, int byte, short type)
{
    struct flock fl { };
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    fl.l_type = type;
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

// 0 if nobody else holds a lock on the byte, -EAGAIN if someone does.
int ofd_test(int fd, int byte)
{
    struct flock fl { };
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    fl.l_type = F_WRLCK;
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return -errno;
    }
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

std::unexpected<Error> lock_error(int err, std::string text)
{
    if (err == EAGAIN) {
        return std::unexpected(Error{ErrorClass::GenericError, std::move(text), err});
    }
    return make_errno_error(err, std::move(text));
}

std::string hint(const BlockNode& node)
{
    return "\nIs another process using the image [" + node.filename() + "]?";
}

}  // namespace

Result<void> apply_lock_bytes(int fd, uint64_t held, uint64_t not_shared, bool unlock)
{
    for (int bit = 0; bit < perm::kCount; ++bit) {
        uint64_t mask = uint64_t{1} << bit;
        int byte = kPermBase + bit;
        int ret = 0;
        if (held & mask) {
            ret = ofd_lock(fd, byte, F_RDLCK);
        } else if (unlock) {
            ret = ofd_lock(fd, byte, F_UNLCK);
        }
        if (ret < 0) {
            return lock_error(-ret, "Failed to lock byte " + std::to_string(byte));
        }
    }
    for (int bit = 0; bit < perm::kCount; ++bit) {
        uint64_t mask = uint64_t{1} << bit;
        int byte = kSharedBase + bit;
        int ret = 0;
        if (not_shared & mask) {
            ret = ofd_lock(fd, byte, F_RDLCK);
        } else if (unlock) {
            ret = ofd_lock(fd, byte, F_UNLCK);
        }
        if (ret < 0) {
            return lock_error(-ret, "Failed to lock byte " + std::to_string(byte));
        }
    }
    return {};
}

Result<void> check_lock_bytes(int fd, uint64_t wanted, uint64_t shared)
{
    for (int bit = 0; bit < perm::kCount; ++bit) {
        if (!(wanted & (uint64_t{1} << bit))) {
            continue;
        }
        int ret = ofd_test(fd, kSharedBase + bit);
        if (ret < 0) {
            return lock_error(-ret, "Failed to get \"" + std::string(perm::name(bit)) + "\" lock");
        }
    }
    for (int bit = 0; bit < perm::kCount; ++bit) {
        if (shared & (uint64_t{1} << bit)) {
            continue;
        }
        int ret = ofd_test(fd, kPermBase + bit);
        if (ret < 0) {
            return lock_error(-ret, "Failed to get shared \"" + std::string(perm::name(bit)) + "\" lock");
        }
    }
    return {};
}

Result<void> lock_check_perm(BlockNode& node, uint64_t wanted, uint64_t shared)
{
    FileState& s = state_of(node);
    if (!s.use_lock) {
        return {};
    }
    uint64_t old_perm = s.locked_perm;
    uint64_t old_shared = s.locked_shared;
    // Only dropping permissions cannot conflict with anybody.
    if ((old_perm | wanted) == old_perm && (old_shared & shared) == old_shared) {
        return {};
    }
    // Take the union first so that nobody slips in between the check and the commit.
    auto applied = apply_lock_bytes(s.fd.get(), old_perm | wanted, (~old_shared | ~shared) & perm::kAll, false);
    if (applied) {
        auto checked = check_lock_bytes(s.fd.get(), wanted, shared);
        if (checked) {
            return {};
        }
        applied = std::unexpected(std::move(checked).error());
        applied.error().append_hint(hint(node));
    }
    (void)apply_lock_bytes(s.fd.get(), old_perm, ~old_shared & perm::kAll, true);
    return applied;
}

void lock_set_perm(BlockNode& node, uint64_t wanted, uint64_t shared)
{
    FileState& s = state_of(node);
    if (!s.use_lock) {
        return;
    }
    (void)apply_lock_bytes(s.fd.get(), wanted, ~shared & perm::kAll, true);
    s.locked_perm = wanted;
    s.locked_shared = shared;
}

void lock_release(FileState& s)
{
    // An fd-set duplicate shares its open file description (and so its OFD locks) with the
    // set's member, so closing it would not drop them: unlock explicitly.
    if (s.use_lock && s.fd.valid()) {
        (void)apply_lock_bytes(s.fd.get(), 0, 0, true);
    }
    s.locked_perm = 0;
    s.locked_shared = perm::kAll;
}

}  // namespace qemu::block::file_posix
