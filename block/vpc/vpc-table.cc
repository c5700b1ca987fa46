// Guest I/O on VHD images. Fixed images pass straight through to the file. Dynamic images
// map each block through the block allocation table (BAT); a block is its sector bitmap
// followed by the data. Reads ignore the bitmap (an allocated block is read whole), and
// writes keep it all ones, as QEMU does: a new block is placed where the trailing footer
// was, the footer moves behind it, then the BAT entry is written.
#include <algorithm>
#include <cerrno>

#include "block/iov.h"
#include "block/vpc/vpc-state.h"
#include "util/aio-context.h"

namespace qemu::block::vpc {

namespace {

// bdrv_pwrite_sync: the metadata write is on disk before anything that depends on it.
Result<void> write_sync(BlockNode& file, int64_t offset, std::span<const uint8_t> bytes)
{
    TRY_VOID(file.pwrite(offset, bytes));
    return file.flush();
}

// The file offset of a guest offset, or nullopt if its block is not allocated.
std::optional<int64_t> data_offset(const VpcState& s, int64_t offset)
{
    uint64_t index = static_cast<uint64_t>(offset) / s.block_size;
    if (index >= s.max_table_entries || s.bat[index] == kUnallocated) {
        return std::nullopt;
    }
    int64_t bitmap_offset = 512 * int64_t{s.bat[index]};
    return bitmap_offset + s.bitmap_size + static_cast<int64_t>(static_cast<uint64_t>(offset) % s.block_size);
}

// Before the first write into an allocated block in this open, mark all of its sectors as
// used, so other VHD readers never skip what we wrote. QEMU writes the bitmap (and flushes)
// whenever writes move to another block; the bytes on disk are the same if ours reads it
// first and writes only a bitmap that is not all ones yet, as every block QEMU or we
// allocated is. One read costs much less than a write and a flush. Over blkdebug, whose
// rules count the writes below (set-state on pwritev), the bitmap is written as QEMU does.
Result<std::optional<int64_t>> data_offset_for_write(BlockNode& node, VpcState& s, int64_t offset)
{
    auto found = data_offset(s, offset);
    if (!found) {
        return found;
    }
    uint64_t index = static_cast<uint64_t>(offset) / s.block_size;
    if (s.bitmap_set.empty()) {
        s.bitmap_set.resize(s.max_table_entries);
    }
    if (!s.bitmap_set[index]) {
        int64_t bitmap_offset = 512 * int64_t{s.bat[index]};
        std::vector<uint8_t> bitmap(s.bitmap_size);
        bool all_ones = false;
        if (!find_debug_node(*node.file())) {
            all_ones = node.file()->pread(bitmap_offset, bitmap) &&
                std::ranges::all_of(bitmap, [](uint8_t b) { return b == 0xff; });
        }
        if (!all_ones) {
            std::ranges::fill(bitmap, uint8_t{0xff});
            TRY_VOID(write_sync(*node.file(), bitmap_offset, bitmap));
        }
        s.bitmap_set[index] = true;
    }
    return found;
}

Result<int64_t> allocate_block(BlockNode& node, VpcState& s, int64_t offset)
{
    if (offset < 0 || offset > s.total_sectors * kSectorSize) {
        return make_errno_error(EINVAL);
    }
    uint64_t index = static_cast<uint64_t>(offset) / s.block_size;
    // The open checks make the table cover the disk and keep blocks inside a file of at most
    // 2 TiB worth of sector numbers; stay safe if either ever does not hold.
    if (index >= s.max_table_entries || s.free_data_block_offset / 512 >= kUnallocated) {
        return make_errno_error(EINVAL);
    }
    BlockNode& file = *node.file();
    int64_t block_start = s.free_data_block_offset;
    std::vector<uint8_t> bitmap(s.bitmap_size, 0xff);
    s.bat[index] = static_cast<uint32_t>(block_start / 512);
    auto undo = [&](Error e) -> Result<int64_t> {
        s.bat[index] = kUnallocated;
        s.free_data_block_offset = block_start;
        return std::unexpected(std::move(e));
    };
    if (auto done = write_sync(file, block_start, bitmap); !done) {
        return undo(std::move(done).error());
    }
    s.free_data_block_offset = block_start + s.block_size + s.bitmap_size;
    if (auto done = write_sync(file, s.free_data_block_offset, s.footer.bytes); !done) {
        return undo(std::move(done).error());
    }
    std::array<uint8_t, 4> entry{};
    store_be32(entry, 0, s.bat[index]);
    if (auto done = write_sync(file, static_cast<int64_t>(s.bat_offset + 4 * index), entry); !done) {
        return undo(std::move(done).error());
    }
    if (s.bitmap_set.empty()) {
        s.bitmap_set.resize(s.max_table_entries);
    }
    s.bitmap_set[index] = true;  // written whole above
    return *data_offset(s, offset);
}

}  // namespace

Result<void> vpc_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    VpcState& s = node.state<VpcState>();
    if (s.is_fixed()) {
        return node.file()->preadv(offset, iov);
    }
    size_t total = iov_size(iov);
    size_t done = 0;
    while (done < total) {
        size_t in_block = s.block_size - static_cast<uint64_t>(offset) % s.block_size;
        size_t now = std::min(total - done, in_block);
        std::vector<iovec> part = iov_slice(iov, done, now);
        if (auto at = data_offset(s, offset)) {
            TRY_VOID(node.file()->preadv(*at, part));
        } else {
            iov_zero(part);
        }
        done += now;
        offset += static_cast<int64_t>(now);
    }
    return {};
}

Result<void> vpc_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    VpcState& s = node.state<VpcState>();
    if (s.is_fixed()) {
        return node.file()->pwritev(offset, iov);
    }
    size_t total = iov_size(iov);
    size_t done = 0;
    while (done < total) {
        std::optional<int64_t> at = TRY(data_offset_for_write(node, s, offset));
        size_t in_block = s.block_size - static_cast<uint64_t>(offset) % s.block_size;
        size_t now = std::min(total - done, in_block);
        if (!at) {
            at = TRY(allocate_block(node, s, offset));
        }
        TRY_VOID(node.file()->pwritev(*at, iov_slice(iov, done, now)));
        done += now;
        offset += static_cast<int64_t>(now);
    }
    return {};
}

// The asynchronous forms: a fixed disk is its file; a dynamic one serves a request inside
// one block whose place is known (zeros where unallocated), and a write only where the
// block's bitmap is already the one marked in use. Allocation, bitmap updates and requests
// across blocks take the synchronous path.
namespace {

enum class Place { Across, Unallocated, Mapped };

Place place_within_block(const VpcState& s, int64_t offset, std::span<const iovec> iov, int64_t& at)
{
    auto total = static_cast<int64_t>(iov_size(iov));
    if (offset < 0 || offset + total > s.total_sectors * kSectorSize ||
        static_cast<uint64_t>(offset) % s.block_size + static_cast<uint64_t>(total) > s.block_size) {
        return Place::Across;
    }
    auto found = data_offset(s, offset);
    if (!found) {
        return Place::Unallocated;
    }
    at = *found;
    return Place::Mapped;
}

}  // namespace

bool vpc_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags,
    AioCallback& done)
{
    VpcState& s = node.state<VpcState>();
    int64_t at = offset;
    Place place = s.is_fixed() ? Place::Mapped : place_within_block(s, offset, iov, at);
    if (place == Place::Across) {
        return false;
    }
    if (place == Place::Unallocated) {
        iov_zero(iov);
        complete_later(ctx, done, {});
        return true;
    }
    node.file()->aio_preadv(ctx, at, iov, {}, std::move(done));
    return true;
}

bool vpc_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags,
    AioCallback& done)
{
    VpcState& s = node.state<VpcState>();
    int64_t at = offset;
    if (!s.is_fixed()) {
        if (place_within_block(s, offset, iov, at) != Place::Mapped) {
            return false;
        }
        uint64_t index = static_cast<uint64_t>(offset) / s.block_size;
        if (index >= s.bitmap_set.size() || !s.bitmap_set[index]) {
            return false;
        }
    }
    node.file()->aio_pwritev(ctx, at, iov, {}, std::move(done));
    return true;
}

Result<BlockStatus> vpc_block_status(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes)
{
    VpcState& s = node.state<VpcState>();
    BlockStatus result;
    if (s.is_fixed()) {
        // Data at the same offset in the file, refined by the file's own answer (QEMU's
        // BDRV_BLOCK_RECURSE): holes become "zero" but stay "data", and past the file's end
        // (a footer at offset 0 claiming "fixed") the rest reads as zeros.
        result.flags = status::kData | status::kOffsetValid;
        result.bytes = bytes;
        result.map = offset;
        result.file = node.file();
        if (want_zero) {
            BlockStatus inner = TRY(node.file()->block_status(true, offset, bytes));
            if ((inner.flags & status::kEof) && (inner.bytes == 0 || (inner.flags & status::kZero))) {
                result.flags |= status::kZero;
            } else {
                result.bytes = inner.bytes;
                result.flags |= inner.flags & status::kZero;
            }
        }
        return result;
    }
    // An allocated block is one contiguous run (its bitmap is ignored); unallocated blocks
    // merge into one zero run until the next allocated one.
    result.flags = status::kZero;
    std::optional<int64_t> at = data_offset(s, offset);
    while (true) {
        int64_t block_end = (offset / s.block_size + 1) * int64_t{s.block_size};
        int64_t now = std::min(block_end - offset, bytes);
        result.bytes += now;
        if (at) {
            result.flags = status::kData | status::kOffsetValid;
            result.map = *at;
            result.file = node.file();
            break;
        }
        offset += now;
        bytes -= now;
        if (bytes == 0) {
            break;
        }
        at = data_offset(s, offset);
        if (at) {
            break;
        }
    }
    return result;
}

}  // namespace qemu::block::vpc
