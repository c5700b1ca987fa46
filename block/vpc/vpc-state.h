// What an open VHD node keeps, and the operations the driver table (vpc.cc) is built from:
// opening (vpc-open.cc), block allocation table I/O (vpc-table.cc) and create
// (vpc-create.cc).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "block/block.h"
#include "block/vpc/vpc-format.h"

namespace qemu::block::vpc {

constexpr uint32_t kUnallocated = 0xffffffff;

struct VpcState : DriverState {
    Footer footer;
    int64_t total_sectors = 0;
    // Dynamic (and differencing, read as dynamic) images only.
    uint32_t block_size = 0;
    uint32_t bitmap_size = 0;  // the sector bitmap in front of each block, whole sectors
    uint32_t max_table_entries = 0;
    uint64_t bat_offset = 0;
    std::vector<uint32_t> bat;  // host byte order, in sectors
    // Where the next block goes: the end of the last block, where the trailing footer sits.
    int64_t free_data_block_offset = 0;
    // Blocks whose bitmap this open has set to all ones (one bit per BAT entry, sized at
    // the first write): each is written once, not again whenever writes move between
    // blocks as QEMU's single "last bitmap" does, which requests in flight together would
    // turn into a flush per request. The bytes on disk are the same.
    std::vector<bool> bitmap_set;

    // The footer's type decides the I/O path: only "fixed" is a plain pass-through.
    bool is_fixed() const { return footer.disk_type() == static_cast<uint32_t>(DiskType::Fixed); }
};

Result<void> vpc_open(BlockNode& node, BlockOptions& options, const OpenContext& context);

Result<void> vpc_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
Result<void> vpc_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
bool vpc_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
bool vpc_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
Result<BlockStatus> vpc_block_status(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes);

Result<void> vpc_create(const OpenContext& context, const CreateOptions& options);
// blockdev-create: a `size`-byte image written onto an empty writable node; the size must
// be one a CHS geometry gives (or any, with force_size).
Result<void> create_on(BlockNode& file, uint64_t size, bool fixed, bool force_size);

}  // namespace qemu::block::vpc
