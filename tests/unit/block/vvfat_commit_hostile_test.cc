// The vvfat committer against FAT states a hostile or broken guest can write: names that
// are not one host name component, chains with cycles, cross-links, clusters out of range,
// chains longer than their file, directory loops, long-name garbage, duplicate names, stray
// FAT entries, paths over PATH_MAX; and host directories whose entries were swapped for
// symlinks leading out. Each must be refused (not consistent, or an error) with the host
// directory, its parent and the files beside it byte for byte unchanged.
#include <gtest/gtest.h>

#include "tests/unit/block/vvfat_commit_test_host.h"

using namespace vvfat_test;

namespace {

class VvfatCommitHostile : public CommitFixture {
protected:
    // A baseline with a file in the root and one in a subdirectory.
    void start_with_tree()
    {
        seed_file(kRoot, "", "file", pattern(3000, 'f'));
        sub = seed_dir(kRoot, "", "sub");
        seed_file(sub, "sub", "inner", "inner");
        start();
    }

    // An error, and nothing changed anywhere.
    void expect_error_and_unchanged()
    {
        auto outcome = commit();
        EXPECT_FALSE(outcome);
        EXPECT_EQ(snapshot(parent), before);
    }

    uint32_t sub = 0;
};

// ---- names ---------------------------------------------------------------------------------

class HostileLongName : public VvfatCommitHostile, public ::testing::WithParamInterface<std::string> { };

TEST_P(HostileLongName, IsRefused)
{
    start_with_tree();
    image->add_file(sub, GetParam(), "payload");
    expect_refused();
}

INSTANTIATE_TEST_SUITE_P(Names, HostileLongName,
    ::testing::Values("..", ".", "../escape", "a/b", "/abs", "back\\slash", "tab\there", std::string("nul\0inside", 10),
        std::string(256, 'n'), "del\x7f"));

TEST_F(VvfatCommitHostile, ShortNameWithSlashIsRefused)
{
    start_with_tree();
    image->add_entry(kRoot, u"", "A/B     TXT", 0x20, 0, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, ShortNameWithNonAsciiIsRefused)
{
    start_with_tree();
    image->add_entry(kRoot, u"", "CAF\xC9    TXT", 0x20, 0, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, DuplicateNamesAreRefused)
{
    start_with_tree();
    image->add_entry(kRoot, to_utf16("twin"), image->next_alias(), 0x20, 0, 0);
    image->add_entry(kRoot, to_utf16("twin"), image->next_alias(), 0x20, 0, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, PathLongerThanPathMaxIsRefused)
{
    start_with_tree();
    uint32_t dir = kRoot;
    for (int level = 0; level < 17; ++level) {
        dir = image->make_dir(dir, std::string(250, static_cast<char>('a' + level)));
    }
    expect_refused();
}

// ---- long-name entries -----------------------------------------------------------------------

// A long-name entry: number (with 0x40 for the first), checksum, 13 units.
std::array<uint8_t, 32> lfn_entry(uint8_t number, uint8_t checksum, std::u16string units)
{
    std::array<uint8_t, 32> e{};
    e[0] = number;
    e[11] = 0x0F;
    e[13] = checksum;
    units.resize(13, 0xFFFF);
    static constexpr size_t offsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    for (size_t i = 0; i < 13; ++i) {
        e[offsets[i]] = static_cast<uint8_t>(units[i]);
        e[offsets[i] + 1] = static_cast<uint8_t>(units[i] >> 8);
    }
    return e;
}

uint8_t checksum_of(const std::string& short11)
{
    uint8_t sum = 0;
    for (char c : short11) {
        sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + static_cast<uint8_t>(c));
    }
    return sum;
}

// Writes raw entries into the free root slots after the existing ones, then an 8.3 entry.
class LongNameGarbage : public VvfatCommitHostile {
protected:
    void write_entries(const std::vector<std::array<uint8_t, 32>>& lfns, const std::string& short11)
    {
        std::vector<size_t> slots = image->slots(kRoot);
        size_t at = 0;
        while (image->disk()[slots[at]] != 0) {
            ++at;
        }
        for (const auto& e : lfns) {
            image->write_bytes(slots[at++], e);
        }
        std::array<uint8_t, 32> s{};
        std::memcpy(s.data(), short11.data(), 11);
        s[11] = 0x20;
        image->write_bytes(slots[at], s);
    }
};

TEST_F(LongNameGarbage, SequenceGapIsRefused)
{
    start_with_tree();
    std::string alias = "GAP     TXT";
    uint8_t sum = checksum_of(alias);
    write_entries({lfn_entry(0x43, sum, u"ccc"), lfn_entry(0x01, sum, u"aaaaaaaaaaaaa")}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, ContinuationWithOtherChecksumIsRefused)
{
    start_with_tree();
    std::string alias = "SUM     TXT";
    uint8_t sum = checksum_of(alias);
    write_entries({lfn_entry(0x42, sum, u"bb"), lfn_entry(0x01, sum ^ 1, u"aaaaaaaaaaaaa")}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, PaddingBeforeTheLastEntryIsRefused)
{
    start_with_tree();
    std::string alias = "PAD     TXT";
    uint8_t sum = checksum_of(alias);
    write_entries({lfn_entry(0x42, sum, u"bb"), lfn_entry(0x01, sum, u"aa")}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, UnpairedSurrogateIsRefused)
{
    start_with_tree();
    std::string alias = "SUR     TXT";
    std::u16string units = u"x";
    units += static_cast<char16_t>(0xD800);
    units += u'y';
    units += u'\0';
    write_entries({lfn_entry(0x41, checksum_of(alias), units)}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, CharactersAfterTheTerminatorAreRefused)
{
    start_with_tree();
    std::string alias = "TRM     TXT";
    std::u16string units = u"ok";
    units += u'\0';
    units += u"evil/../x";
    write_entries({lfn_entry(0x41, checksum_of(alias), units)}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, EntryNumberZeroOrOverTwentyIsRefused)
{
    start_with_tree();
    std::string alias = "NUM     TXT";
    write_entries({lfn_entry(0x40, checksum_of(alias), u"zero")}, alias);
    expect_refused();
    LongNameGarbage::TearDown();
    set_up(small_geometry());
    start_with_tree();
    write_entries({lfn_entry(0x7F, checksum_of(alias), u"big")}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, StrayContinuationIsRefused)
{
    start_with_tree();
    std::string alias = "STR     TXT";
    write_entries({lfn_entry(0x01, checksum_of(alias), u"stray")}, alias);
    expect_refused();
}

TEST_F(LongNameGarbage, LongNameOfAnotherEntryFallsBackToTheShortName)
{
    // A checksum that does not match the 8.3 entry: the long name belongs to nothing, and
    // the 8.3 name is used, as QEMU does.
    start_with_tree();
    write_entries({lfn_entry(0x41, 0x00, u"orphan")}, "SHORT   TXT");
    expect_committed();
    EXPECT_EQ(read_file(share / "short.txt"), "");
}

// ---- chains ----------------------------------------------------------------------------------

TEST_F(VvfatCommitHostile, ChainCycleIsRefused)
{
    start_with_tree();
    std::vector<uint32_t> c = image->allocate(2);
    image->set_fat(c[1], c[0]);
    image->add_entry(kRoot, to_utf16("cycle"), image->next_alias(), 0x20, c[0], 3 * 1024);
    expect_refused();
}

TEST_F(VvfatCommitHostile, CrossLinkedFilesAreRefused)
{
    start_with_tree();
    uint32_t shared = image->cluster_of(kRoot, "file");
    image->add_entry(kRoot, to_utf16("thief"), image->next_alias(), 0x20, shared, 3000);
    expect_refused();
}

TEST_F(VvfatCommitHostile, FirstClusterOutOfRangeIsRefused)
{
    start_with_tree();
    image->add_entry(kRoot, to_utf16("far"), image->next_alias(), 0x20, 0xFF0, 10);
    expect_refused();
}

TEST_F(VvfatCommitHostile, NextClusterOutOfRangeOrReservedIsRefused)
{
    for (uint32_t next : {0u, 1u, 500u, 0xFF7u}) {
        SCOPED_TRACE(next);
        start_with_tree();
        uint32_t first = image->cluster_of(kRoot, "file");
        image->set_fat(first, next);
        expect_refused();
        TearDown();
        set_up(small_geometry());
    }
}

TEST_F(VvfatCommitHostile, ChainLongerThanTheSizeIsRefused)
{
    start_with_tree();
    std::vector<uint32_t> c = image->allocate(150);
    image->add_entry(kRoot, to_utf16("long"), image->next_alias(), 0x20, c[0], 1);
    expect_refused();
}

TEST_F(VvfatCommitHostile, SizeBeyondTheChainIsRefused)
{
    start_with_tree();
    std::vector<uint32_t> c = image->allocate(1);
    image->add_entry(kRoot, to_utf16("huge"), image->next_alias(), 0x20, c[0], 0xFFFFFFFF);
    expect_refused();
}

TEST_F(VvfatCommitHostile, StrayAllocatedClusterIsRefused)
{
    start_with_tree();
    image->set_fat(120, image->max_value());
    expect_refused();
}

// ---- directory loops -------------------------------------------------------------------------

TEST_F(VvfatCommitHostile, DirectoryContainingItselfIsRefused)
{
    start_with_tree();
    image->add_entry(sub, to_utf16("self"), image->next_alias(), 0x10, sub, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, DirectoryContainingItsParentIsRefused)
{
    start_with_tree();
    uint32_t child = image->make_dir(sub, "child");
    image->add_entry(child, to_utf16("up"), image->next_alias(), 0x10, sub, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, DirectoryPointingAtTheRootIsRefused)
{
    start_with_tree();
    image->add_entry(sub, to_utf16("root"), image->next_alias(), 0x10, 0, 0);
    expect_refused();
}

TEST_F(VvfatCommitHostile, DirectoryChainCycleIsRefused)
{
    start_with_tree();
    image->set_fat(sub, sub);
    expect_refused();
}

// ---- the host side -------------------------------------------------------------------------

TEST_F(VvfatCommitHostile, SymlinkLeadingOutIsNeverFollowedByANewFile)
{
    seed_file(kRoot, "", "file", "f");
    fs::create_symlink("../outside/victim", share / "link");
    fs::create_directory_symlink("../outside", share / "linkdir");
    start();
    image->add_file(kRoot, "link", "overwritten?");
    image->add_file(kRoot, "linkdir", "as a file");
    expect_error_and_unchanged();
}

TEST_F(VvfatCommitHostile, DirectorySwappedForASymlinkIsNeverEntered)
{
    start_with_tree();
    fs::remove_all(share / "sub");
    fs::create_directory_symlink("../outside", share / "sub");
    before = snapshot(parent);
    image->rewrite_file(sub, "inner", "written through a symlink?");
    image->add_file(sub, "victim", "replaced?");
    expect_error_and_unchanged();
    EXPECT_EQ(read_file(parent / "outside" / "victim"), "keep me");
}

TEST_F(VvfatCommitHostile, FileSwappedForASymlinkIsNeverWrittenThrough)
{
    start_with_tree();
    fs::remove(share / "file");
    fs::create_symlink("../outside/victim", share / "file");
    before = snapshot(parent);
    image->rewrite_file(kRoot, "file", "written through a symlink?");
    expect_error_and_unchanged();
}

TEST_F(VvfatCommitHostile, BootSectorGarbageDoesNotMatter)
{
    start_with_tree();
    std::vector<uint8_t> garbage(512, 0xFF);
    image->write_bytes(0, garbage);
    image->add_file(kRoot, "new", "n");
    expect_committed();
    EXPECT_EQ(read_file(share / "new"), "n");
}

TEST_F(VvfatCommitHostile, ImpossibleGeometryOrNonDirectoryIsRefusedAtCreate)
{
    FatGeometry good = small_geometry();
    qemu::UniqueFd dir(open(share.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(FatCommitter::create(good, dir.get(), *image));
    using Breaker = void (*)(FatGeometry&);
    for (Breaker bad : std::initializer_list<Breaker>{[](FatGeometry& g) { g.fat_type = 13; },
             [](FatGeometry& g) { g.sectors_per_cluster = 3; },
             [](FatGeometry& g) { g.first_data_sector = g.total_sectors; },
             [](FatGeometry& g) { g.sectors_per_fat = 0; }, [](FatGeometry& g) { g.root_dir_sectors = 0; }}) {
        FatGeometry g = good;
        bad(g);
        EXPECT_FALSE(FatCommitter::create(g, dir.get(), *image));
    }
    qemu::UniqueFd file(open((parent / "sentinel").c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_FALSE(FatCommitter::create(good, file.get(), *image));
}

}  // namespace
