// The byte-order helpers of util/bswap.h: each width in each order against hand-written
// bytes, round trips at unaligned offsets, and the typed header fields.
#include "util/bswap.h"

#include <array>
#include <gtest/gtest.h>
#include <vector>

using namespace qemu;

TEST(Bswap, LittleEndianPutsTheLowByteFirst)
{
    const std::array<uint8_t, 9> b = {0xEE, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(load_le16(b, 1), 0x0201u);
    EXPECT_EQ(load_le32(b, 1), 0x04030201u);
    EXPECT_EQ(load_le64(b, 1), 0x0807060504030201ull);
}

TEST(Bswap, BigEndianPutsTheHighByteFirst)
{
    const std::array<uint8_t, 9> b = {0xEE, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(load_be16(b, 1), 0x0102u);
    EXPECT_EQ(load_be32(b, 1), 0x01020304u);
    EXPECT_EQ(load_be64(b, 1), 0x0102030405060708ull);
}

TEST(Bswap, StoresWriteOnlyTheirBytesAndReadBack)
{
    std::vector<uint8_t> b(11, 0xAA);
    store_le64(b, 1, 0x8877665544332211ull);
    EXPECT_EQ(b, (std::vector<uint8_t>{0xAA, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xAA, 0xAA}));
    store_be32(b, 3, 0xDEADBEEF);
    EXPECT_EQ(b, (std::vector<uint8_t>{0xAA, 0x11, 0x22, 0xDE, 0xAD, 0xBE, 0xEF, 0x77, 0x88, 0xAA, 0xAA}));
    store_le16(b, 9, 0xFFFE);
    EXPECT_EQ(load_le16(b, 9), 0xFFFEu);
    store_be16(b, 9, 0x1234);
    EXPECT_EQ(b[9], 0x12);
    store_le32(b, 5, 0xCAFEF00D);
    EXPECT_EQ(load_le32(b, 5), 0xCAFEF00Du);
    store_be64(b, 2, ~uint64_t{0} - 1);
    EXPECT_EQ(load_be64(b, 2), ~uint64_t{0} - 1);
    EXPECT_EQ(b[9], 0xFE);
}

TEST(Bswap, TypedFieldsKnowTheirWidthAndOrder)
{
    constexpr LeField<uint32_t> kLe{2};
    constexpr BeField<uint64_t> kBe{6};
    std::array<uint8_t, 16> b{};
    kLe.store(b, 0x01020304);
    kBe.store(b, 0x1112131415161718ull);
    EXPECT_EQ(b[2], 0x04);
    EXPECT_EQ(b[6], 0x11);
    EXPECT_EQ(kLe.load(b), 0x01020304u);
    EXPECT_EQ(kBe.load(b), 0x1112131415161718ull);
    static_assert(LeField<uint16_t>{0}.load(std::array<uint8_t, 2>{0x34, 0x12}) == 0x1234);
}
