// The vdi format (VirtualBox Disk Image 1.1): a 512-byte header, a block map of one
// little-endian u32 per 1 MiB block, then the data blocks in allocation order. This header
// is shared by the files that implement it: vdi-header.cc (parsing, validation, probing),
// vdi-io.cc (open, reads, allocating writes, block status, the driver table), vdi-create.cc
// and vdi-check.cc.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "block/block.h"

namespace qemu::block::vdi {

constexpr uint32_t kSignature = 0xBEDA107F;
constexpr uint32_t kVersion11 = 0x00010001;
constexpr uint32_t kTypeDynamic = 1;
constexpr uint32_t kTypeStatic = 2;
constexpr uint32_t kBlockSize = 1024 * 1024;
constexpr uint32_t kHeaderBytes = 512;
// Map entries at or above this value mean "no data block": 0xFFFFFFFF never written,
// 0xFFFFFFFE discarded. Both read as zeros.
constexpr uint32_t kDiscarded = 0xFFFFFFFE;
constexpr uint32_t kUnallocated = 0xFFFFFFFF;
// The map must fit in an int-sized allocation of whole sectors, which bounds the blocks
// and so the disk size.
constexpr uint32_t kMaxBlocks = (0x80000000u - 512) / 4;
constexpr uint64_t kMaxDiskSize = uint64_t{kMaxBlocks} * kBlockSize;
// The banner QEMU writes; VirtualBox writes its own, and nobody reads it back.
constexpr std::string_view kBanner = "<<< QEMU VM Virtual Disk Image >>>\n";

constexpr bool is_allocated(uint32_t entry)
{
    return entry < kDiscarded;
}

// The header in host order. The fields nobody interprets (banner, description, legacy
// geometry, the trailing bytes) stay in `raw`, so rewriting the header keeps them as read.
struct Header {
    uint32_t signature = 0;
    uint32_t version = 0;
    uint32_t header_size = 0;
    uint32_t image_type = 0;
    uint32_t image_flags = 0;
    uint32_t offset_bmap = 0;
    uint32_t offset_data = 0;
    uint32_t sector_size = 0;
    uint64_t disk_size = 0;
    uint32_t block_size = 0;
    uint32_t block_extra = 0;
    uint32_t blocks_in_image = 0;
    uint32_t blocks_allocated = 0;
    // The four UUIDs, in the on-disk (mixed-endian GUID) byte order.
    std::array<uint8_t, 16> uuid_image{};
    std::array<uint8_t, 16> uuid_last_snap{};
    std::array<uint8_t, 16> uuid_link{};
    std::array<uint8_t, 16> uuid_parent{};
    std::array<uint8_t, kHeaderBytes> raw{};
};

// vdi-header.cc
Header parse_header(std::span<const uint8_t, kHeaderBytes> bytes);
std::array<uint8_t, kHeaderBytes> serialize_header(const Header& header);
// The open-time checks, in QEMU's order and words. Rounds an odd disk_size up to a sector
// (VBoxManage convertfromraw writes such images) before the checks that use it.
Result<void> validate_header(Header& header);
int probe(std::span<const uint8_t> buf, std::string_view filename);
// The refusal of a disk larger than kMaxDiskSize, shared by open and create.
std::unexpected<Error> size_unsupported(uint64_t disk_size);
// A random version-4 UUID in the on-disk byte order.
std::array<uint8_t, 16> random_uuid();

// The per-node state: the header as it will be rewritten and the whole block map.
struct VdiState : DriverState {
    Header header;
    std::vector<uint32_t> bmap;  // host order, blocks_in_image entries
    int64_t bmap_offset = 0;  // bytes
};

// vdi-create.cc
Result<void> create(const OpenContext& context, const CreateOptions& options);
// The header and block map (and a static image's data area) of a `size`-byte disk,
// written onto an empty writable node: qemu-img create's second half, and blockdev-create.
Result<void> write_image(BlockNode& file, uint64_t size, bool is_static);

// vdi-check.cc
Result<CheckResult> check(BlockNode& node, bool fix);

}  // namespace qemu::block::vdi
