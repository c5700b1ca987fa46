// The `file` protocol driver: opening through qemu_open (so /dev/fdset/N works), its
// options, and positioned vectored I/O with the O_DIRECT alignment rules handled here by
// bounce buffers, so the layers above may issue any request.
#include "block/file-posix.h"
#include "block/iov.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "block/drivers.h"

namespace qemu::block::file_posix {

namespace {

std::unexpected<Error> io_error(int err)
{
    return make_errno_error(err);
}

Result<Locking> parse_locking(std::optional<std::string> text)
{
    if (!text || *text == "auto") {
        return Locking::Auto;
    }
    if (*text == "on") {
        return Locking::On;
    }
    if (*text == "off") {
        return Locking::Off;
    }
    return make_error("invalid parameter value: " + *text);
}

// Whether a pread of `len` bytes at 0 into buf works under O_DIRECT; EINVAL means misaligned.
bool io_aligned(int fd, uint8_t* buf, size_t len)
{
    ssize_t ret = ::pread(fd, buf, len, 0);
    return ret >= 0 || errno != EINVAL;
}

// With O_DIRECT the kernel wants aligned requests; find the smallest size that works,
// the way QEMU does when the device cannot tell (trial reads).
void probe_alignment(FileState& s)
{
    constexpr std::array<int64_t, 5> kSizes = {1, 512, 1024, 2048, 4096};
    constexpr size_t kMax = 4096;
    AlignedBuffer buf = aligned_buffer(kMax, 2 * kMax);
    if (!buf) {
        s.request_align = s.buf_align = kMax;
        return;
    }
    s.request_align = kMax;
    for (int64_t size : kSizes) {
        if (io_aligned(s.fd.get(), buf.get(), size)) {
            s.request_align = size == 1 ? kMax : size;
            break;
        }
    }
    s.buf_align = kMax;
    for (int64_t align : kSizes) {
        if (io_aligned(s.fd.get(), buf.get() + align, kMax)) {
            s.buf_align = align == 1 ? kMax : align;
            break;
        }
    }
    // A file shorter than the probe reads 0 bytes whatever the alignment; be safe.
    s.request_align = std::max<int64_t>(s.request_align, 512);
    s.buf_align = std::max<int64_t>(s.buf_align, 512);
}

// raw_open_common: the file, host_device and host_cdrom drivers differ only in the kind
// of file they accept and the flags they add (host_cdrom: O_NONBLOCK, so that an empty
// drive opens).
Result<void> posix_open(
    BlockNode& node, BlockOptions& options, const OpenContext& context, bool device, int extra_flags = 0)
{
    Locking locking = TRY(parse_locking(take_string(options, "locking")));
    AioMode aio = TRY(parse_aio(node, take_string(options, "aio")));
    // Accepted for compatibility: submissions are batched per poll whatever this says.
    take_string(options, "aio-max-batch");
    take_string(options, "drop-cache");
    take_string(options, "x-check-cache-dropped");
    if (auto pr = take_string(options, "pr-manager")) {
        return make_error("No persistent reservation manager with id '" + *pr + "'");
    }

    auto state = std::make_unique<FileState>();
    state->aio = aio;
    // raw_parse_flags: an auto-read-only node opens read-only and stays read-write in name;
    // check_perm asks for a writable descriptor when a writer arrives.
    bool writable = node.flags().read_write && !node.flags().auto_read_only;
    int flags = (writable ? O_RDWR : O_RDONLY) | extra_flags;
    if (node.flags().cache_direct) {
        flags |= O_DIRECT;
    }
    auto opened = qemu_open(context, node.filename(), flags);
    if (!opened) {
        return std::unexpected(std::move(opened).error());
    }
    state->fd = std::move(*opened);
    state->open_flags = flags;

    struct stat st { };
    if (fstat(state->fd.get(), &st) < 0) {
        return make_errno_error(errno, "Could not stat file");
    }
    if (!device && !S_ISREG(st.st_mode)) {
        return make_error("'file' driver requires '" + node.filename() + "' to be a regular file");
    }
    if (device && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
        return make_error("'" + std::string(node.driver().format_name) + "' driver requires '" + node.filename() +
            "' to be either a character or block device");
    }
    state->is_block_device = S_ISBLK(st.st_mode);
    // Linux always has OFD locks, so auto means on.
    state->use_lock = locking != Locking::Off;
    if (flags & O_DIRECT) {
        probe_alignment(*state);
    }
    node.set_state(std::move(state));
    return {};
}

Result<void> file_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    return posix_open(node, options, context, false);
}

Result<void> hdev_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    return posix_open(node, options, context, true);
}

Result<void> cdrom_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    return posix_open(node, options, context, true, O_NONBLOCK);
}

void file_close(BlockNode& node)
{
    file_reopen_abort(node);
    FileState& s = state_of(node);
    lock_release(s);
    s.fd.close();
}

Result<int64_t> file_get_length(BlockNode& node)
{
    struct stat st { };
    if (fstat(state_of(node).fd.get(), &st) < 0) {
        return io_error(errno);
    }
    return static_cast<int64_t>(st.st_size);
}

}  // namespace

// Reads or writes the whole iovec at offset, retrying short transfers. A read that meets
// EOF fills the rest with zeros, which is what the block layer promises past a file's end.
// A DurableWrite (FUA) is made durable by the write itself (RWF_DSYNC: one system call
// instead of a write and an fdatasync), or by an fdatasync where the kernel refuses the flag.
Result<void> transfer(int fd, Direction direction, int64_t offset, std::span<const iovec> iov_in)
{
    bool is_write = direction != Direction::Read;
    bool fua = direction == Direction::DurableWrite;
    std::vector<iovec> iov(iov_in.begin(), iov_in.end());
    bool sync_after = false;
    size_t index = 0;
    while (index < iov.size()) {
        if (iov[index].iov_len == 0) {
            ++index;
            continue;
        }
        int count = static_cast<int>(std::min<size_t>(iov.size() - index, IOV_MAX));
        ssize_t done = !is_write ? ::preadv(fd, &iov[index], count, offset)
            : fua                ? ::pwritev2(fd, &iov[index], count, offset, RWF_DSYNC)
                                 : ::pwritev(fd, &iov[index], count, offset);
        if (done < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (fua && (errno == EOPNOTSUPP || errno == EINVAL)) {
                fua = false;
                sync_after = true;
                continue;
            }
            return io_error(errno);
        }
        if (done == 0) {
            if (is_write) {
                return io_error(ENOSPC);
            }
            for (; index < iov.size(); ++index) {
                std::memset(iov[index].iov_base, 0, iov[index].iov_len);
            }
            return {};
        }
        offset += done;
        auto left = static_cast<size_t>(done);
        while (left > 0 && left >= iov[index].iov_len) {
            left -= iov[index].iov_len;
            ++index;
        }
        if (left > 0) {
            iov[index].iov_base = static_cast<uint8_t*>(iov[index].iov_base) + left;
            iov[index].iov_len -= left;
        }
    }
    if (sync_after && fdatasync(fd) < 0) {
        return io_error(errno);
    }
    return {};
}

bool request_aligned(const FileState& s, int64_t offset, std::span<const iovec> iov)
{
    if (offset % s.request_align) {
        return false;
    }
    for (const iovec& v : iov) {
        if (reinterpret_cast<uintptr_t>(v.iov_base) % s.buf_align || v.iov_len % s.request_align) {
            return false;
        }
    }
    return true;
}

namespace {

// O_DIRECT with a misaligned request: go through an aligned buffer that covers it, reading
// the partial head and tail first when writing.
Result<void> bounce(FileState& s, Direction direction, int64_t offset, std::span<const iovec> iov)
{
    bool is_write = direction != Direction::Read;
    size_t bytes = iov_size(iov);
    int64_t start = offset / s.request_align * s.request_align;
    int64_t end = (offset + static_cast<int64_t>(bytes) + s.request_align - 1) / s.request_align * s.request_align;
    size_t span_len = static_cast<size_t>(end - start);
    AlignedBuffer buf = aligned_buffer(std::max(s.buf_align, s.request_align), span_len);
    if (!buf) {
        return io_error(ENOMEM);
    }
    iovec whole{buf.get(), span_len};
    bool partial = start != offset || end != offset + static_cast<int64_t>(bytes);
    if (!is_write || partial) {
        TRY_VOID(transfer(s.fd.get(), Direction::Read, start, std::span(&whole, 1)));
    }
    uint8_t* cursor = buf.get() + (offset - start);
    for (const iovec& v : iov) {
        if (is_write) {
            std::memcpy(cursor, v.iov_base, v.iov_len);
        } else {
            std::memcpy(v.iov_base, cursor, v.iov_len);
        }
        cursor += v.iov_len;
    }
    if (is_write) {
        TRY_VOID(transfer(s.fd.get(), direction, start, std::span(&whole, 1)));
    }
    return {};
}

}  // namespace

Result<void> file_rw(BlockNode& node, Direction direction, int64_t offset, std::span<const iovec> iov)
{
    FileState& s = state_of(node);
    if (!(s.open_flags & O_DIRECT)) {
        return transfer(s.fd.get(), direction, offset, iov);
    }
    if (!request_aligned(s, offset, iov)) {
        wait_for_workers(s);
        std::unique_lock alone(s.direct_io_lock);
        quiesce_async(s);
        auto done = bounce(s, direction, offset, iov);
        s.bouncing = false;
        return done;
    }
    std::shared_lock shared(s.direct_io_lock);
    return transfer(s.fd.get(), direction, offset, iov);
}

namespace {

Result<void> file_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    return file_rw(node, Direction::Read, offset, iov);
}

Result<void> file_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    return file_rw(node, flags.fua ? Direction::DurableWrite : Direction::Write, offset, iov);
}

Result<int64_t> file_get_allocated_file_size(BlockNode& node)
{
    struct stat st { };
    if (fstat(state_of(node).fd.get(), &st) < 0) {
        return io_error(errno);
    }
    return static_cast<int64_t>(st.st_blocks) * 512;
}

Result<DriverInfo> file_get_info(BlockNode&)
{
    return DriverInfo{};
}

Result<void> file_flush(BlockNode& node)
{
    if (fdatasync(state_of(node).fd.get()) < 0) {
        return io_error(errno);
    }
    return {};
}

// Zeroing through fallocate or an ioctl has no FUA of its own: a flush follows it.
template <Result<void> (*Zero)(BlockNode&, int64_t, int64_t, RequestFlags)>
Result<void> write_zeroes_fua(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags)
{
    TRY_VOID(Zero(node, offset, bytes, flags));
    return flags.fua ? file_flush(node) : Result<void>{};
}

}  // namespace

void set_direct_alignment(FileState& s)
{
    if (s.open_flags & O_DIRECT) {
        probe_alignment(s);
    } else {
        s.request_align = s.buf_align = 1;
    }
}

// raw_create_opts of file-posix: no defaults, so only what -o gives is printed.
constexpr CreateOptionDesc kFileCreateOpts[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
    {"nocow", CreateOptType::Bool, "Turn off copy-on-write (valid only on btrfs)"},
    {"preallocation", CreateOptType::String, "Preallocation mode (allowed values: off, falloc, full)"},
    {"extent_size_hint", CreateOptType::Size, "Extent size hint for the image file, 0 to disable"},
};

constexpr CreateOptionDesc kHdevCreateOpts[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
    {"preallocation", CreateOptType::String, "Preallocation mode (allowed values: off)"},
};

}  // namespace qemu::block::file_posix

namespace qemu::block {

const BlockDriver kFileDriver = {
    .format_name = "file",
    .protocol_name = "file",
    .passes_fua = true,
    .concurrency = Concurrency::Full,
    .open = file_posix::file_open,
    .reopen_prepare = file_posix::file_reopen_prepare,
    .reopen_commit = file_posix::file_reopen_commit,
    .reopen_abort = file_posix::file_reopen_abort,
    .host_access = file_posix::file_host_access,
    .close = file_posix::file_close,
    .preadv = file_posix::file_preadv,
    .pwritev = file_posix::file_pwritev,
    .flush = file_posix::file_flush,
    .aio_preadv = file_posix::file_aio_preadv,
    .aio_pwritev = file_posix::file_aio_pwritev,
    .discard = file_posix::file_discard,
    .write_zeroes = file_posix::write_zeroes_fua<file_posix::file_write_zeroes>,
    .block_status = file_posix::file_block_status,
    .truncate = file_posix::file_truncate,
    .get_length = file_posix::file_get_length,
    .get_info = file_posix::file_get_info,
    .discard_stats = file_posix::file_discard_stats,
    .get_allocated_file_size = file_posix::file_get_allocated_file_size,
    .create = file_posix::file_create,
    .create_opts = file_posix::kFileCreateOpts,
    .check_perm = file_posix::file_check_perm,
    .set_perm = file_posix::lock_set_perm,
};

// host_device: the same I/O on a block or character device, no block status (everything
// is data), sizes from lseek, and no way to grow.
const BlockDriver kHostDeviceDriver = {
    .format_name = "host_device",
    .protocol_name = "host_device",
    .passes_fua = true,
    .concurrency = Concurrency::Full,
    .probe_device = file_posix::hdev_probe_device,
    .open = file_posix::hdev_open,
    .reopen_prepare = file_posix::file_reopen_prepare,
    .reopen_commit = file_posix::file_reopen_commit,
    .reopen_abort = file_posix::file_reopen_abort,
    .host_access = file_posix::file_host_access,
    .close = file_posix::file_close,
    .preadv = file_posix::file_preadv,
    .pwritev = file_posix::file_pwritev,
    .flush = file_posix::file_flush,
    .aio_preadv = file_posix::file_aio_preadv,
    .aio_pwritev = file_posix::file_aio_pwritev,
    .discard = file_posix::hdev_discard,
    .write_zeroes = file_posix::write_zeroes_fua<file_posix::hdev_write_zeroes>,
    .truncate = file_posix::hdev_truncate,
    .get_length = file_posix::hdev_get_length,
    .get_info = file_posix::file_get_info,
    .discard_stats = file_posix::file_discard_stats,
    .get_allocated_file_size = file_posix::file_get_allocated_file_size,
    .create = file_posix::hdev_create,
    .create_opts = file_posix::kHdevCreateOpts,
    .check_perm = file_posix::file_check_perm,
    .set_perm = file_posix::lock_set_perm,
};

// host_cdrom: host_device for a CD-ROM drive, opened even when it has no disc. It is
// only ever named: QEMU's probe asks the drive with an ioctl, which would mean opening
// a path outside qemu_open. Nothing is created on a drive.
const BlockDriver kHostCdromDriver = {
    .format_name = "host_cdrom",
    .protocol_name = "host_cdrom",
    .passes_fua = true,
    .concurrency = Concurrency::Full,
    .open = file_posix::cdrom_open,
    .reopen_prepare = file_posix::file_reopen_prepare,
    .reopen_commit = file_posix::file_reopen_commit,
    .reopen_abort = file_posix::file_reopen_abort,
    .host_access = file_posix::file_host_access,
    .close = file_posix::file_close,
    .preadv = file_posix::file_preadv,
    .pwritev = file_posix::file_pwritev,
    .flush = file_posix::file_flush,
    .aio_preadv = file_posix::file_aio_preadv,
    .aio_pwritev = file_posix::file_aio_pwritev,
    .discard = file_posix::hdev_discard,
    .write_zeroes = file_posix::write_zeroes_fua<file_posix::hdev_write_zeroes>,
    .truncate = file_posix::hdev_truncate,
    .get_length = file_posix::hdev_get_length,
    .get_info = file_posix::file_get_info,
    .get_allocated_file_size = file_posix::file_get_allocated_file_size,
    .check_perm = file_posix::file_check_perm,
    .set_perm = file_posix::lock_set_perm,
};

}  // namespace qemu::block
