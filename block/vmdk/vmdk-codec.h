// The vmdk byte-level codecs: compressed grains and the footer of stream-optimized extents
// (zlib), the seSparse headers and table entries, the VMDK3 (COWD) header. Pure functions
// over buffers the driver has read; they do no I/O and never read outside what they get.
// Errors carry QEMU's texts where QEMU has one, and its errno (EINVAL for a bad grain).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "util/error.h"

namespace qemu::block::vmdk {

// ---- Stream-optimized (compressed) grains ----------------------------------------------

// The marker in front of a compressed grain: the grain's first virtual sector and the
// length of the zlib stream that follows (LE u64, LE u32).
constexpr size_t kGrainMarkerSize = 12;

// One grain as QEMU's vmdk_write_extent stores it compressed: the marker (when has_marker,
// i.e. the extent has the markers flag) then `data` deflated as an RFC 1950 zlib stream at
// zlib's default level, zero-padded to a multiple of 512 bytes. data.size() is at most one
// grain (the last grain of a disk may be short).
Result<std::vector<uint8_t>> compress_grain(uint64_t lba_sectors, std::span<const uint8_t> data, bool has_marker);

// The grain stored at the start of `stored` (what was read at the grain's offset: QEMU
// reads two grains' worth plus a sector, cut at the end of the file), inflated into `out`,
// which is one whole grain. A bad stream, a marker length of 0 or beyond `stored`, or a
// result shorter than `out` -> EINVAL (QEMU's vmdk_read_extent).
Result<void> decompress_grain(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker);

// How many bytes decompress_grain may need for one grain of grain_bytes: the buffer the
// driver reads (cut at the end of the file).
constexpr size_t compressed_read_size(size_t grain_bytes)
{
    return 2 * grain_bytes + 512;
}

// The footer of a VMware stream-optimized extent whose header says "GD at end"
// (gd_offset 0xFFFFFFFFFFFFFFFF): given the 1536 bytes at EOF-1536, the 512-byte header
// copy the footer holds (magic first), else "Invalid footer" (EINVAL).
Result<std::array<uint8_t, 512>> parse_stream_footer(std::span<const uint8_t> tail);

// ---- seSparse (read-only) ----------------------------------------------------------------

struct SeSparseHeader {
    uint64_t capacity = 0;  // sectors
    uint64_t grain_size = 0;  // sectors (always 8)
    uint64_t grain_table_size = 0;  // sectors (always 64: 4096 u64 entries)
    uint64_t volatile_header_offset = 0;  // sectors, like every offset below
    uint64_t volatile_header_size = 0;
    uint64_t journal_header_offset = 0;
    uint64_t journal_header_size = 0;
    uint64_t journal_offset = 0;
    uint64_t journal_size = 0;
    uint64_t grain_dir_offset = 0;
    uint64_t grain_dir_size = 0;
    uint64_t grain_tables_offset = 0;
    uint64_t grain_tables_size = 0;
    uint64_t free_bitmap_offset = 0;
    uint64_t free_bitmap_size = 0;
    uint64_t backmap_offset = 0;
    uint64_t backmap_size = 0;
    uint64_t grains_offset = 0;
    uint64_t grains_size = 0;
};

// The constant header at sector 0 (512 bytes), with QEMU's checks and texts
// (vmdk_open_se_sparse / check_se_sparse_const_header).
Result<SeSparseHeader> parse_sesparse_const_header(std::span<const uint8_t, 512> sector);
// The volatile header (512 bytes at volatile_header_offset), QEMU's checks and texts
// ("Image is dirty, Replaying journal not supported", ...).
Result<void> check_sesparse_volatile_header(std::span<const uint8_t, 512> sector);

// A grain directory entry: the grain table index it points to, nullopt for unallocated;
// an entry whose top 32 bits are not 0x10000000 -> EIO as in QEMU.
Result<std::optional<uint64_t>> decode_sesparse_gd_entry(uint64_t entry);

enum class SeSparseGrain { Unallocated, Zero, Allocated };
struct SeSparseGte {
    SeSparseGrain kind = SeSparseGrain::Unallocated;
    uint64_t cluster = 0;  // Allocated: grain number, offset = grains_offset + cluster * grain_size
};
// A grain table entry (QEMU's top-nibble rules; unmapped reads as zero), EIO for a bad one.
Result<SeSparseGte> decode_sesparse_gte(uint64_t entry);

// ---- VMDK3 (COWD, VMFSSPARSE) --------------------------------------------------------------

struct CowdHeader {
    uint32_t version = 0;
    uint32_t flags = 0;
    uint32_t disk_sectors = 0;
    uint32_t granularity = 0;  // sectors per grain
    uint32_t l1dir_offset = 0;  // sectors
    uint32_t l1dir_size = 0;  // entries
    uint32_t file_sectors = 0;
    uint32_t cylinders = 0;
    uint32_t heads = 0;
    uint32_t sectors_per_track = 0;
};
// Grain tables of a COWD extent hold this many entries.
constexpr uint32_t kCowdGtEntries = 4096;
// The header at sector 0 (magic "COWD" first), with the checks QEMU's vmdk_open_vmfs_sparse
// makes on it; errors as QEMU's.
Result<CowdHeader> parse_cowd_header(std::span<const uint8_t, 512> sector);

}  // namespace qemu::block::vmdk
