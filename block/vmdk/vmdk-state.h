// What an open vmdk node keeps, and the operations the driver table (vmdk.cc) is built
// from: opening the descriptor and its extents (vmdk-open.cc), grain lookup and allocation
// through the grain directory and tables (vmdk-table.cc), guest I/O (vmdk-io.cc), create
// (vmdk-create.cc), info and check (vmdk-info.cc). QEMU 7.2's vmdk.c is the reference for
// every on-disk effect; where we deliberately differ, the place says so.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"

namespace qemu::block::vmdk {

// DESC_SIZE: how much of a descriptor CID reads and rewrites look at (20 sectors).
constexpr int64_t kDescSize = 20 * 512;
// A grain entry of 1 in an extent with the zeroed-grain flag reads as zeros.
constexpr uint64_t kGteZeroed = 1;
// Per sparse extent, grains are placed below 2^32 sectors (VMDK_EXTENT_MAX_SECTORS).
constexpr int64_t kExtentMaxSectors = int64_t{1} << 32;
// Grain directories are bounded so that a hostile header cannot size a huge table.
constexpr uint64_t kMaxL1Size = 32 * 1024 * 1024;
// 1 GiB grains at most ("Invalid granularity").
constexpr uint64_t kMaxClusterSectors = 0x200000;
// No request may reach past this file offset (BDRV_MAX_LENGTH).
constexpr uint64_t kMaxFileOffset = static_cast<uint64_t>(INT64_MAX) & ~((uint64_t{1} << 30) - 1);

// One extent: a span of the virtual disk held by one file (the node's file child for a
// monolithic image, an "extents.N" child otherwise).
struct Extent {
    BlockNode* file = nullptr;
    std::string type;  // the descriptor's word (SPARSE, FLAT, ...), empty when opened directly
    bool flat = false;
    bool compressed = false;
    bool has_marker = false;
    bool has_zero_grain = false;
    bool sesparse = false;
    uint32_t version = 0;
    int64_t sectors = 0;
    int64_t end_sector = 0;  // first virtual sector after this extent
    int64_t flat_start_offset = 0;  // bytes
    uint64_t l1_table_offset = 0;  // bytes
    uint64_t l1_backup_table_offset = 0;  // bytes, 0 without a redundant directory
    uint64_t l1_size = 0;
    uint64_t l2_size = 0;  // entries per grain table
    uint64_t l1_entry_sectors = 0;
    uint64_t cluster_sectors = 0;  // for flat extents: the whole extent
    int64_t next_cluster_sector = 0;  // where the next grain goes
    uint64_t entry_size = 4;  // bytes per table entry (8 for seSparse)
    uint64_t sesparse_l2_tables_offset = 0;  // sectors
    uint64_t sesparse_clusters_offset = 0;  // sectors
    std::vector<uint64_t> l1_table;
    std::vector<uint64_t> l1_backup_table;
    // Grain tables read so far, by their sector, kept in step with what is on disk.
    std::unordered_map<uint64_t, std::vector<uint64_t>> l2_cache;
    // Entries changed but not yet written: (directory index, table index).
    std::vector<std::pair<uint64_t, uint64_t>> dirty_entries;
    // Reads run together (Concurrency::SharedReads) and a lookup may load a table into
    // l2_cache (or drop the cache when it is full); writes run alone and need no lock.
    std::unique_ptr<std::mutex> table_lock = std::make_unique<std::mutex>();

    int64_t begin_sector() const { return end_sector - sectors; }
    int64_t cluster_bytes() const { return static_cast<int64_t>(cluster_sectors) * 512; }
    int64_t offset_in_cluster(int64_t offset) const
    {
        return (offset - begin_sector() * 512) % cluster_bytes();
    }
};

struct VmdkState : DriverState {
    std::vector<Extent> extents;
    std::string create_type;
    int64_t desc_offset = 0;  // where the descriptor is in the file child (0x200 embedded)
    uint32_t cid = 0;
    uint32_t parent_cid = 0;
    bool cid_updated = false;
    bool cid_checked = false;
    std::mutex cid_check_lock;  // the first reads of the backing file may run together
    int64_t total_sectors = 0;
};

// How a guest offset maps into an extent (get_cluster_offset's answers).
enum class Lookup { Ok, Unallocated, Zeroed, Error };

struct GrainRef {
    Lookup result = Lookup::Unallocated;
    uint64_t cluster_offset = 0;  // bytes in the extent file, for Ok
    // Where the grain's entry lives, for updates (not for flat extents).
    uint64_t l1_index = 0;
    uint64_t l2_offset = 0;  // sectors
    uint64_t l2_index = 0;
};

// The extent that holds virtual sector `sector`, searching on from `start` as QEMU does.
Extent* find_extent(VmdkState& s, int64_t sector);

// Looks up the grain for a guest offset without allocating. May read a grain table.
Result<GrainRef> lookup_grain(Extent& e, int64_t offset);
// The same from the grain tables already read only: nullopt when the table is not cached.
std::optional<GrainRef> lookup_cached_grain(Extent& e, int64_t offset);
// Sets one entry in the in-memory table and remembers it for write_dirty_tables.
void set_grain_entry(Extent& e, const GrainRef& ref, uint32_t value);
// Writes the table entries set since the last call (primary, then redundant tables).
Result<void> write_dirty_tables(VmdkState& s);

// Reads the CID (or parentCID) from a node's descriptor, as vmdk_read_cid.
Result<uint32_t> read_cid(BlockNode& file, int64_t desc_offset, bool parent);
// Rewrites the CID line of the descriptor on the first write after open.
Result<void> write_cid(BlockNode& node, VmdkState& s, uint32_t cid);
uint32_t random_cid();

Result<void> vmdk_open(BlockNode& node, BlockOptions& options, const OpenContext& context);
void vmdk_close(BlockNode& node);
Result<void> vmdk_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
Result<void> vmdk_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
// BlockDriver::aio_preadv/aio_pwritev: a request inside one grain that is in place.
bool vmdk_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
bool vmdk_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
// Compresses a whole stream grain ahead of its write (BlockDriver::prepare_write).
bool vmdk_prepare_write(BlockNode& node, int64_t offset, std::span<const uint8_t> data, PreparedWrite& out);
Result<void> vmdk_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags);
Result<BlockStatus> vmdk_block_status(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes);
Result<void> vmdk_flush(BlockNode& node);
Result<void> vmdk_create(const OpenContext& context, const CreateOptions& options);

// blockdev-create's vmdk options, decoded (the enums as their QAPI names).
struct QmpCreateSettings {
    uint64_t size = 0;
    std::string subformat = "monolithicSparse";
    std::string adapter_type = "ide";
    std::optional<std::string> backing_file;
    std::optional<std::string> hw_version;
    std::optional<std::string> tools_version;
    bool zeroed_grain = false;
    size_t extent_count = 0;
};
// A backend with write and resize on BlockdevRef `index` (0: the descriptor or monolithic
// file, i: extents[i - 1]).
using ExtentOpener = std::function<Result<std::unique_ptr<BlockBackend>>(int index)>;
// blockdev-create: the image laid onto nodes that exist (or are opened) already. `yielded`
// turns true with the first backend, where QEMU's job starts to wait for requests.
Result<void> create_on(
    const OpenContext& context, const QmpCreateSettings& settings, const ExtentOpener& open_extent, bool& yielded);
Result<DriverInfo> vmdk_get_info(BlockNode& node);
Result<std::optional<JsonValue>> vmdk_get_specific_info(BlockNode& node);
Result<int64_t> vmdk_get_allocated_file_size(BlockNode& node);
Result<CheckResult> vmdk_check(BlockNode& node, bool fix);

}  // namespace qemu::block::vmdk
