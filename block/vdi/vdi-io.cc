// Opening a vdi image and serving I/O: reads map each 1 MiB block through the block map
// (unmapped blocks read as zeros); a write to an unmapped block appends a whole new block
// at the end of the data area and then rewrites the header and the changed map sectors,
// in that order, as QEMU does, so the files the two produce are byte for byte the same.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "block/drivers.h"
#include "block/iov.h"
#include "block/vdi/vdi.h"
#include "util/aio-context.h"
#include "util/alloc.h"
#include "util/bswap.h"

namespace qemu::block::vdi {

namespace {

constexpr uint32_t kEntriesPerSector = kSectorSize / sizeof(uint32_t);

void zero_iov(std::span<const iovec> iov, size_t skip, size_t len)
{
    iov_zero(iov_slice(iov, skip, len));
}

// Requests past the disk never reach a driver through a backend; a node used directly
// must still not index past the map.
Result<void> check_range(const VdiState& s, int64_t offset, size_t bytes)
{
    if (offset < 0 || static_cast<uint64_t>(offset) + bytes > uint64_t{s.header.blocks_in_image} * kBlockSize) {
        return make_errno_error(EIO);
    }
    return {};
}

int64_t data_offset(const VdiState& s, uint32_t entry)
{
    return int64_t{s.header.offset_data} + int64_t{entry} * kBlockSize;
}

Result<void> vdi_open(BlockNode& node, BlockOptions&, const OpenContext&)
{
    BlockNode* file = node.file();
    std::array<uint8_t, kHeaderBytes> raw{};
    TRY_VOID(file->pread(0, raw));
    auto state = std::make_unique<VdiState>();
    state->header = parse_header(raw);
    TRY_VOID(validate_header(state->header));
    // The map is read and rewritten in whole sectors, padding included.
    uint64_t map_bytes = (uint64_t{state->header.blocks_in_image} * 4 + kSectorSize - 1) / kSectorSize * kSectorSize;
    state->bmap_offset = state->header.offset_bmap;
    // The map is read straight into its own storage and converted in place: a header may
    // claim half a billion blocks, and QEMU holds one copy, not two.
    if (!try_resize(state->bmap, map_bytes / 4)) {
        return make_errno_error(ENOMEM, "Could not open '" + node.filename() + "'");
    }
    std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(state->bmap.data()), map_bytes);
    TRY_VOID(file->pread(state->bmap_offset, bytes));
    for (uint32_t& entry : state->bmap) {
        entry = load_le32(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&entry), 4), 0);
    }
    node.set_state(std::move(state));
    return {};
}

Result<int64_t> vdi_get_length(BlockNode& node)
{
    return static_cast<int64_t>(node.state<VdiState>().header.disk_size);
}

Result<void> vdi_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    VdiState& s = node.state<VdiState>();
    size_t total = iov_size(iov);
    TRY_VOID(check_range(s, offset, total));
    for (size_t done = 0; done < total;) {
        auto block = static_cast<uint64_t>(offset) / kBlockSize;
        uint32_t in_block = static_cast<uint32_t>(offset % kBlockSize);
        size_t now = std::min<size_t>(total - done, kBlockSize - in_block);
        uint32_t entry = s.bmap[block];
        if (!is_allocated(entry)) {
            zero_iov(iov, done, now);
        } else {
            auto part = iov_slice(iov, done, now);
            TRY_VOID(node.file()->preadv(data_offset(s, entry) + in_block, part));
        }
        done += now;
        offset += static_cast<int64_t>(now);
    }
    return {};
}

// Rewrites the map sectors holding entries first..last.
Result<void> write_map_sectors(BlockNode& node, uint32_t first, uint32_t last)
{
    VdiState& s = node.state<VdiState>();
    uint32_t first_sector = first / kEntriesPerSector;
    uint32_t last_sector = last / kEntriesPerSector;
    size_t count = (last_sector - first_sector + 1) * kEntriesPerSector;
    std::vector<uint8_t> bytes(count * 4);
    for (size_t i = 0; i < count; ++i) {
        store_le32(bytes, i * 4, s.bmap[first_sector * kEntriesPerSector + i]);
    }
    return node.file()->pwrite(s.bmap_offset + int64_t{first_sector} * kSectorSize, bytes);
}

Result<void> vdi_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    VdiState& s = node.state<VdiState>();
    size_t total = iov_size(iov);
    TRY_VOID(check_range(s, offset, total));
    std::vector<uint8_t> fresh;  // the new block being assembled, once one is needed
    std::optional<uint32_t> first_new;
    uint32_t last_new = 0;
    for (size_t done = 0; done < total;) {
        auto block = static_cast<uint32_t>(static_cast<uint64_t>(offset) / kBlockSize);
        uint32_t in_block = static_cast<uint32_t>(offset % kBlockSize);
        size_t now = std::min<size_t>(total - done, kBlockSize - in_block);
        uint32_t entry = s.bmap[block];
        if (is_allocated(entry)) {
            auto part = iov_slice(iov, done, now);
            TRY_VOID(node.file()->pwritev(data_offset(s, entry) + in_block, part));
        } else {
            // The new block goes after the last one allocated, and is written whole.
            entry = s.header.blocks_allocated++;
            s.bmap[block] = entry;
            if (!first_new) {
                first_new = block;
                fresh.resize(kBlockSize);
            }
            last_new = block;
            std::fill(fresh.begin(), fresh.end(), 0);
            iov_to_buf(iov, done, fresh.data() + in_block, now);
            TRY_VOID(node.file()->pwrite(data_offset(s, entry), fresh));
        }
        done += now;
        offset += static_cast<int64_t>(now);
    }
    if (!first_new) {
        return {};
    }
    auto header = serialize_header(s.header);
    TRY_VOID(node.file()->pwrite(0, header));
    return write_map_sectors(node, *first_new, last_new);
}

// The asynchronous forms serve a request inside one block whose place is known: a read
// of an unmapped block is zeros, anything else goes to the file's own asynchronous
// request. A mapped block never moves, so the request needs nothing once started. Writes
// that must allocate, and requests across blocks, take the synchronous path.
std::optional<int64_t> mapped_within_block(const VdiState& s, int64_t offset, std::span<const iovec> iov)
{
    size_t total = iov_size(iov);
    if (!check_range(s, offset, total) || offset % kBlockSize + static_cast<int64_t>(total) > kBlockSize) {
        return std::nullopt;
    }
    uint32_t entry = s.bmap[static_cast<uint64_t>(offset) / kBlockSize];
    return is_allocated(entry) ? data_offset(s, entry) + offset % kBlockSize : -1;
}

bool vdi_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags,
    AioCallback& done)
{
    auto at = mapped_within_block(node.state<VdiState>(), offset, iov);
    if (!at) {
        return false;
    }
    if (*at < 0) {
        iov_zero(iov);
        complete_later(ctx, done, {});
    } else {
        node.file()->aio_preadv(ctx, *at, iov, {}, std::move(done));
    }
    return true;
}

bool vdi_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags,
    AioCallback& done)
{
    auto at = mapped_within_block(node.state<VdiState>(), offset, iov);
    if (!at || *at < 0) {
        return false;
    }
    node.file()->aio_pwritev(ctx, *at, iov, {}, std::move(done));
    return true;
}

Result<BlockStatus> vdi_block_status(BlockNode& node, bool, int64_t offset, int64_t bytes)
{
    VdiState& s = node.state<VdiState>();
    TRY_VOID(check_range(s, offset, 1));
    auto block = static_cast<uint64_t>(offset) / kBlockSize;
    int64_t in_block = offset % kBlockSize;
    BlockStatus result;
    result.bytes = std::min<int64_t>(kBlockSize - in_block, bytes);
    uint32_t entry = s.bmap[block];
    if (!is_allocated(entry)) {
        result.flags = status::kZero;
        return result;
    }
    result.flags = status::kData | status::kOffsetValid;
    // A static image's file may have holes; the file layer knows where they are.
    if (s.header.image_type == kTypeStatic) {
        result.flags |= status::kRecurse;
    }
    result.map = data_offset(s, entry) + in_block;
    result.file = node.file();
    return result;
}

Result<DriverInfo> vdi_get_info(BlockNode&)
{
    return DriverInfo{.cluster_size = kBlockSize};
}

constexpr CreateOptionDesc kOptionTable[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
    {"static", CreateOptType::Bool, "VDI static (pre-allocated) image", "off"},
};

}  // namespace

}  // namespace qemu::block::vdi

namespace qemu::block {

using namespace vdi;

const BlockDriver kVdiDriver = {
    .format_name = "vdi",
    // Reads only look up the block map; an allocating write changes it and the header.
    .concurrency = Concurrency::SharedReads,
    .probe = vdi::probe,
    .open = vdi_open,
    .preadv = vdi_preadv,
    .pwritev = vdi_pwritev,
    .aio_preadv = vdi_aio_preadv,
    .aio_pwritev = vdi_aio_pwritev,
    .block_status = vdi_block_status,
    .get_length = vdi_get_length,
    .get_info = vdi_get_info,
    .create = vdi::create,
    .create_opts = kOptionTable,
    .check = vdi::check,
};

}  // namespace qemu::block
