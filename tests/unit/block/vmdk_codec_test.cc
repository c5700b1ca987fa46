// The vmdk byte codecs: compressed grains against bytes QEMU 7.2 wrote, hostile and
// truncated grain input, the stream footer, the seSparse headers and table entries, and the
// COWD header, each with QEMU's texts and errnos.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "block/vmdk/vmdk-codec.h"
#include "util/bswap.h"

using namespace qemu::block::vmdk;
using qemu::load_le32;
using qemu::load_le64;
using qemu::store_le32;
using qemu::store_le64;

namespace {

constexpr size_t kGrain = 65536;

// The grain at virtual sector 128 of a streamOptimized image made by QEMU 7.2's
// `qemu-img convert -O vmdk -o subformat=streamOptimized` from a raw file whose second
// 64 KiB held kVectorText and then zeros: marker (LBA 128, length 123) and zlib stream, as
// they sit in the file (the rest of the sector is zero).
// clang-format off
constexpr uint8_t kQemuGrain[] = {
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x00, 0x00, 0x00, 0x78, 0x9c, 0xed, 0xc9, 0xc9, 0x09,
    0x80, 0x30, 0x10, 0x00, 0x40, 0x4b, 0xd9, 0x06, 0x2c, 0x2a, 0xe0, 0x89, 0x26, 0x1e, 0x41, 0xb1, 0x7c, 0x7f,
    0x16, 0x21, 0x33, 0xdf, 0x99, 0xfa, 0x75, 0xdd, 0xe2, 0xe8, 0xf3, 0xd5, 0x0e, 0xdd, 0x9e, 0x6a, 0x8d, 0x3b,
    0x77, 0x4b, 0x8c, 0x67, 0x9a, 0x4b, 0x4c, 0xb2, 0xc4, 0xf3, 0x69, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x7e, 0xec, 0x05, 0xb1, 0xf8, 0x70, 0x13,
};
// clang-format on

std::vector<uint8_t> vector_grain()
{
    std::string text;
    for (int i = 0; i < 10; ++i) {
        text += "hello qemu-fdpass vmdk grain ";
    }
    text += "xxxxxxxxxx";
    std::vector<uint8_t> grain(kGrain, 0);
    std::memcpy(grain.data(), text.data(), text.size());
    return grain;
}

std::vector<uint8_t> patterned(size_t size, unsigned seed)
{
    std::vector<uint8_t> data(size);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; ++i) {
        x = x * 1103515245u + 12345u;
        // Half the bytes repeat so deflate has something to do.
        data[i] = (i / 64) % 2 ? static_cast<uint8_t>(i) : static_cast<uint8_t>(x >> 24);
    }
    return data;
}

TEST(VmdkCodecGrain, CompressMatchesQemuBytes)
{
    auto stored = compress_grain(128, vector_grain(), true);
    ASSERT_TRUE(stored) << stored.error().desc;
    ASSERT_EQ(stored->size(), 512u);
    EXPECT_TRUE(std::equal(std::begin(kQemuGrain), std::end(kQemuGrain), stored->begin()));
    EXPECT_TRUE(std::all_of(stored->begin() + sizeof(kQemuGrain), stored->end(), [](uint8_t b) { return b == 0; }));
}

TEST(VmdkCodecGrain, DecompressQemuBytes)
{
    std::vector<uint8_t> out(kGrain, 0xaa);
    ASSERT_TRUE(decompress_grain(kQemuGrain, out, true));
    EXPECT_EQ(out, vector_grain());
}

TEST(VmdkCodecGrain, WithoutMarkerIsTheBareStreamPadded)
{
    auto with = compress_grain(128, vector_grain(), true);
    auto without = compress_grain(128, vector_grain(), false);
    ASSERT_TRUE(with && without);
    ASSERT_EQ(without->size(), 512u);
    EXPECT_TRUE(std::equal(std::begin(kQemuGrain) + kGrainMarkerSize, std::end(kQemuGrain), without->begin()));
    std::vector<uint8_t> out(kGrain);
    ASSERT_TRUE(decompress_grain(*without, out, false));
    EXPECT_EQ(out, vector_grain());
}

TEST(VmdkCodecGrain, RoundTripsSeveralSizes)
{
    for (size_t grain : {size_t{512}, size_t{4096}, size_t{65536}, size_t{1} << 20}) {
        std::vector<uint8_t> data = patterned(grain, static_cast<unsigned>(grain));
        auto stored = compress_grain(0x123456789ULL, data, true);
        ASSERT_TRUE(stored);
        EXPECT_EQ(stored->size() % 512, 0u);
        EXPECT_EQ(load_le64(*stored, 0), 0x123456789ULL);
        EXPECT_LE(load_le32(*stored, 8) + kGrainMarkerSize, stored->size());
        std::vector<uint8_t> out(grain);
        ASSERT_TRUE(decompress_grain(*stored, out, true)) << grain;
        EXPECT_EQ(out, data);
    }
}

TEST(VmdkCodecGrain, IncompressibleGrainStillFitsTwoGrains)
{
    std::vector<uint8_t> data(kGrain);
    uint64_t x = 88172645463325252ULL;
    for (auto& b : data) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<uint8_t>(x);
    }
    auto stored = compress_grain(0, data, true);
    ASSERT_TRUE(stored);
    EXPECT_GT(load_le32(*stored, 8), kGrain);
    EXPECT_LE(stored->size(), compressed_read_size(kGrain));
    std::vector<uint8_t> out(kGrain);
    ASSERT_TRUE(decompress_grain(*stored, out, true));
    EXPECT_EQ(out, data);
}

TEST(VmdkCodecGrain, CompressRefusesEmptyData)
{
    auto stored = compress_grain(0, {}, true);
    ASSERT_FALSE(stored);
    EXPECT_EQ(stored.error().errno_value, EINVAL);
}

TEST(VmdkCodecGrain, ShortLastGrainInflatesToItsLength)
{
    std::vector<uint8_t> data = patterned(1536, 7);
    auto stored = compress_grain(256, data, true);
    ASSERT_TRUE(stored);
    std::vector<uint8_t> out(kGrain, 0xee);
    auto produced = inflate_grain(*stored, out, true);
    ASSERT_TRUE(produced);
    EXPECT_EQ(*produced, data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
    EXPECT_EQ(out[data.size()], 0xee);  // nothing written beyond what the stream held
    auto whole = decompress_grain(*stored, out, true);
    ASSERT_FALSE(whole);
    EXPECT_EQ(whole.error().errno_value, EINVAL);
}

TEST(VmdkCodecGrain, MarkerLengthZeroIsEinval)
{
    std::vector<uint8_t> stored(kQemuGrain, kQemuGrain + sizeof(kQemuGrain));
    store_le32(stored, 8, 0);
    std::vector<uint8_t> out(kGrain);
    auto r = decompress_grain(stored, out, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value, EINVAL);
}

TEST(VmdkCodecGrain, MarkerLengthBeyondTwoGrainsIsEinval)
{
    std::vector<uint8_t> stored(compressed_read_size(kGrain), 0);
    std::copy(std::begin(kQemuGrain), std::end(kQemuGrain), stored.begin());
    std::vector<uint8_t> out(kGrain);
    for (uint32_t len : {uint32_t{2 * kGrain + 1}, uint32_t{0x7fffffff}, uint32_t{0xffffffff}}) {
        store_le32(stored, 8, len);
        auto r = decompress_grain(stored, out, true);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().errno_value, EINVAL) << len;
    }
    // Exactly two grains is QEMU's bound and still accepted: the stream ends early.
    store_le32(stored, 8, 2 * kGrain);
    EXPECT_TRUE(decompress_grain(stored, out, true));
}

TEST(VmdkCodecGrain, MarkerLengthPastStoredReadsZerosLikeQemu)
{
    // A length reaching past what was read (cut at EOF): the stream itself is whole, so
    // it inflates; the missing bytes would be zeros in QEMU's buffer too.
    std::vector<uint8_t> stored(kQemuGrain, kQemuGrain + sizeof(kQemuGrain));
    store_le32(stored, 8, 4000);
    std::vector<uint8_t> out(kGrain);
    ASSERT_TRUE(decompress_grain(stored, out, true));
    EXPECT_EQ(out, vector_grain());
}

TEST(VmdkCodecGrain, TruncatedStreamIsEinval)
{
    std::vector<uint8_t> out(kGrain);
    for (size_t cut = 0; cut < sizeof(kQemuGrain); ++cut) {
        std::span<const uint8_t> stored(kQemuGrain, cut);
        auto r = decompress_grain(stored, out, true);
        ASSERT_FALSE(r) << cut;
        EXPECT_EQ(r.error().errno_value, EINVAL);
    }
}

TEST(VmdkCodecGrain, CorruptStreamIsEinval)
{
    std::vector<uint8_t> out(kGrain);
    std::vector<uint8_t> stored(kQemuGrain, kQemuGrain + sizeof(kQemuGrain));
    stored[12] = 0x79;  // bad zlib header check
    EXPECT_FALSE(decompress_grain(stored, out, true));
    stored.assign(kQemuGrain, kQemuGrain + sizeof(kQemuGrain));
    stored[sizeof(kQemuGrain) - 1] ^= 1;  // adler32 mismatch
    EXPECT_FALSE(decompress_grain(stored, out, true));
    stored.assign(kQemuGrain, kQemuGrain + sizeof(kQemuGrain));
    stored[30] ^= 0xff;
    EXPECT_FALSE(decompress_grain(stored, out, true));
}

TEST(VmdkCodecGrain, StreamLargerThanGrainIsEinvalAndStaysInOut)
{
    std::vector<uint8_t> data = patterned(2 * kGrain, 3);
    auto stored = compress_grain(0, data, true);
    ASSERT_TRUE(stored);
    // A guard region after `out` shows nothing is written past it.
    std::vector<uint8_t> buf(kGrain + 64, 0x5a);
    std::span<uint8_t> out(buf.data(), kGrain);
    auto r = inflate_grain(*stored, out, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value, EINVAL);
    EXPECT_TRUE(std::all_of(buf.begin() + kGrain, buf.end(), [](uint8_t b) { return b == 0x5a; }));
}

TEST(VmdkCodecGrain, EmptyOrHugeOutIsEinval)
{
    std::vector<uint8_t> out;
    EXPECT_FALSE(decompress_grain(kQemuGrain, out, true));
    // A grain beyond QEMU's 1 GiB limit is refused before zlib sees it (no such buffer is
    // ever allocated: the span is only described).
    static uint8_t anchor;
    std::span<uint8_t> huge(&anchor, size_t{1} << 31);
    auto r = inflate_grain(kQemuGrain, huge, true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value, EINVAL);
}

// ---- footer ----

std::vector<uint8_t> good_footer_tail()
{
    std::vector<uint8_t> tail(1536, 0);
    store_le64(tail, 0, 42);  // the footer marker's value is not checked
    store_le32(tail, 12, 3);
    std::memcpy(tail.data() + 512, "KDMV", 4);
    store_le32(tail, 516, 3);  // version
    store_le64(tail, 512 + 56, 0x1234);  // gd_offset
    return tail;
}

TEST(VmdkCodecFooter, AcceptsVmwareFooter)
{
    auto tail = good_footer_tail();
    auto header = parse_stream_footer(tail);
    ASSERT_TRUE(header) << header.error().desc;
    EXPECT_EQ(std::memcmp(header->data(), "KDMV", 4), 0);
    EXPECT_EQ(load_le64(*header, 56), 0x1234u);
    EXPECT_TRUE(std::equal(header->begin(), header->end(), tail.begin() + 512));
}

TEST(VmdkCodecFooter, RejectsEachBrokenField)
{
    struct Breakage {
        size_t at;
        uint8_t value;
    };
    for (Breakage b : {Breakage{512, 'X'}, Breakage{8, 1}, Breakage{12, 2}, Breakage{1024, 1}, Breakage{1032, 1},
             Breakage{1036, 1}}) {
        auto tail = good_footer_tail();
        tail[b.at] = b.value;
        auto header = parse_stream_footer(tail);
        ASSERT_FALSE(header) << b.at;
        EXPECT_EQ(header.error().desc, "Invalid footer");
        EXPECT_EQ(header.error().errno_value, EINVAL);
    }
}

TEST(VmdkCodecFooter, ShortTailIsReadError)
{
    auto tail = good_footer_tail();
    auto header = parse_stream_footer(std::span<const uint8_t>(tail).first(1000));
    ASSERT_FALSE(header);
    EXPECT_EQ(header.error().errno_value, EIO);
    EXPECT_EQ(header.error().desc.rfind("Failed to read footer", 0), 0u);
}

// ---- seSparse ----

std::array<uint8_t, 512> good_const_header()
{
    std::array<uint8_t, 512> s{};
    store_le64(s, 0, 0xcafebabe);
    store_le64(s, 8, 0x0000000200000001ULL);
    store_le64(s, 16, 2048);  // capacity
    store_le64(s, 24, 8);
    store_le64(s, 32, 64);
    for (size_t i = 0; i < 16; ++i) {
        store_le64(s, 80 + 8 * i, 100 + i);
    }
    return s;
}

TEST(VmdkCodecSeSparse, ConstHeaderFields)
{
    auto s = good_const_header();
    auto h = parse_sesparse_const_header(s);
    ASSERT_TRUE(h) << h.error().desc;
    EXPECT_EQ(h->capacity, 2048u);
    EXPECT_EQ(h->grain_size, 8u);
    EXPECT_EQ(h->grain_table_size, 64u);
    EXPECT_EQ(h->volatile_header_offset, 100u);
    EXPECT_EQ(h->volatile_header_size, 101u);
    EXPECT_EQ(h->journal_header_offset, 102u);
    EXPECT_EQ(h->journal_size, 105u);
    EXPECT_EQ(h->grain_dir_offset, 106u);
    EXPECT_EQ(h->grain_dir_size, 107u);
    EXPECT_EQ(h->grain_tables_offset, 108u);
    EXPECT_EQ(h->free_bitmap_size, 111u);
    EXPECT_EQ(h->backmap_offset, 112u);
    EXPECT_EQ(h->grains_offset, 114u);
    EXPECT_EQ(h->grains_size, 115u);
}

struct ConstHeaderCase {
    size_t at;
    uint64_t value;
    int err;
    const char* text;
};

TEST(VmdkCodecSeSparse, ConstHeaderChecksAndTexts)
{
    const ConstHeaderCase cases[] = {
        {0, 0xcafebabf, EINVAL, "Bad const header magic: 0x00000000cafebabf"},
        {8, 0x0000000200000002ULL, ENOTSUP, "Unsupported version: 0x0000000200000002"},
        {24, 16, ENOTSUP, "Unsupported grain size: 16"},
        {32, 128, ENOTSUP, "Unsupported grain table size: 128"},
        {40, 1, ENOTSUP, "Unsupported flags: 0x0000000000000001"},
        {64, 0xff, ENOTSUP,
            "Unsupported reserved bits: 0x0000000000000000 0x0000000000000000 0x00000000000000ff 0x0000000000000000"},
        {208, 1, ENOTSUP, "Unsupported non-zero const header padding"},
        {504, 1ULL << 56, ENOTSUP, "Unsupported non-zero const header padding"},
    };
    for (const auto& c : cases) {
        auto s = good_const_header();
        store_le64(s, c.at, c.value);
        auto h = parse_sesparse_const_header(s);
        ASSERT_FALSE(h) << c.text;
        EXPECT_EQ(h.error().desc, c.text);
        EXPECT_EQ(h.error().errno_value, c.err);
    }
}

TEST(VmdkCodecSeSparse, VolatileHeader)
{
    std::array<uint8_t, 512> s{};
    store_le64(s, 0, 0xcafecafe);
    store_le64(s, 8, 5);  // free GT number and sequence number are not checked
    store_le64(s, 16, 9);
    EXPECT_TRUE(check_sesparse_volatile_header(s));

    auto dirty = s;
    store_le64(dirty, 24, 1);
    auto r = check_sesparse_volatile_header(dirty);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Image is dirty, Replaying journal not supported");
    EXPECT_EQ(r.error().errno_value, ENOTSUP);

    auto bad_magic = s;
    store_le64(bad_magic, 0, 0xcafebabe);
    r = check_sesparse_volatile_header(bad_magic);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Bad volatile header magic: 0x00000000cafebabe");
    EXPECT_EQ(r.error().errno_value, EINVAL);

    auto padded = s;
    padded[511] = 1;
    r = check_sesparse_volatile_header(padded);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Unsupported non-zero volatile header padding");
}

TEST(VmdkCodecSeSparse, GrainDirectoryEntries)
{
    auto none = decode_sesparse_gd_entry(0);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    auto some = decode_sesparse_gd_entry(0x10000000'00000007ULL);
    ASSERT_TRUE(some && some->has_value());
    EXPECT_EQ(**some, 7u);
    for (uint64_t bad : {0x20000000'00000001ULL, 0x10000001'00000000ULL, 0x00000000'00000001ULL}) {
        auto r = decode_sesparse_gd_entry(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errno_value, EIO);
    }
    auto sector = sesparse_gt_sector(1000, 3);
    ASSERT_TRUE(sector);
    EXPECT_EQ(*sector, 1000u + 3 * 64);
    EXPECT_FALSE(sesparse_gt_sector(0xffffffffULL, 1));
    EXPECT_FALSE(sesparse_gt_sector(~0ULL, 0xffffffffULL));
}

TEST(VmdkCodecSeSparse, GrainTableEntries)
{
    auto un = decode_sesparse_gte(0);
    ASSERT_TRUE(un);
    EXPECT_EQ(un->kind, SeSparseGrain::Unallocated);
    auto unmapped = decode_sesparse_gte(0x1000000000000000ULL | 55);
    ASSERT_TRUE(unmapped);
    EXPECT_EQ(unmapped->kind, SeSparseGrain::Zero);
    auto zero = decode_sesparse_gte(0x2000000000000000ULL);
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->kind, SeSparseGrain::Zero);
    // The top 12 bits of the 60-bit value are the low bits of the grain number.
    auto alloc = decode_sesparse_gte(0x3abc000000000012ULL);
    ASSERT_TRUE(alloc);
    EXPECT_EQ(alloc->kind, SeSparseGrain::Allocated);
    EXPECT_EQ(alloc->cluster, (0x12ULL << 12) | 0xabc);
    for (uint64_t bad : {uint64_t{1}, uint64_t{0x4000000000000000}, uint64_t{0xf000000000000000}}) {
        auto r = decode_sesparse_gte(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errno_value, EIO);
    }
}

// ---- COWD ----

std::array<uint8_t, 512> good_cowd()
{
    std::array<uint8_t, 512> s{};
    std::memcpy(s.data(), "COWD", 4);
    uint32_t fields[] = {1, 3, 8192, 16, 4, 2, 300, 8, 16, 63};
    for (size_t i = 0; i < std::size(fields); ++i) {
        store_le32(s, 4 + 4 * i, fields[i]);
    }
    return s;
}

TEST(VmdkCodecCowd, HeaderFields)
{
    auto s = good_cowd();
    auto h = parse_cowd_header(s);
    ASSERT_TRUE(h) << h.error().desc;
    EXPECT_EQ(h->version, 1u);
    EXPECT_EQ(h->flags, 3u);
    EXPECT_EQ(h->disk_sectors, 8192u);
    EXPECT_EQ(h->granularity, 16u);
    EXPECT_EQ(h->l1dir_offset, 4u);
    EXPECT_EQ(h->l1dir_size, 2u);
    EXPECT_EQ(h->file_sectors, 300u);
    EXPECT_EQ(h->cylinders, 8u);
    EXPECT_EQ(h->heads, 16u);
    EXPECT_EQ(h->sectors_per_track, 63u);
}

TEST(VmdkCodecCowd, HeaderChecks)
{
    auto s = good_cowd();
    s[0] = 'K';
    auto r = parse_cowd_header(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Image not in VMDK format");

    s = good_cowd();
    store_le32(s, 16, 0x200001);
    r = parse_cowd_header(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Invalid granularity, image may be corrupt");
    EXPECT_EQ(r.error().errno_value, EFBIG);

    s = good_cowd();
    store_le32(s, 16, 0x200000);
    EXPECT_TRUE(parse_cowd_header(s));

    s = good_cowd();
    store_le32(s, 24, 32 * 1024 * 1024 + 1);
    r = parse_cowd_header(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "L1 size too big");
    EXPECT_EQ(r.error().errno_value, EFBIG);

    s = good_cowd();
    store_le32(s, 16, 0);
    r = parse_cowd_header(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errno_value, EINVAL);
}

}  // namespace
