// The vmdk byte-level codecs (see vmdk-codec.h): zlib grains and stream footers, seSparse
// headers and table entries, the COWD header. Everything here reads only the spans it is
// given; lengths found in the bytes are checked against fixed bounds before they are used.
#include "block/vmdk/vmdk-codec.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include <libdeflate.h>
#include <zlib.h>

#include "util/bswap.h"

namespace qemu::block::vmdk {

namespace {

// An error with QEMU's text (error_setg: no strerror appended) and the errno QEMU returns.
std::unexpected<Error> codec_error(int err, std::string text)
{
    return std::unexpected(Error{ErrorClass::GenericError, std::move(text), err});
}

std::string hex64(uint64_t value)
{
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, value);
    return buf;
}

bool all_zero(std::span<const uint8_t> bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// QEMU's largest grain (vmdk_add_extent's 0x200000 sectors); bounds every buffer here and
// keeps zlib's 32-bit lengths from overflowing.
constexpr size_t kMaxGrainBytes = size_t{0x200000} * 512;

constexpr uint32_t kMarkerFooter = 3;
constexpr uint32_t kMarkerEndOfStream = 0;

// QEMU's VMDK3 and VMDK4 magics are compared as big-endian words of these bytes.
constexpr uint8_t kVmdk4Magic[4] = {'K', 'D', 'M', 'V'};
constexpr uint8_t kCowdMagic[4] = {'C', 'O', 'W', 'D'};

constexpr uint64_t kSeSparseConstMagic = 0x00000000cafebabeULL;
constexpr uint64_t kSeSparseVolatileMagic = 0x00000000cafecafeULL;
constexpr uint64_t kSeSparseVersion = 0x0000000200000001ULL;

}  // namespace

// ---- Stream-optimized grains -------------------------------------------------------------

namespace {

// zlib's state for one thread, kept between grains: deflateInit and inflateInit allocate
// about 300 KiB each, which compress()/uncompress() would allocate and free per grain.
// deflateReset gives the state a fresh stream's exact parameters, so the bytes are those
// of compress() at the default level.
class ZlibStreams {
public:
    ZlibStreams() = default;
    ZlibStreams(const ZlibStreams&) = delete;
    ZlibStreams& operator=(const ZlibStreams&) = delete;
    ~ZlibStreams()
    {
        if (m_deflate_ready) {
            deflateEnd(&m_deflate);
        }
        if (m_inflate_ready) {
            inflateEnd(&m_inflate);
        }
    }

    z_stream* deflater()
    {
        if (!m_deflate_ready) {
            if (deflateInit(&m_deflate, Z_DEFAULT_COMPRESSION) != Z_OK) {
                return nullptr;
            }
            m_deflate_ready = true;
        } else if (deflateReset(&m_deflate) != Z_OK) {
            return nullptr;
        }
        return &m_deflate;
    }

    z_stream* inflater()
    {
        if (!m_inflate_ready) {
            if (inflateInit(&m_inflate) != Z_OK) {
                return nullptr;
            }
            m_inflate_ready = true;
        } else if (inflateReset(&m_inflate) != Z_OK) {
            return nullptr;
        }
        return &m_inflate;
    }

private:
    z_stream m_deflate{};
    z_stream m_inflate{};
    bool m_deflate_ready = false;
    bool m_inflate_ready = false;
};

ZlibStreams& thread_streams()
{
    thread_local ZlibStreams streams;
    return streams;
}

}  // namespace

Result<size_t> compress_grain_into(
    uint64_t lba_sectors, std::span<const uint8_t> data, bool has_marker, std::vector<uint8_t>& out)
{
    if (data.empty() || data.size() > kMaxGrainBytes) {
        return make_errno_error(EINVAL);
    }
    const size_t header = has_marker ? kGrainMarkerSize : 0;
    uLong bound = compressBound(static_cast<uLong>(data.size()));
    if (out.size() < header + bound) {
        out.resize(header + bound);
    }
    z_stream* zs = thread_streams().deflater();
    if (!zs) {
        return make_errno_error(ENOMEM);
    }
    // zlib takes non-const input pointers but never writes through them.
    zs->next_in = const_cast<Bytef*>(data.data());
    zs->avail_in = static_cast<uInt>(data.size());
    zs->next_out = out.data() + header;
    zs->avail_out = static_cast<uInt>(bound);
    int rc = deflate(zs, Z_FINISH);
    size_t stream_len = bound - zs->avail_out;
    if (rc != Z_STREAM_END || stream_len == 0 || stream_len > UINT32_MAX) {
        return make_errno_error(EINVAL);
    }
    if (has_marker) {
        store_le64(out, 0, lba_sectors);
        store_le32(out, 8, static_cast<uint32_t>(stream_len));
    }
    return header + stream_len;
}

Result<std::vector<uint8_t>> compress_grain(uint64_t lba_sectors, std::span<const uint8_t> data, bool has_marker)
{
    std::vector<uint8_t> out;
    size_t used = TRY(compress_grain_into(lba_sectors, data, has_marker, out));
    // QEMU writes the marker and stream unpadded and starts the next grain at the next
    // sector; the gap is a hole in the file, so zero padding is what ends up on disk.
    out.resize((used + 511) / 512 * 512, 0);
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(used), out.end(), 0);
    return out;
}

Result<size_t> stored_grain_length(std::span<const uint8_t> head, size_t grain_bytes, bool has_marker)
{
    if (!has_marker) {
        return grain_bytes;
    }
    if (head.size() < kGrainMarkerSize) {
        return make_errno_error(EINVAL);
    }
    uint64_t stream_len = load_le32(head, 8);
    return static_cast<size_t>(std::min<uint64_t>(kGrainMarkerSize + stream_len, compressed_read_size(grain_bytes)));
}

namespace {

// The zlib stream of a stored grain: where it starts and how long the marker says it is.
struct StoredStream {
    std::span<const uint8_t> input;  // the part of the stream that is in `stored`
    uint64_t zeros_after = 0;  // how much of it lies past `stored`: zeros, as QEMU reads them
};

Result<StoredStream> find_stream(std::span<const uint8_t> stored, size_t grain_bytes, bool has_marker)
{
    if (grain_bytes == 0 || grain_bytes > kMaxGrainBytes) {
        return make_errno_error(EINVAL);
    }
    // QEMU reads its buffer with bdrv_pread, which gives zeros past the end of the file; a
    // `stored` cut at EOF behaves the same if every missing byte is taken as zero.
    uint64_t stream_len = grain_bytes;
    size_t start = 0;
    if (has_marker) {
        std::array<uint8_t, kGrainMarkerSize> marker{};
        std::copy_n(stored.begin(), std::min(stored.size(), marker.size()), marker.begin());
        stream_len = load_le32(marker, 8);
        start = kGrainMarkerSize;
    }
    // QEMU bounds the length by the two grains it read.
    if (stream_len == 0 || stream_len > 2 * uint64_t{grain_bytes}) {
        return make_errno_error(EINVAL);
    }
    StoredStream stream;
    if (stored.size() > start) {
        stream.input = stored.subspan(start, std::min<size_t>(stored.size() - start, stream_len));
    }
    stream.zeros_after = stream_len - stream.input.size();
    return stream;
}

// libdeflate's decompressor for one thread (allocated once, about 32 KiB).
libdeflate_decompressor* thread_decompressor()
{
    struct Owner {
        libdeflate_decompressor* d = libdeflate_alloc_decompressor();
        Owner() = default;
        Owner(const Owner&) = delete;
        Owner& operator=(const Owner&) = delete;
        ~Owner() { libdeflate_free_decompressor(d); }
    };
    thread_local Owner owner;
    return owner.d;
}

}  // namespace

Result<size_t> inflate_grain_zlib(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker)
{
    StoredStream stream = TRY(find_stream(stored, out.size(), has_marker));
    uint64_t zeros_left = stream.zeros_after;
    static constexpr uint8_t kZeros[4096] = {};

    z_stream* zs = thread_streams().inflater();
    if (!zs) {
        return make_errno_error(ENOMEM);
    }
    // zlib takes non-const input pointers but never writes through them.
    zs->next_in = const_cast<Bytef*>(stream.input.data());
    zs->avail_in = static_cast<uInt>(stream.input.size());
    zs->next_out = out.data();
    zs->avail_out = static_cast<uInt>(out.size());
    int rc = Z_OK;
    for (;;) {
        if (zs->avail_in == 0 && zeros_left > 0) {
            size_t chunk = std::min<uint64_t>(zeros_left, sizeof(kZeros));
            zs->next_in = const_cast<Bytef*>(kZeros);
            zs->avail_in = static_cast<uInt>(chunk);
            zeros_left -= chunk;
        }
        rc = inflate(zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            break;
        }
        if (rc == Z_OK) {
            continue;  // progress was made
        }
        if (rc == Z_BUF_ERROR && zs->avail_in == 0 && zeros_left > 0) {
            continue;
        }
        break;  // a bad stream, input exhausted mid-stream, or more data than one grain
    }
    size_t produced = out.size() - zs->avail_out;
    if (rc != Z_STREAM_END) {
        return make_errno_error(EINVAL);
    }
    return produced;
}

Result<size_t> inflate_grain(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker)
{
    StoredStream stream = TRY(find_stream(stored, out.size(), has_marker));
    // A stream cut by the end of the file continues in zeros, which only zlib's streaming
    // interface can be fed without a copy. Every well-formed grain takes the fast path.
    libdeflate_decompressor* d = thread_decompressor();
    if (stream.zeros_after > 0 || !d) {
        return inflate_grain_zlib(stored, out, has_marker);
    }
    size_t in_used = 0;
    size_t produced = 0;
    // Whole-buffer inflate: the bytes after the stream's end are ignored, as zlib's inflate
    // stops at Z_STREAM_END; a stream that needs more room than one grain fails.
    libdeflate_result rc = libdeflate_zlib_decompress_ex(
        d, stream.input.data(), stream.input.size(), out.data(), out.size(), &in_used, &produced);
    if (rc != LIBDEFLATE_SUCCESS) {
        return make_errno_error(EINVAL);
    }
    return produced;
}

Result<void> decompress_grain(std::span<const uint8_t> stored, std::span<uint8_t> out, bool has_marker)
{
    size_t produced = TRY(inflate_grain(stored, out, has_marker));
    if (produced < out.size()) {
        return make_errno_error(EINVAL);
    }
    return {};
}

Result<std::array<uint8_t, 512>> parse_stream_footer(std::span<const uint8_t> tail)
{
    if (tail.size() != 1536) {
        return make_errno_error(EIO, "Failed to read footer");
    }
    std::span<const uint8_t> footer_marker = tail.subspan(0, 512);
    std::span<const uint8_t> copy = tail.subspan(512, 512);
    std::span<const uint8_t> eos_marker = tail.subspan(1024, 512);
    // The footer marker's value field is not checked, as in QEMU.
    if (std::memcmp(copy.data(), kVmdk4Magic, 4) != 0 || load_le32(footer_marker, 8) != 0 ||
        load_le32(footer_marker, 12) != kMarkerFooter || load_le64(eos_marker, 0) != 0 ||
        load_le32(eos_marker, 8) != 0 || load_le32(eos_marker, 12) != kMarkerEndOfStream) {
        return codec_error(EINVAL, "Invalid footer");
    }
    std::array<uint8_t, 512> header{};
    std::copy(copy.begin(), copy.end(), header.begin());
    return header;
}

// ---- seSparse ------------------------------------------------------------------------------

namespace {
namespace se {
constexpr size_t kMagic = 0, kVersion = 8, kCapacity = 16, kGrainSize = 24, kGrainTableSize = 32, kFlags = 40,
                 kReserved = 48, kVolatileHeaderOffset = 80, kFieldsEnd = 208;
constexpr size_t kVolMagic = 0, kVolReplayJournal = 24, kVolFieldsEnd = 32;
}  // namespace se
}  // namespace

Result<SeSparseHeader> parse_sesparse_const_header(std::span<const uint8_t, 512> sector)
{
    std::span<const uint8_t> s = sector;
    uint64_t magic = load_le64(s, se::kMagic);
    if (magic != kSeSparseConstMagic) {
        return codec_error(EINVAL, "Bad const header magic: " + hex64(magic));
    }
    uint64_t version = load_le64(s, se::kVersion);
    if (version != kSeSparseVersion) {
        return codec_error(ENOTSUP, "Unsupported version: " + hex64(version));
    }
    SeSparseHeader h;
    h.capacity = load_le64(s, se::kCapacity);
    h.grain_size = load_le64(s, se::kGrainSize);
    if (h.grain_size != 8) {
        return codec_error(ENOTSUP, "Unsupported grain size: " + std::to_string(h.grain_size));
    }
    h.grain_table_size = load_le64(s, se::kGrainTableSize);
    if (h.grain_table_size != 64) {
        return codec_error(ENOTSUP, "Unsupported grain table size: " + std::to_string(h.grain_table_size));
    }
    uint64_t flags = load_le64(s, se::kFlags);
    if (flags != 0) {
        return codec_error(ENOTSUP, "Unsupported flags: " + hex64(flags));
    }
    uint64_t reserved[4];
    for (size_t i = 0; i < 4; ++i) {
        reserved[i] = load_le64(s, se::kReserved + 8 * i);
    }
    if (reserved[0] != 0 || reserved[1] != 0 || reserved[2] != 0 || reserved[3] != 0) {
        return codec_error(ENOTSUP,
            "Unsupported reserved bits: " + hex64(reserved[0]) + " " + hex64(reserved[1]) + " " + hex64(reserved[2]) +
                " " + hex64(reserved[3]));
    }
    if (!all_zero(s.subspan(se::kFieldsEnd))) {
        return codec_error(ENOTSUP, "Unsupported non-zero const header padding");
    }
    // The sixteen offset/size pairs follow the reserved words, in the struct's order.
    uint64_t* pairs[] = {&h.volatile_header_offset, &h.volatile_header_size, &h.journal_header_offset,
        &h.journal_header_size, &h.journal_offset, &h.journal_size, &h.grain_dir_offset, &h.grain_dir_size,
        &h.grain_tables_offset, &h.grain_tables_size, &h.free_bitmap_offset, &h.free_bitmap_size, &h.backmap_offset,
        &h.backmap_size, &h.grains_offset, &h.grains_size};
    for (size_t i = 0; i < std::size(pairs); ++i) {
        *pairs[i] = load_le64(s, se::kVolatileHeaderOffset + 8 * i);
    }
    return h;
}

Result<void> check_sesparse_volatile_header(std::span<const uint8_t, 512> sector)
{
    std::span<const uint8_t> s = sector;
    uint64_t magic = load_le64(s, se::kVolMagic);
    if (magic != kSeSparseVolatileMagic) {
        return codec_error(EINVAL, "Bad volatile header magic: " + hex64(magic));
    }
    if (load_le64(s, se::kVolReplayJournal) != 0) {
        return codec_error(ENOTSUP, "Image is dirty, Replaying journal not supported");
    }
    if (!all_zero(s.subspan(se::kVolFieldsEnd))) {
        return codec_error(ENOTSUP, "Unsupported non-zero volatile header padding");
    }
    return {};
}

Result<std::optional<uint64_t>> decode_sesparse_gd_entry(uint64_t entry)
{
    if (entry == 0) {
        return std::nullopt;
    }
    if ((entry & 0xffffffff00000000ULL) != 0x1000000000000000ULL) {
        return codec_error(EIO, "Invalid seSparse grain directory entry " + hex64(entry));
    }
    return entry & 0x00000000ffffffffULL;
}

Result<uint64_t> sesparse_gt_sector(uint64_t grain_tables_offset, uint64_t gt_index)
{
    // gt_index < 2^32 (decode_sesparse_gd_entry) and a table is 64 sectors, so the product
    // cannot overflow; the offset from the header can, hence the checked sum.
    uint64_t sector = 0;
    if (__builtin_add_overflow(grain_tables_offset, gt_index * 64, &sector) || sector > 0xffffffffULL) {
        return codec_error(EIO, "Invalid seSparse grain table offset");
    }
    return sector;
}

Result<SeSparseGte> decode_sesparse_gte(uint64_t entry)
{
    switch (entry & 0xf000000000000000ULL) {
    case 0x0000000000000000ULL:
        if (entry != 0) {
            break;
        }
        return SeSparseGte{SeSparseGrain::Unallocated, 0};
    case 0x1000000000000000ULL:  // unmapped (SCSI UNMAP): reads as zeros like a zero grain
    case 0x2000000000000000ULL:
        return SeSparseGte{SeSparseGrain::Zero, 0};
    case 0x3000000000000000ULL: {
        uint64_t cluster = ((entry & 0x0fff000000000000ULL) >> 48) | ((entry & 0x0000ffffffffffffULL) << 12);
        return SeSparseGte{SeSparseGrain::Allocated, cluster};
    }
    default:
        break;
    }
    return codec_error(EIO, "Invalid seSparse grain table entry " + hex64(entry));
}

// ---- COWD ----------------------------------------------------------------------------------

Result<CowdHeader> parse_cowd_header(std::span<const uint8_t, 512> sector)
{
    std::span<const uint8_t> s = sector;
    if (std::memcmp(s.data(), kCowdMagic, 4) != 0) {
        return codec_error(EINVAL, "Image not in VMDK format");
    }
    CowdHeader h;
    h.version = load_le32(s, 4);
    h.flags = load_le32(s, 8);
    h.disk_sectors = load_le32(s, 12);
    h.granularity = load_le32(s, 16);
    h.l1dir_offset = load_le32(s, 20);
    h.l1dir_size = load_le32(s, 24);
    h.file_sectors = load_le32(s, 28);
    h.cylinders = load_le32(s, 32);
    h.heads = load_le32(s, 36);
    h.sectors_per_track = load_le32(s, 40);
    // vmdk_add_extent's checks, in its order.
    if (h.granularity > 0x200000) {
        return codec_error(EFBIG, "Invalid granularity, image may be corrupt");
    }
    if (h.l1dir_size > 32 * 1024 * 1024) {
        return codec_error(EFBIG, "L1 size too big");
    }
    // QEMU divides by the grain size on every lookup and would crash on 0; refuse it with
    // the text vmdk_open_vmdk4 uses for the same condition.
    if (h.granularity == 0) {
        return codec_error(EINVAL, "L1 entry size is invalid");
    }
    return h;
}

}  // namespace qemu::block::vmdk
