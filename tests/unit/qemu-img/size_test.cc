// qemu-img's size grammar (QEMU 7.2's qemu_strtosz), its range-checked wrapper and the short
// human form info prints.
#include <gtest/gtest.h>

#include <cerrno>

#include "tools/qemu-img/img-size.h"

namespace qemu::img {
namespace {

uint64_t size_of(std::string_view text)
{
    auto parsed = parse_size(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed ? parsed->value : 0;
}

int error_of(std::string_view text)
{
    auto parsed = parse_size(text);
    EXPECT_FALSE(parsed.has_value()) << text;
    return parsed ? 0 : parsed.error();
}

TEST(ImgSize, SuffixesArePowersOf1024InEitherCase)
{
    EXPECT_EQ(size_of("1"), 1u);
    EXPECT_EQ(size_of("1b"), 1u);
    EXPECT_EQ(size_of("1B"), 1u);
    EXPECT_EQ(size_of("1k"), 1024u);
    EXPECT_EQ(size_of("1K"), 1024u);
    EXPECT_EQ(size_of("2m"), 2u << 20);
    EXPECT_EQ(size_of("3G"), 3ull << 30);
    EXPECT_EQ(size_of("1T"), 1ull << 40);
    EXPECT_EQ(size_of("1p"), 1ull << 50);
    EXPECT_EQ(size_of("7E"), 7ull << 60);
}

TEST(ImgSize, FractionsNeedAUnit)
{
    EXPECT_EQ(size_of("1.5M"), 1572864u);
    EXPECT_EQ(size_of("1.k"), 1024u);
    EXPECT_EQ(size_of("1.0"), 1u);
    EXPECT_EQ(size_of("1.5E"), 1729382256910270464u);
    EXPECT_EQ(error_of("1.5"), EINVAL);
    EXPECT_EQ(error_of("1.5b"), EINVAL);
    EXPECT_EQ(error_of(".5k"), EINVAL);
    EXPECT_EQ(error_of("1.5e3k"), EINVAL);
}

TEST(ImgSize, HexIsWholeAndWarnsWithASuffix)
{
    auto plain = parse_size("0x10");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->value, 16u);
    EXPECT_FALSE(plain->hex_with_suffix);
    // b is a hex digit, not the byte suffix.
    EXPECT_EQ(size_of("0x1b"), 27u);
    auto suffixed = parse_size("0x1k");
    ASSERT_TRUE(suffixed);
    EXPECT_EQ(suffixed->value, 1024u);
    EXPECT_TRUE(suffixed->hex_with_suffix);
    EXPECT_EQ(error_of("0x1.8k"), EINVAL);
}

TEST(ImgSize, RejectsSignsJunkAndEmptyInput)
{
    EXPECT_EQ(error_of(""), EINVAL);
    EXPECT_EQ(error_of("abc"), EINVAL);
    EXPECT_EQ(error_of("-0"), EINVAL);
    EXPECT_EQ(error_of("-1k"), EINVAL);
    EXPECT_EQ(error_of("1kb"), EINVAL);
    EXPECT_EQ(error_of("1k "), EINVAL);
    EXPECT_EQ(error_of("1e3"), EINVAL);
    EXPECT_EQ(size_of(" 1k"), 1024u);
    EXPECT_EQ(size_of("+1k"), 1024u);
}

TEST(ImgSize, OverflowIsERange)
{
    EXPECT_EQ(size_of("18446744073709551615"), UINT64_MAX);
    EXPECT_EQ(error_of("18446744073709551616"), ERANGE);
    EXPECT_EQ(error_of("16E"), ERANGE);
    EXPECT_EQ(error_of("16.5E"), ERANGE);
    EXPECT_EQ(size_of("15.5E"), 15ull << 60 | 1ull << 59);
}

TEST(ImgSize, CvtnumGivesQemusTwoMessages)
{
    auto bad = cvtnum("image size", "1kb");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc,
        "Invalid image size specified. You may use k, M, G, T, P or E suffixes for\n"
        "qemu-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
    auto big = cvtnum("image size", "8E");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().desc, "Invalid image size specified. Must be between 0 and 9223372036854775807.");
    auto small = cvtnum("bs", "0", 1, INT32_MAX);
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().desc, "Invalid bs specified. Must be between 1 and 2147483647.");
    auto good = cvtnum("image size", "9223372036854775807");
    ASSERT_TRUE(good);
    EXPECT_EQ(*good, INT64_MAX);
}

TEST(ImgSize, HumanSizesKeepThreeDigitsBelowOneThousand)
{
    EXPECT_EQ(size_to_str(0), "0 B");
    EXPECT_EQ(size_to_str(999), "999 B");
    EXPECT_EQ(size_to_str(1000), "0.977 KiB");
    EXPECT_EQ(size_to_str(1024), "1 KiB");
    EXPECT_EQ(size_to_str(4096), "4 KiB");
    EXPECT_EQ(size_to_str(73728), "72 KiB");
    EXPECT_EQ(size_to_str(64ull << 20), "64 MiB");
    EXPECT_EQ(size_to_str(33030144), "31.5 MiB");
    EXPECT_EQ(size_to_str(1000ull << 30), "0.977 TiB");
    EXPECT_EQ(size_to_str(UINT64_MAX), "16 EiB");
}

}  // namespace
}  // namespace qemu::img
