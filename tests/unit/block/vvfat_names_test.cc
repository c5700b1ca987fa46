// vvfat's directory names: the 8.3 aliases QEMU 7.2 makes (what is dropped, upper-cased,
// where the ~N tail goes), the VFAT long-name entries and their checksum, and the names
// that are not UTF-8. The expected bytes were taken from disks Debian's QEMU 7.2 made.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "block/vvfat/vvfat-names.h"

using namespace qemu::block::vvfat;

namespace {

std::string text(const ShortName& name)
{
    return std::string(name.begin(), name.end());
}

// The alias QEMU gives the first file of that name in an empty directory.
std::string first_alias(std::string_view host_name)
{
    ShortNameBase base = short_name_base(host_name);
    if (base.lossy) {
        apply_numeric_tail(base.name, short_name_length(base.name), 1);
    }
    return text(base.name);
}

TEST(VvfatNames, NameThatFits83IsUpperCasedWithoutTail)
{
    EXPECT_EQ(first_alias("HELLO.TXT"), "HELLO   TXT");
    EXPECT_EQ(first_alias("hello.txt"), "HELLO   TXT");
    EXPECT_EQ(first_alias("sub"), "SUB        ");
    EXPECT_FALSE(short_name_base("Readme.md").lossy);
}

TEST(VvfatNames, DroppedOrCutCharactersForceTildeOne)
{
    EXPECT_EQ(first_alias("a long file name.txt"), "ALONGF~1TXT");
    EXPECT_EQ(first_alias("exactly13char"), "EXACTL~1   ");
    EXPECT_EQ(first_alias("x+y=z;1,2[3].dat"), "XYZ123~1DAT");
    EXPECT_EQ(first_alias("readme.markdown"), "README~1MAR");
}

TEST(VvfatNames, LeadingDotIsDroppedAndOnlyTheLastDotStartsTheExtension)
{
    EXPECT_EQ(first_alias(".hidden"), "HIDDEN~1   ");
    EXPECT_EQ(first_alias("a.b.c"), "A~1     C  ");
    // A dot before anything was kept is dropped, so what follows is part of the name.
    EXPECT_EQ(first_alias("+.txt"), "TXT~1      ");
}

TEST(VvfatNames, NonAsciiLettersAreDroppedPunctuationKept)
{
    EXPECT_EQ(first_alias("Ünïcödé.txt"), "NCD~1   TXT");
    EXPECT_EQ(first_alias("$%'-_@~`.!()"), "$%'-_@~`!()");
}

TEST(VvfatNames, TailMovesLeftToStayWithinEightCharacters)
{
    ShortNameBase base = short_name_base("ALONGFILE.TXT");
    size_t length = short_name_length(base.name);
    EXPECT_EQ(length, 8u);
    apply_numeric_tail(base.name, length, 1);
    EXPECT_EQ(text(base.name), "ALONGF~1TXT");
    apply_numeric_tail(base.name, length, 10);
    EXPECT_EQ(text(base.name), "ALONG~10TXT");
    ShortNameBase shorter = short_name_base("ab");
    apply_numeric_tail(shorter.name, short_name_length(shorter.name), 12);
    EXPECT_EQ(text(shorter.name), "AB~12      ");
}

TEST(VvfatNames, ChecksumMatchesQemusLongNameEntries)
{
    // From QEMU's disk: "ok.txt" has alias "OK      TXT" and checksum 0x56.
    ShortName ok;
    std::string raw = "OK      TXT";
    std::copy(raw.begin(), raw.end(), ok.begin());
    EXPECT_EQ(short_name_checksum(ok), 0x56);
}

TEST(VvfatNames, LongNameEntryLayout)
{
    auto entries = long_name_entries("ok.txt");
    ASSERT_TRUE(entries.has_value());
    ASSERT_EQ(entries->size(), 1u);
    // QEMU's bytes for "ok.txt" (checksum byte 13 is filled in by the caller).
    const uint8_t expected[32] = {0x41, 'o', 0, 'k', 0, '.', 0, 't', 0, 'x', 0, 0x0f, 0, 0, 't', 0, 0, 0, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(std::memcmp(entries->front().data(), expected, 32), 0);
}

TEST(VvfatNames, ThirteenUnitsFillOneEntryWithoutTerminator)
{
    auto thirteen = long_name_entries("abcdefghijklm");
    ASSERT_EQ(thirteen->size(), 1u);
    EXPECT_EQ(thirteen->front()[30], 'm');
    auto fourteen = long_name_entries("abcdefghijklmn");
    ASSERT_EQ(fourteen->size(), 2u);
    // The first entry in the directory holds the last piece: "n", NUL, then 0xFFFF.
    EXPECT_EQ(fourteen->at(0)[0], 0x42);
    EXPECT_EQ(fourteen->at(0)[1], 'n');
    EXPECT_EQ(fourteen->at(0)[3], 0);
    EXPECT_EQ(fourteen->at(0)[5], 0xff);
    EXPECT_EQ(fourteen->at(1)[0], 0x01);
    EXPECT_EQ(fourteen->at(1)[1], 'a');
}

TEST(VvfatNames, LongNamesAreNotCutShort)
{
    // QEMU 7.2 wrote 11 entries for a 142-character name.
    auto entries = long_name_entries(std::string(140, 'x') + ".t");
    ASSERT_TRUE(entries.has_value());
    EXPECT_EQ(entries->size(), 11u);
    EXPECT_EQ(entries->front()[0], 0x4b);
}

TEST(VvfatNames, Utf16ForNonAsciiAndSurrogatePairs)
{
    auto entries = long_name_entries("日\xF0\x9F\x98\x80");  // U+65E5, U+1F600
    ASSERT_TRUE(entries.has_value());
    const DirEntry& e = entries->front();
    EXPECT_EQ(e[1] | (e[2] << 8), 0x65e5);
    EXPECT_EQ(e[3] | (e[4] << 8), 0xd83d);
    EXPECT_EQ(e[5] | (e[6] << 8), 0xde00);
    EXPECT_EQ(e[7] | (e[8] << 8), 0);
}

TEST(VvfatNames, InvalidUtf8GetsNoLongNameButAnAliasFromItsBytes)
{
    EXPECT_FALSE(is_valid_utf8("ab\xff"
                               "cd.txt"));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));  // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // a surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xe6\x97"));  // cut short
    EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));
    EXPECT_FALSE(long_name_entries("ab\xff"
                                   "cd.txt")
                     .has_value());
    // As QEMU 7.2 named it on disk: the bad byte is dropped (glib decodes it as -1).
    EXPECT_EQ(first_alias("ab\xff"
                          "cd.txt"),
        "ABCD~1  TXT");
    // glib skips the bytes a lead byte announces, good or not: 'x' goes with 0xC3.
    EXPECT_EQ(first_alias("\xc3x.bin"), "BIN~1      ");
}

TEST(VvfatNames, CutUtf8AtTheEndDoesNotReadPastTheName)
{
    std::string name = "a\xe6";
    EXPECT_EQ(first_alias(std::string_view(name.data(), name.size())), "A~1        ");
}

}  // namespace
