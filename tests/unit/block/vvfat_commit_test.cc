// The vvfat committer on guest changes a FAT driver makes: new, extended, shrunk, rewritten,
// deleted, renamed and moved files; new, renamed and deleted directories; long and short
// names; FAT12, FAT16 and FAT32. Each test builds the same tree in an image and on the host,
// lets the "guest" change the image, commits, and compares the whole host directory.
#include <gtest/gtest.h>

#include "tests/unit/block/vvfat_commit_test_host.h"

using namespace vvfat_test;
using qemu::block::vvfat::DirtySectors;

namespace {

class VvfatCommit : public CommitFixture { };

TEST_F(VvfatCommit, UnchangedDiskCommitsNothing)
{
    seed_file(kRoot, "", "hello.txt", "hello\n");
    uint32_t sub = seed_dir(kRoot, "", "sub");
    seed_file(sub, "sub", "big.bin", pattern(3000, 'a'));
    start();
    auto outcome = commit();
    ASSERT_TRUE(outcome) << outcome.error().desc;
    EXPECT_TRUE(outcome->committed());
    EXPECT_EQ(outcome->host_changes, 0u);
    EXPECT_EQ(snapshot(parent), before);
}

TEST_F(VvfatCommit, NewFilesOfEveryLengthAreCreated)
{
    uint32_t sub = seed_dir(kRoot, "", "sub");
    start();
    image->add_file(kRoot, "empty", "");
    image->add_file(kRoot, "one", "x");
    image->add_file(kRoot, "cluster", pattern(1024, 'c'));
    image->add_file(sub, "multi.bin", pattern(5000, 'm'));
    expect_committed();
    Snapshot want = {{"sub", "dir"}, {"empty", "file:"}, {"one", "file:x"}, {"cluster", "file:" + pattern(1024, 'c')},
        {"sub/multi.bin", "file:" + pattern(5000, 'm')}};
    EXPECT_EQ(share_snapshot(), want);
}

TEST_F(VvfatCommit, ExtendShrinkAndOverwriteChangeOnlyThoseFiles)
{
    seed_file(kRoot, "", "grow", pattern(1000, 'g'));
    seed_file(kRoot, "", "shrink", pattern(4000, 's'));
    seed_file(kRoot, "", "edit", pattern(3072, 'e'));
    seed_file(kRoot, "", "same", "untouched");
    start();
    struct stat same_before { };
    ASSERT_EQ(stat((share / "same").c_str(), &same_before), 0);
    image->rewrite_file(kRoot, "grow", pattern(2500, 'G'));
    image->rewrite_file(kRoot, "shrink", pattern(100, 's'));
    std::string edited = pattern(3072, 'e');
    edited.replace(1024, 1024, std::string(1024, 'Z'));  // the second cluster only
    image->rewrite_file(kRoot, "edit", edited);
    expect_committed();
    Snapshot want = {{"grow", "file:" + pattern(2500, 'G')}, {"shrink", "file:" + pattern(100, 's')},
        {"edit", "file:" + edited}, {"same", "file:untouched"}};
    EXPECT_EQ(share_snapshot(), want);
    struct stat same_after { };
    ASSERT_EQ(stat((share / "same").c_str(), &same_after), 0);
    EXPECT_EQ(same_after.st_mtim.tv_nsec, same_before.st_mtim.tv_nsec);
    EXPECT_EQ(same_after.st_ino, same_before.st_ino);
}

TEST_F(VvfatCommit, FileTruncatedToZeroStaysAsEmptyFile)
{
    seed_file(kRoot, "", "data", pattern(2000, 'd'));
    start();
    struct stat st { };
    ASSERT_EQ(stat((share / "data").c_str(), &st), 0);
    image->rewrite_file(kRoot, "data", "");
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"data", "file:"}}));
    struct stat after { };
    ASSERT_EQ(stat((share / "data").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, st.st_ino);
}

TEST_F(VvfatCommit, DeletedFilesAndDirectoriesGo)
{
    seed_file(kRoot, "", "keep", "k");
    seed_file(kRoot, "", "gone", "g");
    seed_file(kRoot, "", "empty-gone", "");
    seed_dir(kRoot, "", "emptydir");
    uint32_t full = seed_dir(kRoot, "", "full");
    uint32_t inner = seed_dir(full, "full", "inner");
    seed_file(inner, "full/inner", "deep", pattern(1500, 'x'));
    start();
    commit_after_every_write();
    image->remove(kRoot, "gone");
    image->remove(kRoot, "empty-gone");
    image->remove(kRoot, "emptydir");
    image->remove(inner, "deep");
    image->remove(full, "inner");
    image->remove(kRoot, "full");
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"keep", "file:k"}}));
}

TEST_F(VvfatCommit, RenamesAndMovesKeepTheHostFile)
{
    seed_file(kRoot, "", "old.txt", pattern(1500, 'o'));
    seed_file(kRoot, "", "mover", "m");
    uint32_t sub = seed_dir(kRoot, "", "sub");
    seed_file(sub, "sub", "child", "c");
    seed_dir(kRoot, "", "target");
    start();
    struct stat st { };
    ASSERT_EQ(stat((share / "old.txt").c_str(), &st), 0);
    image->rename(kRoot, "old.txt", kRoot, "new name.txt");
    image->rename(kRoot, "mover", image->cluster_of(kRoot, "target"), "moved");
    image->rename(kRoot, "sub", kRoot, "renamed-sub");
    expect_committed();
    Snapshot want = {{"new name.txt", "file:" + pattern(1500, 'o')}, {"target", "dir"}, {"target/moved", "file:m"},
        {"renamed-sub", "dir"}, {"renamed-sub/child", "file:c"}};
    EXPECT_EQ(share_snapshot(), want);
    struct stat after { };
    ASSERT_EQ(stat((share / "new name.txt").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, st.st_ino);
}

TEST_F(VvfatCommit, SwappedNamesAndRenameOverDeletedFile)
{
    seed_file(kRoot, "", "a", "AAAA");
    seed_file(kRoot, "", "b", "BBBB");
    seed_file(kRoot, "", "c", "CCCC");
    seed_file(kRoot, "", "d", "DDDD");
    start();
    image->rename(kRoot, "a", kRoot, "tmp");
    image->rename(kRoot, "b", kRoot, "a");
    image->rename(kRoot, "tmp", kRoot, "b");
    image->remove(kRoot, "d");
    image->rename(kRoot, "c", kRoot, "d");  // over a file the guest deleted
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"a", "file:BBBB"}, {"b", "file:AAAA"}, {"d", "file:CCCC"}}));
}

TEST_F(VvfatCommit, DirectoryMovedIntoNewDirectoryAndFileMovedOutOfDeletedOne)
{
    uint32_t old_dir = seed_dir(kRoot, "", "old");
    seed_file(old_dir, "old", "rescued", "r");
    uint32_t tree = seed_dir(kRoot, "", "tree");
    seed_file(tree, "tree", "leaf", "l");
    start();
    uint32_t fresh = image->make_dir(kRoot, "fresh");
    uint32_t nested = image->make_dir(fresh, "nested");
    image->rename(kRoot, "tree", nested, "tree");
    image->rename(old_dir, "rescued", kRoot, "rescued");
    image->remove(kRoot, "old");
    image->add_file(nested, "new.txt", "n");
    expect_committed();
    Snapshot want = {{"fresh", "dir"}, {"fresh/nested", "dir"}, {"fresh/nested/tree", "dir"},
        {"fresh/nested/tree/leaf", "file:l"}, {"fresh/nested/new.txt", "file:n"}, {"rescued", "file:r"}};
    EXPECT_EQ(share_snapshot(), want);
}

TEST_F(VvfatCommit, LongUnicodeNamesAndShortOnlyNames)
{
    start();
    std::string name = "Grüße – файл 名前 \xF0\x9F\x98\x80 with a rather long name.txt";
    image->add_file(kRoot, name, "u");
    // An 8.3 entry without long name, as DOS writes it: QEMU lower-cases it.
    uint32_t c = image->allocate(1)[0];
    image->write_data({c}, "dos");
    image->add_entry(kRoot, u"", "README  TXT", 0x20, c, 3);
    image->add_entry(kRoot, u"", "NOEXT      ", 0x20, 0, 0);
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{name, "file:u"}, {"readme.txt", "file:dos"}, {"noext", "file:"}}));
}

TEST_F(VvfatCommit, HalfDoneUpdateWaitsThenCommits)
{
    start();
    // A guest driver allocates and fills clusters before the directory entry exists.
    std::vector<uint32_t> clusters = image->allocate(2);
    image->write_data(clusters, pattern(2048, 'h'));
    auto outcome = commit();
    ASSERT_TRUE(outcome);
    EXPECT_FALSE(outcome->committed());
    EXPECT_EQ(share_snapshot(), Snapshot{});
    image->add_entry(kRoot, to_utf16("late.bin"), image->next_alias(), 0x20, clusters[0], 2048);
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"late.bin", "file:" + pattern(2048, 'h')}}));
}

TEST_F(VvfatCommit, WrittenFreeClusterDoesNotHoldBackACommit)
{
    seed_dir(kRoot, "", "d");
    start();
    image->write_data({50}, "stray");
    // QEMU's USED_ALLOCATED check would wait here until cluster 50 is used, and commit
    // nothing more if it never is (a guest writing into a directory it had just freed).
    image->remove(kRoot, "d");
    expect_committed();
    EXPECT_EQ(share_snapshot(), Snapshot{});
    // The stray bytes, linked into a file later, still reach the host: the committer reads
    // a cluster that is new in a chain whatever the dirty set says.
    image->add_entry(kRoot, to_utf16("late.bin"), image->next_alias(), 0x20, 50, 5);
    image->set_fat(50, image->max_value());
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"late.bin", "file:stray"}}));
}

TEST_F(VvfatCommit, SuccessiveCommitsBuildOnEachOther)
{
    start();
    image->add_file(kRoot, "f", "1");
    expect_committed();
    image->rewrite_file(kRoot, "f", pattern(3000, '2'));
    expect_committed();
    image->rename(kRoot, "f", kRoot, "g");
    expect_committed();
    image->remove(kRoot, "g");
    image->make_dir(kRoot, "d");
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"d", "dir"}}));
    auto entries = committer->committed_entries();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].path, "d");
    EXPECT_TRUE(entries[0].is_directory);
}

TEST_F(VvfatCommit, WriteProtectedHostFileIsRefusedWithQemuText)
{
    seed_file(kRoot, "", "ro.txt", "original");
    seed_file(kRoot, "", "other", "o");
    fs::permissions(share / "ro.txt", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    start();
    image->rewrite_file(kRoot, "ro.txt", "changed!");
    image->add_file(kRoot, "new", "n");
    auto outcome = commit();
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().desc, "Tried to write to write-protected file ro.txt");
    EXPECT_EQ(snapshot(parent), before);  // refused before any change
}

TEST_F(VvfatCommit, FailedCommitResumesWhereItStopped)
{
    seed_file(kRoot, "", "a", "a");
    start();
    write_file(share / "clash", "host only");  // appears behind the committer's back
    image->rename(kRoot, "a", kRoot, "b");
    image->add_file(kRoot, "clash", "guest");
    auto outcome = commit();
    ASSERT_FALSE(outcome);  // never overwrites what it does not know
    EXPECT_EQ(read_file(share / "clash"), "host only");
    fs::remove(share / "clash");
    expect_committed();
    EXPECT_EQ(share_snapshot(), (Snapshot{{"b", "file:a"}, {"clash", "file:guest"}}));
}

TEST_F(VvfatCommit, ClusterMovedBetweenFilesIsCopiedBeforeTheSourceChanges)
{
    seed_file(kRoot, "", "src", pattern(2048, 's'));
    start();
    // The guest gives src's second cluster to a new file without rewriting it, then
    // shrinks src to one cluster: the data must come from src as it was.
    uint32_t first = image->cluster_of(kRoot, "src");
    uint32_t second = image->fat(first);
    image->set_fat(first, image->max_value());
    size_t at = image->entry_of(kRoot, "src");
    uint8_t size[4] = {0, 4, 0, 0};  // 1024
    image->write_bytes(at + 28, size);
    image->add_entry(kRoot, to_utf16("taker"), image->next_alias(), 0x20, second, 1024);
    image->dirty.clear();  // nothing of the data was written by the guest
    expect_committed();
    std::string s = pattern(2048, 's');
    EXPECT_EQ(share_snapshot(), (Snapshot{{"src", "file:" + s.substr(0, 1024)}, {"taker", "file:" + s.substr(1024)}}));
}

TEST(VvfatDirtySectors, RangesMergeAndAnswerOverlaps)
{
    DirtySectors dirty;
    EXPECT_FALSE(dirty.any_in(0, 100));
    dirty.add(10, 5);  // 10..14
    dirty.add(20, 5);  // 20..24
    dirty.add(15, 5);  // joins both
    dirty.add(~0ull - 1, 100);  // clamped at the top, no overflow
    int ranges = 0;
    dirty.for_each_range([&](uint64_t first, uint64_t count) {
        if (ranges++ == 0) {
            EXPECT_EQ(first, 10u);
            EXPECT_EQ(count, 15u);
        }
    });
    EXPECT_EQ(ranges, 2);
    EXPECT_TRUE(dirty.any_in(0, 11));
    EXPECT_FALSE(dirty.any_in(0, 10));
    EXPECT_TRUE(dirty.any_in(24, 1));
    EXPECT_FALSE(dirty.any_in(25, 1000));
    EXPECT_FALSE(dirty.any_in(12, 0));
    dirty.clear();
    EXPECT_TRUE(dirty.empty());
}

// The same guest session on every FAT type, and with a FAT32 root in a cluster chain.
class VvfatCommitTypes : public CommitFixture, public ::testing::WithParamInterface<std::tuple<uint32_t, bool>> {
protected:
    void SetUp() override
    {
        auto [type, chain_root] = GetParam();
        set_up(small_geometry(type, 4, 300, chain_root));
    }
};

TEST_P(VvfatCommitTypes, GuestSessionLandsOnHost)
{
    seed_file(kRoot, "", "keep", pattern(5000, 'k'));
    uint32_t sub = seed_dir(kRoot, "", "sub");
    seed_file(sub, "sub", "x", "x");
    start();
    commit_after_every_write();
    // A chained root grows past its first cluster; the fixed root has room for 64 entries.
    const int files = std::get<1>(GetParam()) ? 40 : 25;
    for (int i = 0; i < files; ++i) {
        image->add_file(kRoot, "file-" + std::to_string(i), pattern(100 * i, static_cast<char>('a' + i % 20)));
    }
    image->rename(sub, "x", kRoot, "y");
    image->rewrite_file(kRoot, "keep", pattern(9000, 'K'));
    expect_committed();
    Snapshot want = {{"keep", "file:" + pattern(9000, 'K')}, {"sub", "dir"}, {"y", "file:x"}};
    for (int i = 0; i < files; ++i) {
        want["file-" + std::to_string(i)] = "file:" + pattern(100 * i, static_cast<char>('a' + i % 20));
    }
    EXPECT_EQ(share_snapshot(), want);
}

INSTANTIATE_TEST_SUITE_P(Types, VvfatCommitTypes,
    ::testing::Values(std::make_tuple(12u, false), std::make_tuple(16u, false), std::make_tuple(32u, false),
        std::make_tuple(32u, true)));

}  // namespace
