// The `raw` format: the image is the guest disk byte for byte, optionally a window
// (`offset`, `size`) of its file. When raw was only guessed by probing, writes that would
// make sector 0 look like another format are refused, as QEMU does, so a guest cannot
// turn its disk into, say, a vmdk that names host files.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "block/block.h"
#include "block/drivers.h"
#include "block/iov.h"
#include "util/aio-context.h"

namespace qemu::block {

namespace {

struct RawState : DriverState {
    uint64_t offset = 0;
    uint64_t size = 0;
    bool has_size = false;
};

int raw_probe(std::span<const uint8_t>, std::string_view)
{
    return 1;  // anything is a raw image, so raw wins only when nothing else does
}

Result<void> raw_open(BlockNode& node, BlockOptions& options, const OpenContext&)
{
    auto offset = TRY(take_size(options, "offset"));
    auto size = TRY(take_size(options, "size"));
    BlockNode* file = node.file();
    auto file_length = file->length();
    if (!file_length) {
        return std::unexpected(std::move(file_length.error().prepend("Could not get image size: ")));
    }
    int64_t real_size = *file_length;
    auto state = std::make_unique<RawState>();
    state->offset = offset.value_or(0);
    if (state->offset > static_cast<uint64_t>(real_size)) {
        return make_error("Offset (" + std::to_string(state->offset) +
            ") cannot be greater than size of the containing file (" + std::to_string(real_size) + ")");
    }
    if (size && static_cast<uint64_t>(real_size) - state->offset < *size) {
        return make_error("The sum of offset (" + std::to_string(state->offset) + ") and size (" +
            std::to_string(*size) + ") has to be smaller or equal to the  actual size of the containing file (" +
            std::to_string(real_size) + ")");
    }
    if (size && *size % kSectorSize) {
        return make_error("Specified size is not multiple of 512");
    }
    state->has_size = size.has_value();
    state->size = size.value_or(real_size - state->offset);
    node.set_state(std::move(state));
    return {};
}

Result<void> raw_first_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    TRY_VOID(raw_open(node, options, context));
    // Without a window raw passes everything through like a filter; with one (as QEMU
    // decides at open, not at a reopen) its file holds data the users do not see whole.
    const RawState& s = node.state<RawState>();
    if (s.offset || s.has_size) {
        node.set_child_role("file", child_role::kData | child_role::kPrimary);
    }
    return {};
}

// raw_child_perm: write and resize on the file only as the users take them, whatever the
// role would add. (Raw has no backing file of its own; one given by hand keeps its rules.)
void raw_child_perm(const BlockNode&, const BdrvChild& child, uint64_t parent_perm, uint64_t& perm, uint64_t&)
{
    if (child.role & child_role::kCow) {
        return;
    }
    perm &= ~(perm::kWrite | perm::kResize);
    perm |= parent_perm & (perm::kWrite | perm::kResize);
}

Result<int64_t> raw_get_length(BlockNode& node)
{
    RawState& s = node.state<RawState>();
    if (s.has_size) {
        return static_cast<int64_t>(s.size);
    }
    int64_t len = TRY(node.file()->length());
    return std::max<int64_t>(len - static_cast<int64_t>(s.offset), 0);
}

Result<void> raw_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    blkdbg_event(node.file(), BlkdebugEvent::ReadAio);
    return node.file()->preadv(offset + node.state<RawState>().offset, iov, flags);
}

// A probed raw image must not get a sector 0 that probes as something else.
Result<void> check_probed_write(BlockNode& node, int64_t offset, std::span<const iovec> iov)
{
    std::vector<uint8_t> sector(kProbeBufSize);
    iovec whole{sector.data(), sector.size()};
    TRY_VOID(raw_preadv(node, 0, std::span(&whole, 1), {}));
    int64_t at = offset;
    for (const iovec& v : iov) {
        const auto* src = static_cast<const uint8_t*>(v.iov_base);
        for (size_t i = 0; i < v.iov_len && at < static_cast<int64_t>(kProbeBufSize); ++i, ++at) {
            sector[at] = src[i];
        }
        if (at >= static_cast<int64_t>(kProbeBufSize)) {
            break;
        }
    }
    if (probe_format(sector, node.filename()) != &kRawDriver) {
        return make_errno_error(EPERM);
    }
    return {};
}

Result<void> raw_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    RawState& s = node.state<RawState>();
    auto bytes = static_cast<uint64_t>(iov_size(iov));
    if (s.has_size && (static_cast<uint64_t>(offset) > s.size || bytes > s.size - offset)) {
        return make_errno_error(ENOSPC);
    }
    if (node.flags().probed && offset < static_cast<int64_t>(kProbeBufSize) && bytes > 0) {
        TRY_VOID(check_probed_write(node, offset, iov));
    }
    blkdbg_event(node.file(), BlkdebugEvent::WriteAio);
    return node.file()->pwritev(offset + s.offset, iov, flags);
}

// A blkdebug file may suspend a request at its event until `resume`. Only a request on a
// worker can wait there (as QEMU's coroutine does), so the synchronous path on a worker
// serves those, not the asynchronous forms below, whose events fire on the caller's thread.
bool file_takes_breakpoints(BlockNode& node)
{
    return node.file()->driver().debug_breakpoint != nullptr;
}

// The asynchronous forms: the same checks, then the file's own asynchronous request.
bool raw_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done)
{
    if (file_takes_breakpoints(node)) {
        return false;
    }
    blkdbg_event(node.file(), BlkdebugEvent::ReadAio);
    node.file()->aio_preadv(ctx, offset + node.state<RawState>().offset, iov, flags, std::move(done));
    return true;
}

bool raw_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done)
{
    if (file_takes_breakpoints(node)) {
        return false;
    }
    RawState& s = node.state<RawState>();
    auto bytes = static_cast<uint64_t>(iov_size(iov));
    Result<void> refused;
    if (s.has_size && (static_cast<uint64_t>(offset) > s.size || bytes > s.size - offset)) {
        refused = make_errno_error(ENOSPC);
    } else if (node.flags().probed && offset < static_cast<int64_t>(kProbeBufSize) && bytes > 0) {
        refused = check_probed_write(node, offset, iov);
    }
    if (!refused) {
        complete_later(ctx, done, std::move(refused));
        return true;
    }
    blkdbg_event(node.file(), BlkdebugEvent::WriteAio);
    node.file()->aio_pwritev(ctx, offset + s.offset, iov, flags, std::move(done));
    return true;
}

Result<void> raw_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags)
{
    RawState& s = node.state<RawState>();
    if (s.has_size && (static_cast<uint64_t>(offset) > s.size || static_cast<uint64_t>(bytes) > s.size - offset)) {
        return make_errno_error(ENOSPC);
    }
    if (node.flags().probed && offset < static_cast<int64_t>(kProbeBufSize) && bytes > 0) {
        std::vector<uint8_t> zeroes(std::min<int64_t>(bytes, kProbeBufSize));
        iovec one{zeroes.data(), zeroes.size()};
        TRY_VOID(check_probed_write(node, offset, std::span(&one, 1)));
    }
    return node.file()->pwrite_zeroes(offset + s.offset, bytes, flags);
}

Result<void> raw_discard(BlockNode& node, int64_t offset, int64_t bytes)
{
    RawState& s = node.state<RawState>();
    if (s.has_size && (static_cast<uint64_t>(offset) > s.size || static_cast<uint64_t>(bytes) > s.size - offset)) {
        return make_errno_error(ENOSPC);
    }
    return node.file()->discard(offset + s.offset, bytes);
}

Result<BlockStatus> raw_block_status(BlockNode& node, bool, int64_t offset, int64_t bytes)
{
    BlockStatus result;
    result.flags = status::kRaw | status::kOffsetValid;
    result.bytes = bytes;
    result.map = offset + static_cast<int64_t>(node.state<RawState>().offset);
    result.file = node.file();
    return result;
}

Result<void> raw_truncate(BlockNode& node, int64_t offset, Prealloc prealloc)
{
    RawState& s = node.state<RawState>();
    if (s.has_size) {
        return std::unexpected(Error{ErrorClass::GenericError, "Cannot resize fixed-size raw disks", ENOTSUP});
    }
    if (INT64_MAX - offset < static_cast<int64_t>(s.offset)) {
        return make_error("Disk size too large for the chosen offset");
    }
    return node.file()->truncate(offset + static_cast<int64_t>(s.offset), prealloc);
}

// Whatever the file says (QEMU's raw_get_info): a null-co file has no answer, so neither
// has raw over it.
Result<DriverInfo> raw_get_info(BlockNode& node)
{
    return node.file()->info();
}

Result<void> raw_create(const OpenContext& context, const CreateOptions& options)
{
    // bdrv_create_file: the protocol the filename selects creates the image.
    const BlockDriver* protocol = protocol_for_filename(options.filename);
    if (!protocol) {
        return make_error("Unknown protocol '" + std::string(*protocol_prefix(options.filename)) + "'");
    }
    return protocol->create(context, options);
}

constexpr std::string_view kRawReopenKeys[] = {"offset", "size"};
// The window is what the guest sees, so it is part of the image's name.
constexpr std::string_view kRawStrongOpts[] = {"offset", "size"};

Result<MeasureInfo> raw_measure(int64_t virtual_size)
{
    int64_t required = (virtual_size + kSectorSize - 1) / kSectorSize * kSectorSize;
    return MeasureInfo{.required = required, .fully_allocated = required};
}

std::string raw_probed_write_warning(const std::string& filename)
{
    return "WARNING: Image format was not specified for '" + filename +
        "' and probing guessed raw.\n"
        "         Automatically detecting the format is dangerous for raw images, write operations on block 0 "
        "will be restricted.\n"
        "         Specify the 'raw' format explicitly to remove the restrictions.\n";
}

constexpr CreateOptionDesc kRawCreateOpts[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
};

}  // namespace

const BlockDriver kRawDriver = {
    .format_name = "raw",
    .strong_runtime_opts = kRawStrongOpts,
    .is_filter_like = true,
    .passes_fua = true,
    .concurrency = Concurrency::Full,
    .probe = raw_probe,
    .open = raw_first_open,
    // Opening again over the same child checks and swaps the window, or changes nothing.
    .reopen = raw_open,
    .reopen_keys = kRawReopenKeys,
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .aio_preadv = raw_aio_preadv,
    .aio_pwritev = raw_aio_pwritev,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .get_length = raw_get_length,
    .get_info = raw_get_info,
    .create = raw_create,
    .create_opts = kRawCreateOpts,
    .measure = raw_measure,
    .probed_write_warning = raw_probed_write_warning,
    .child_perm = raw_child_perm,
};

}  // namespace qemu::block
