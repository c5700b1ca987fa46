// The `file` driver's space management: write-zeroes and discard through fallocate, resize
// with QEMU's preallocation modes, block status from SEEK_DATA/SEEK_HOLE, and create.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "block/file-posix.h"

namespace qemu::block::file_posix {

namespace {

std::unexpected<Error> io_error(int err)
{
    return make_errno_error(err);
}

int do_fallocate(int fd, int mode, int64_t offset, int64_t bytes)
{
    int ret;
    do {
        ret = ::fallocate(fd, mode, offset, bytes);
    } while (ret < 0 && errno == EINTR);
    if (ret == 0) {
        return 0;
    }
    // Filesystems say "unsupported" in several ways; callers only care that it is.
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
        return -ENOTSUP;
    }
    return -errno;
}

int64_t fd_size(int fd)
{
    struct stat st { };
    return fstat(fd, &st) < 0 ? -errno : static_cast<int64_t>(st.st_size);
}

// Growing an empty file allocates its first block, so O_DIRECT alignment probing later
// reads real data (QEMU's allocate_first_block); failures do not matter.
void allocate_first_block(int fd, int64_t max_size)
{
    size_t len = max_size < 4096 ? 512 : 4096;
    len = std::min<size_t>(len, static_cast<size_t>(std::max<int64_t>(max_size, 0)));
    if (len == 0) {
        return;
    }
    void* buf = nullptr;
    if (posix_memalign(&buf, 4096, len) != 0) {
        return;
    }
    std::memset(buf, 0, len);
    ssize_t ignored;
    do {
        ignored = ::pwrite(fd, buf, len, 0);
    } while (ignored < 0 && errno == EINTR);
    std::free(buf);
}

// find_allocation: the data extent or hole that offset is in, as [data, hole) positions.
int find_allocation(int fd, int64_t offset, int64_t* data, int64_t* hole)
{
    off_t d = lseek(fd, offset, SEEK_DATA);
    if (d < 0) {
        return -errno;  // ENXIO: offset is in the trailing hole
    }
    if (d > offset) {
        *data = d;
        *hole = offset;
        return 0;
    }
    off_t h = lseek(fd, offset, SEEK_HOLE);
    if (h < 0) {
        return -errno;
    }
    *data = offset;
    *hole = h;
    return 0;
}

}  // namespace

Result<void> file_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags)
{
    int fd = state_of(node).fd.get();
    if (flags.may_unmap) {
        int ret = do_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes);
        if (ret == 0) {
            return {};
        }
        if (ret != -ENOTSUP) {
            return io_error(-ret);
        }
    }
    int ret = do_fallocate(fd, FALLOC_FL_ZERO_RANGE, offset, bytes);
    if (ret == 0) {
        return {};
    }
    if (ret != -ENOTSUP) {
        return io_error(-ret);
    }
    // Punching and then allocating leaves the range zeroed and allocated.
    ret = do_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes);
    if (ret == 0) {
        ret = do_fallocate(fd, 0, offset, bytes);
        if (ret == 0 || ret == -ENOTSUP) {
            return {};
        }
        return io_error(-ret);
    }
    if (offset >= fd_size(fd)) {
        ret = do_fallocate(fd, 0, offset, bytes);
        if (ret == 0) {
            return {};
        }
    }
    return io_error(ENOTSUP);
}

Result<void> file_discard(BlockNode& node, int64_t offset, int64_t bytes)
{
    FileState& s = state_of(node);
    int ret = do_fallocate(s.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes);
    Result<void> done = ret < 0 ? io_error(-ret) : Result<void>{};
    account_discard(s, bytes, done);
    return done;
}

void account_discard(FileState& s, int64_t bytes, const Result<void>& done)
{
    if (done) {
        s.discard_nb_ok.fetch_add(1, std::memory_order_relaxed);
        s.discard_bytes_ok.fetch_add(static_cast<uint64_t>(bytes), std::memory_order_relaxed);
    } else {
        s.discard_nb_failed.fetch_add(1, std::memory_order_relaxed);
    }
}

DiscardStats file_discard_stats(BlockNode& node)
{
    const FileState& s = state_of(node);
    return DiscardStats{.nb_ok = s.discard_nb_ok.load(std::memory_order_relaxed),
        .nb_failed = s.discard_nb_failed.load(std::memory_order_relaxed),
        .bytes_ok = s.discard_bytes_ok.load(std::memory_order_relaxed)};
}

Result<void> truncate_fd(int fd, int64_t offset, Prealloc prealloc)
{
    int64_t current = fd_size(fd);
    if (current < 0) {
        return make_errno_error(static_cast<int>(-current), "Could not stat file");
    }
    if (current > offset && prealloc != Prealloc::Off) {
        return std::unexpected(
            Error{ErrorClass::GenericError, "Cannot use preallocation for shrinking files", ENOTSUP});
    }
    switch (prealloc) {
    case Prealloc::Off:
        if (ftruncate(fd, offset) != 0) {
            return make_errno_error(errno, "Could not resize file");
        }
        if (current == 0 && offset > 0) {
            allocate_first_block(fd, offset);
        }
        return {};
    case Prealloc::Falloc:
        if (offset != current) {
            int err = posix_fallocate(fd, current, offset - current);
            if (err != 0) {
                return make_errno_error(err, "Could not preallocate new data");
            }
            if (current == 0) {
                allocate_first_block(fd, offset);
            }
        }
        return {};
    case Prealloc::Full: {
        if (ftruncate(fd, offset) != 0) {
            return make_errno_error(errno, "Could not resize file");
        }
        std::vector<uint8_t> zeroes(65536);
        for (int64_t at = current; at < offset;) {
            size_t now = static_cast<size_t>(std::min<int64_t>(offset - at, zeroes.size()));
            ssize_t done = ::pwrite(fd, zeroes.data(), now, at);
            if (done < 0) {
                if (errno == EINTR) {
                    continue;
                }
                int err = errno;
                return make_errno_error(err, "Could not write zeros for preallocation");
            }
            at += done;
        }
        if (fsync(fd) < 0) {
            return make_errno_error(errno, "Could not flush file to disk");
        }
        return {};
    }
    case Prealloc::Metadata:
        break;
    }
    return std::unexpected(Error{
        ErrorClass::GenericError, "Unsupported preallocation mode: " + std::string(prealloc_name(prealloc)), ENOTSUP});
}

Result<void> file_truncate(BlockNode& node, int64_t offset, Prealloc prealloc)
{
    return truncate_fd(state_of(node).fd.get(), offset, prealloc);
}

Result<BlockStatus> file_block_status(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes)
{
    BlockStatus result;
    result.map = offset;
    result.file = &node;
    if (!want_zero) {
        result.flags = status::kData | status::kOffsetValid;
        result.bytes = bytes;
        return result;
    }
    FileState& s = state_of(node);
    int64_t data = 0;
    int64_t hole = 0;
    int ret = find_allocation(s.fd.get(), offset, &data, &hole);
    if (ret == -ENXIO) {
        result.flags = status::kZero;
        result.bytes = bytes;
    } else if (ret < 0) {
        // No information: everything is data.
        result.flags = status::kData;
        result.bytes = bytes;
    } else if (data == offset) {
        // A data extent may end in a partial sector at EOF; report whole units.
        int64_t unit = std::max<int64_t>(s.request_align, 1);
        result.bytes = (hole - offset + unit - 1) / unit * unit;
        result.flags = status::kData;
    } else {
        result.bytes = data - offset;
        result.flags = status::kZero;
    }
    result.bytes = std::min(result.bytes, bytes);
    result.flags |= status::kOffsetValid;
    return result;
}

Result<QemuFd> file_create_open(const OpenContext& context, const FileCreateParams& params)
{
    if (params.extent_size_hint > UINT32_MAX) {
        return make_error("Extent size hint is too large");
    }
    auto fd = qemu_open(context, params.filename, O_RDWR | O_CREAT, 0644);
    if (!fd) {
        // qemu_create's text.
        Error error = std::move(fd).error();
        std::string open_prefix = "Could not open '" + params.filename + "'";
        if (error.desc.starts_with(open_prefix)) {
            error.desc.replace(0, open_prefix.size(), "Could not create '" + params.filename + "'");
        }
        return std::unexpected(std::move(error));
    }
    // Creating writes and sets the size, so nobody else may resize meanwhile.
    uint64_t wanted = perm::kWrite | perm::kResize;
    uint64_t shared = perm::kAll & ~perm::kResize;
    TRY_VOID(apply_lock_bytes(fd->get(), wanted, ~shared & perm::kAll, false));
    auto locked = check_lock_bytes(fd->get(), wanted, shared);
    if (!locked) {
        Error e = std::move(locked).error();
        if (params.lock_hint) {
            e.desc += "\nIs another process using the image [" + params.filename + "]?";
        }
        return std::unexpected(std::move(e));
    }
    return fd;
}

Result<void> file_create_size(int fd, const FileCreateParams& params)
{
    TRY_VOID(truncate_fd(fd, 0, Prealloc::Off));
    if (params.nocow) {
        // Copy-on-write file systems (btrfs) fragment images badly; where the flag is not
        // known, nothing changes, as in QEMU.
        int attr = 0;
        if (::ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0) {
            attr |= FS_NOCOW_FL;
            ::ioctl(fd, FS_IOC_SETFLAGS, &attr);
        }
    }
    if (params.extent_size_hint != 0) {
        // A hint (XFS) the file system cannot take is no error.
        fsxattr attr{};
        if (::ioctl(fd, FS_IOC_FSGETXATTR, &attr) == 0) {
            attr.fsx_xflags |= FS_XFLAG_EXTSIZE;
            attr.fsx_extsize = static_cast<uint32_t>(params.extent_size_hint);
            ::ioctl(fd, FS_IOC_FSSETXATTR, &attr);
        }
    }
    if (params.prealloc == Prealloc::Metadata) {
        return make_error("Unsupported preallocation mode: metadata");
    }
    if (params.size > static_cast<uint64_t>(INT64_MAX)) {
        return make_error("Could not resize file: Invalid argument");
    }
    return truncate_fd(fd, static_cast<int64_t>(params.size), params.prealloc);
}

Result<void> file_create(const OpenContext& context, const CreateOptions& options)
{
    Prealloc prealloc = options.prealloc;
    if (auto it = options.opts.find("preallocation"); it != options.opts.end()) {
        auto mode = parse_prealloc(it->second);
        if (!mode) {
            return make_error("invalid parameter value: " + it->second);
        }
        prealloc = *mode;
    }
    // qemu-img rounds up to whole sectors; past INT64_MAX that overflows, where ftruncate
    // says EINVAL.
    uint64_t size = options.size > static_cast<uint64_t>(INT64_MAX) - (kSectorSize - 1)
        ? UINT64_MAX
        : (options.size + kSectorSize - 1) / kSectorSize * kSectorSize;
    FileCreateParams params{.filename = options.filename, .size = size, .prealloc = prealloc, .lock_hint = true};
    auto fd = TRY(file_create_open(context, params));
    return file_create_size(fd.get(), params);
}

}  // namespace qemu::block::file_posix
