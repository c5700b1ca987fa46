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
// zlib's default level (zlib's compress(), byte for byte what QEMU 7.2 writes), zero-padded
// to a multiple of 512 bytes. data.size() is at most one grain (the last grain of a disk
// may be short). QEMU's own write path refuses compressed writes to an extent without the
// markers flag; that refusal is the driver's. Empty data or more than 1 GiB -> EINVAL.
Result<std::vector<uint8_t>> compress_grain(uint64_t lba_sectors, std::span<const uint8_t> data, bool has_marker);
// compress_grain without the padding, into `out` (grown when too small, never shrunk, so a
// caller that keeps it allocates once): the marker and stream take out's first N bytes,
// N returned. zlib's state is kept per thread between calls.
Result<size_t> compress_grain_into(
    uint64_t lba_sectors, std::span<const uint8_t> data, bool has_marker, std::vector<uint8_t>& out);

// The grain stored at the start of `stored` (what was read at the grain's offset: QEMU
// reads two grains' worth, cut at the end of the file), inflated into `out`, which is one
// whole grain (at most 1 GiB). As in QEMU's vmdk_read_extent: the stream length is the
// marker's (without markers: one grain); 0 or more than two grains -> EINVAL. Bytes of
// the stream beyond `stored` are taken as zeros, as QEMU's read past EOF gives them. A bad
// stream, or one that inflates to more than `out` -> EINVAL. Nothing outside `stored` is
// read and nothing outside `out` written.
// Returns how many bytes the stream inflated to (<= out.size()): the disk's last grain may
// be short, and QEMU only fails a read that reaches past the inflated length.
Result<size_t> inflate_grain(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker);
// The same through zlib's streaming inflate, the reference the fuzz target holds
// inflate_grain (libdeflate, about twice as fast) to; also its path for a stream cut by EOF.
Result<size_t> inflate_grain_zlib(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker);

// How much of compressed_read_size(grain_bytes) inflate_grain looks at, given the first
// bytes stored at the grain (at least the marker when has_marker): the marker and the
// stream length it names, capped at what QEMU reads; one grain without markers. Reading
// only that much gives inflate_grain the same answer as reading all of it.
Result<size_t> stored_grain_length(std::span<const uint8_t> head, size_t grain_bytes, bool has_marker);

// inflate_grain that also requires the whole of `out` to be filled (EINVAL otherwise): for
// every grain but a short last one.
Result<void> decompress_grain(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker);

// How many bytes decompress_grain may need for one grain of grain_bytes: the buffer the
// driver reads (cut at the end of the file).
constexpr size_t compressed_read_size(size_t grain_bytes)
{
    return 2 * grain_bytes + 512;
}

// The footer of a VMware stream-optimized extent whose header says "GD at end"
// (gd_offset 0xFFFFFFFFFFFFFFFF): given the 1536 bytes QEMU reads at
// round_up(file size, 512) - 1536 (bytes past EOF as zeros), the 512-byte header copy the
// footer holds (magic first), else "Invalid footer" (EINVAL). A tail of another size (the
// file is shorter than that) -> "Failed to read footer: Input/output error" (EIO), what
// QEMU's read at a negative offset gives.
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
// an entry whose top 32 bits are not 0x10000000 -> EIO. (QEMU's get_cluster_offset
// returns VMDK_ERROR: block status fails with EIO, while its read path zero-fills.)
Result<std::optional<uint64_t>> decode_sesparse_gd_entry(uint64_t entry);

// The sector of grain table gt_index: grain_tables_offset + gt_index * 64; EIO when that
// does not fit 32 bits (QEMU's check in get_cluster_offset).
Result<uint64_t> sesparse_gt_sector(uint64_t grain_tables_offset, uint64_t gt_index);

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
// The header at sector 0 (magic "COWD" first, else "Image not in VMDK format"), with the
// checks vmdk_add_extent makes on what vmdk_open_vmfs_sparse passes it, errors as QEMU's:
// granularity > 0x200000 -> "Invalid granularity, image may be corrupt" (EFBIG),
// l1dir_size > 32 Mi -> "L1 size too big" (EFBIG). A granularity of 0, on which QEMU would
// divide by zero, -> "L1 entry size is invalid" (EINVAL).
Result<CowdHeader> parse_cowd_header(std::span<const uint8_t, 512> sector);

}  // namespace qemu::block::vmdk
