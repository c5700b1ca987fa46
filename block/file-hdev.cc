// The host_device protocol (QEMU's hdev_*): a block or character device opened through
// qemu_open like any file, but sized by lseek, discarded and zeroed with the block-device
// ioctls, never grown, and "created" by opening what is already there.
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "block/drivers.h"
#include "block/file-posix.h"

namespace qemu::block::file_posix {

namespace {

std::unexpected<Error> io_error(int err)
{
    return make_errno_error(err);
}

// The errnos QEMU folds into ENOTSUP (no such operation on this device).
bool is_unsupported(int err)
{
    return err == ENOTSUP || err == EOPNOTSUPP || err == ENODEV || err == ENOSYS || err == ENOTTY;
}

}  // namespace

int hdev_probe_device(std::string_view filename)
{
    // stat only looks; the device is opened later through qemu_open. /dev/fdset/N is no
    // device node, so fd sets always go to the file driver.
    struct stat st { };
    if (::stat(std::string(filename).c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
        return 100;
    }
    return 0;
}

Result<int64_t> hdev_get_length(BlockNode& node)
{
    off_t size = ::lseek(state_of(node).fd.get(), 0, SEEK_END);
    if (size < 0) {
        return io_error(errno);
    }
    return static_cast<int64_t>(size);
}

Result<void> hdev_discard(BlockNode& node, int64_t offset, int64_t bytes)
{
    FileState& s = state_of(node);
    if (!s.is_block_device) {
        return file_discard(node, offset, bytes);
    }
    uint64_t range[2] = {static_cast<uint64_t>(offset), static_cast<uint64_t>(bytes)};
    Result<void> done;
    if (::ioctl(s.fd.get(), BLKDISCARD, range) != 0) {
        done = io_error(is_unsupported(errno) ? ENOTSUP : errno);
    }
    account_discard(s, bytes, done);
    return done;
}

Result<void> hdev_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags)
{
    FileState& s = state_of(node);
    // BLKZEROOUT goes around the page cache, so QEMU only uses it with O_DIRECT; otherwise
    // the generic layer writes zero buffers.
    if (!s.is_block_device || !(s.open_flags & O_DIRECT)) {
        return io_error(ENOTSUP);
    }
    uint64_t range[2] = {static_cast<uint64_t>(offset), static_cast<uint64_t>(bytes)};
    if (::ioctl(s.fd.get(), BLKZEROOUT, range) != 0) {
        return io_error(is_unsupported(errno) ? ENOTSUP : errno);
    }
    return {};
}

Result<void> hdev_truncate(BlockNode& node, int64_t offset, Prealloc prealloc)
{
    if (prealloc != Prealloc::Off) {
        return make_error("Unsupported preallocation mode '" + std::string(prealloc_name(prealloc)) + "'");
    }
    // A device keeps its size; asking for another one is what qemu-img resize does (exact).
    int64_t length = TRY(hdev_get_length(node));
    if (offset != length) {
        return std::unexpected(Error{ErrorClass::GenericError, "Cannot resize device files", ENOTSUP});
    }
    return {};
}

Result<void> hdev_create(const OpenContext& context, const CreateOptions& options)
{
    // bdrv_co_create_opts_simple: no creation, only a check that the device is there and
    // large enough.
    if (auto it = options.opts.find("preallocation"); it != options.opts.end()) {
        auto mode = parse_prealloc(it->second);
        if (!mode) {
            return make_error("invalid parameter value: " + it->second);
        }
        if (*mode != Prealloc::Off) {
            return make_error("Unsupported preallocation mode '" + it->second + "'");
        }
    }
    BlockGraph graph(context);
    auto node = graph.open(options.filename, {{"driver", "host_device"}}, OpenFlags{.read_write = true});
    if (!node) {
        return make_error("Protocol driver 'host_device' does not support image creation, and opening the image "
                          "failed: " +
            node.error().desc);
    }
    int64_t length = TRY((*node)->length());
    if (options.size > static_cast<uint64_t>(length)) {
        return make_error("Cannot grow device files");
    }
    return {};
}

}  // namespace qemu::block::file_posix
