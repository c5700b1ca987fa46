// block::reopen's handling of file descriptors: each file node takes the cache mode its
// own options give it, and a reopen the driver refuses after the descriptors were swapped
// leaves the old ones in place, with nothing leaked.
#include <fcntl.h>

#include "block/block-backend.h"
#include "block/drivers.h"
#include "block/file-posix.h"
#include "block/reopen.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::open_fd_count;
using block_test::rw;

namespace {

int file_flags(BlockNode& raw)
{
    return file_posix::state_of(*raw.file()).open_flags;
}

TEST_F(BlockTest, ReopenGivesAnInlineChildItsOwnCacheMode)
{
    std::string p = make_image("img.raw", 1 << 20);
    auto node = graph().open(p, {{"driver", "raw"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    BlockOptions both_direct{{"driver", "raw"}, {"cache.direct", "on"}, {"file.driver", "file"}, {"file.filename", p}};
    auto done = reopen(**node, both_direct);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE(file_flags(**node) & O_DIRECT) << "the child inherits the parent's cache.direct";

    BlockOptions child_cached = both_direct;
    child_cached["file.cache.direct"] = "off";
    done = reopen(**node, child_cached);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_FALSE(file_flags(**node) & O_DIRECT) << "the child's own cache.direct wins";
    EXPECT_TRUE((*node)->flags().cache_direct);
    EXPECT_FALSE((*node)->file()->flags().cache_direct);
}

TEST_F(BlockTest, ReopenRefusedByTheDriverKeepsTheOldDescriptors)
{
    std::string p = make_image("img.raw", 1 << 20, 0x5a);
    auto node = graph().open(p, {{"driver", "raw"}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    int fd_before = file_posix::state_of(*(*node)->file()).fd.get();
    int count_before = open_fd_count();

    // Read-write and O_DIRECT would need new descriptors; the offset past the end makes
    // raw refuse once they are in place.
    BlockOptions bad{{"driver", "raw"}, {"read-only", "off"}, {"cache.direct", "on"}, {"offset", "2M"},
        {"file.driver", "file"}, {"file.filename", p}};
    auto done = reopen(**node, bad);
    ASSERT_FALSE(done);
    EXPECT_NE(done.error().desc.find("Offset (2097152)"), std::string::npos) << done.error().desc;

    EXPECT_EQ(file_posix::state_of(*(*node)->file()).fd.get(), fd_before);
    EXPECT_EQ(file_flags(**node) & (O_ACCMODE | O_DIRECT), O_RDONLY);
    EXPECT_EQ(open_fd_count(), count_before);
    EXPECT_TRUE((*node)->read_only());
    std::vector<uint8_t> buf(512);
    ASSERT_TRUE((*node)->pread(0, buf));
    EXPECT_EQ(buf[0], 0x5a);
}

TEST_F(BlockTest, ReopenRefusedByTheDriverNeedsNoSecondOpen)
{
    // The set's read-only member is gone once the node has its duplicate: putting the old
    // mode back by opening again would find nothing, so the old duplicate must be kept.
    std::string p = make_image("img.raw", 1 << 20, 0x5a);
    int read_only_fd = ::open(p.c_str(), O_RDONLY);
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(read_only_fd), std::nullopt));
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(p.c_str(), O_RDWR)), std::nullopt));
    auto node = graph().open("/dev/fdset/1", {{"driver", "raw"}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    ASSERT_TRUE(m_registry->remove(1, read_only_fd));
    int count_before = open_fd_count();

    BlockOptions bad{{"driver", "raw"}, {"read-only", "off"}, {"offset", "2M"}, {"file.driver", "file"},
        {"file.filename", "/dev/fdset/1"}};
    ASSERT_FALSE(reopen(**node, bad));
    EXPECT_EQ(file_flags(**node) & O_ACCMODE, O_RDONLY);
    EXPECT_EQ(open_fd_count(), count_before);
    std::vector<uint8_t> buf(512);
    ASSERT_TRUE((*node)->pread(0, buf));
    EXPECT_EQ(buf[0], 0x5a);

    // The same reopen without the bad offset takes the read-write member.
    bad.erase("offset");
    auto done = reopen(**node, bad);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_EQ(file_flags(**node) & O_ACCMODE, O_RDWR);
}

// The reopen capability itself: prepare opens the new descriptor beside the old one and
// changes nothing the node uses; commit switches over and closes the old; abort closes
// the new. file and host_device share it, so both are driven through their tables.
TEST_F(BlockTest, ReopenPrepareThenCommitSwitchesToTheNewDescriptor)
{
    std::string p = make_image("img.raw", 1 << 20, 0x5a);
    auto node = graph().open(std::nullopt, {{"driver", "file"}, {"filename", p}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    BlockNode& file = **node;
    const BlockDriver& driver = file.driver();
    ASSERT_NE(driver.reopen_prepare, nullptr);
    int fd_before = file_posix::state_of(file).fd.get();
    int count_before = open_fd_count();

    auto prepared = driver.reopen_prepare(file, HostAccess{.read_write = true});
    ASSERT_TRUE(prepared) << prepared.error().desc;
    EXPECT_EQ(open_fd_count(), count_before + 1) << "the new descriptor is open beside the old";
    EXPECT_EQ(file_posix::state_of(file).fd.get(), fd_before) << "and not in use before the commit";
    EXPECT_EQ(driver.host_access(file), (HostAccess{.read_write = false}));

    driver.reopen_commit(file);
    EXPECT_EQ(open_fd_count(), count_before);
    EXPECT_EQ(driver.host_access(file), (HostAccess{.read_write = true}));
    EXPECT_EQ(file_posix::state_of(file).open_flags & O_ACCMODE, O_RDWR);
}

TEST_F(BlockTest, ReopenPrepareThenAbortKeepsTheOldDescriptor)
{
    std::string p = make_image("img.raw", 1 << 20, 0x5a);
    auto node = graph().open(std::nullopt, {{"driver", "file"}, {"filename", p}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    BlockNode& file = **node;
    int fd_before = file_posix::state_of(file).fd.get();
    int count_before = open_fd_count();

    ASSERT_TRUE(file.driver().reopen_prepare(file, HostAccess{.read_write = true, .direct = false}));
    file.driver().reopen_abort(file);
    EXPECT_EQ(open_fd_count(), count_before);
    EXPECT_EQ(file_posix::state_of(file).fd.get(), fd_before);
    EXPECT_EQ(file.driver().host_access(file), (HostAccess{.read_write = false}));
    std::vector<uint8_t> buf(512);
    ASSERT_TRUE(file.pread(0, buf));
    EXPECT_EQ(buf[0], 0x5a);
}

TEST_F(BlockTest, ReopenPrepareOfTheSameAccessOpensNothing)
{
    std::string p = make_image("img.raw", 1 << 20);
    auto node = graph().open(std::nullopt, {{"driver", "file"}, {"filename", p}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    int count_before = open_fd_count();
    ASSERT_TRUE((*node)->driver().reopen_prepare(**node, HostAccess{}));
    EXPECT_EQ(open_fd_count(), count_before);
    (*node)->driver().reopen_commit(**node);
    EXPECT_EQ(open_fd_count(), count_before);
}

TEST_F(BlockTest, ReopenPrepareFailsWhenTheSetLacksTheModeAndChangesNothing)
{
    std::string p = make_image("img.raw", 1 << 20);
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(p.c_str(), O_RDONLY)), std::nullopt));
    auto node = graph().open(std::nullopt, {{"driver", "file"}, {"filename", "/dev/fdset/1"}}, {});
    ASSERT_TRUE(node) << node.error().desc;
    int count_before = open_fd_count();
    EXPECT_FALSE((*node)->driver().reopen_prepare(**node, HostAccess{.read_write = true}));
    (*node)->driver().reopen_abort(**node);
    EXPECT_EQ(open_fd_count(), count_before);
    EXPECT_FALSE(has_write_access(**node));
}

// host_device over an fd set holding a character device in both modes: the generic
// reopen finds it through its driver's capability, as it finds file.
TEST_F(BlockTest, HostDeviceOverAnFdSetReopensReadWrite)
{
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open("/dev/zero", O_RDONLY)), std::nullopt));
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open("/dev/zero", O_RDWR)), std::nullopt));
    auto node = graph().open(std::nullopt,
        {{"driver", "raw"}, {"read-only", "on"}, {"file.driver", "host_device"}, {"file.filename", "/dev/fdset/1"}},
        {});
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ(&(*node)->file()->driver(), &kHostDeviceDriver);
    EXPECT_FALSE(has_write_access(**node));

    BlockOptions writable{
        {"driver", "raw"}, {"read-only", "off"}, {"file.driver", "host_device"}, {"file.filename", "/dev/fdset/1"}};
    auto done = reopen(**node, writable);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE(has_write_access(**node));
    EXPECT_FALSE((*node)->read_only());
    std::vector<uint8_t> buf(512, 0x11);
    EXPECT_TRUE((*node)->pwrite(0, buf));

    // And back: the read-only member is duplicated again.
    BlockOptions read_only = writable;
    read_only["read-only"] = "on";
    done = reopen(**node, read_only);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_FALSE(has_write_access(**node));
}

}  // namespace

namespace {

// blockdev-reopen's `backing`: the image's own backing file, opened with it, goes (and its
// descriptor with it) when the reopen names another node or none; a cycle is refused and
// changes nothing; the node's json: name spells out a backing the image does not name.
TEST_F(BlockTest, ReopenReplacesTheBackingChildAndLetsTheOldOneGo)
{
    const BlockDriver* vmdk = find_driver("vmdk");
    ASSERT_NE(vmdk, nullptr);
    ASSERT_TRUE(vmdk->create({}, CreateOptions{.filename = path("base.vmdk"), .size = 1 << 20}));
    ASSERT_TRUE(vmdk->create({}, CreateOptions{.filename = path("other.vmdk"), .size = 1 << 20}));
    ASSERT_TRUE(vmdk->create({},
        CreateOptions{.filename = path("top.vmdk"),
            .size = 1 << 20,
            .opts = {{"backing_file", "base.vmdk"}, {"backing_fmt", "vmdk"}}}));
    auto other = graph().open(path("other.vmdk"), {{"driver", "vmdk"}, {"node-name", "other"}}, rw());
    ASSERT_TRUE(other) << other.error().desc;
    auto top = graph().open(path("top.vmdk"), {{"driver", "vmdk"}, {"node-name", "top"}}, rw());
    ASSERT_TRUE(top) << top.error().desc;
    ASSERT_NE((*top)->backing(), nullptr);
    EXPECT_EQ((*top)->filename(), path("top.vmdk"));
    int with_base = open_fd_count();
    BlockOptions again{{"driver", "vmdk"}, {"node-name", "top"}};

    auto missing = reopen(**top, again);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "backing is missing for 'top'");

    again["backing"] = "other";
    ASSERT_TRUE(reopen(**top, again));
    EXPECT_EQ((*top)->backing(), other->get());
    EXPECT_EQ(open_fd_count(), with_base - 1) << "the implicit base is closed";
    EXPECT_TRUE(
        (*top)->filename().starts_with("json:{\"backing\": {\"driver\": \"vmdk\", \"file\": {\"driver\": \"file\""))
        << (*top)->filename();

    BlockOptions cycle{{"driver", "vmdk"}, {"node-name", "other"}, {"backing", "top"}};
    auto refused = reopen(**other, cycle);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc, "Making 'top' a backing child of 'other' would create a cycle");
    EXPECT_EQ((*other)->backing(), nullptr);

    again["backing"] = "";
    ASSERT_TRUE(reopen(**top, again));
    EXPECT_EQ((*top)->backing(), nullptr);
    EXPECT_TRUE((*top)->filename().starts_with("json:{\"backing\": null, ")) << (*top)->filename();
    again["backing"] = "nope";
    EXPECT_EQ(reopen(**top, again).error().desc, "Cannot find device='' nor node-name='nope'");
}

// The backing child holds its parent's permissions (its users' reads): a new one takes
// them, and the old one is left free of them.
TEST_F(BlockTest, ReopenMovesTheBackingPermissionsWithTheChild)
{
    const BlockDriver* vmdk = find_driver("vmdk");
    ASSERT_NE(vmdk, nullptr);
    for (const char* name : {"top.vmdk", "other.vmdk"}) {
        ASSERT_TRUE(vmdk->create({}, CreateOptions{.filename = path(name), .size = 1 << 20}));
    }
    auto other = graph().open(path("other.vmdk"), {{"driver", "vmdk"}, {"node-name", "other"}}, rw());
    ASSERT_TRUE(other) << other.error().desc;
    auto top = graph().open(path("top.vmdk"), {{"driver", "vmdk"}, {"node-name", "top"}}, rw());
    ASSERT_TRUE(top) << top.error().desc;
    auto reader = BlockBackend::attach(*top, perm::kConsistentRead, perm::kConsistentRead | perm::kWriteUnchanged);
    ASSERT_TRUE(reader) << reader.error().desc;
    EXPECT_EQ((*other)->perm(), 0u);

    ASSERT_TRUE(reopen(**top, {{"driver", "vmdk"}, {"node-name", "top"}, {"backing", "other"}}));
    EXPECT_EQ((*other)->perm(), perm::kConsistentRead);
    EXPECT_EQ((*other)->shared_perm() & perm::kWrite, 0u) << "the overlay's user does not share writing";

    ASSERT_TRUE(reopen(**top, {{"driver", "vmdk"}, {"node-name", "top"}, {"backing", ""}}));
    EXPECT_EQ((*other)->perm(), 0u);
    EXPECT_EQ((*other)->shared_perm(), perm::kAll);
}

// blockdev-reopen's `file`: the node reads through the new file child (a vmdk's extent in
// its own file follows it), the implicit old file is closed, and a read-only file under a
// writable format is refused without changing anything.
TEST_F(BlockTest, ReopenReplacesTheFileChildAndTheExtentFollowsIt)
{
    const BlockDriver* vmdk = find_driver("vmdk");
    ASSERT_NE(vmdk, nullptr);
    for (auto [name, fill] : {std::pair{"a.vmdk", uint8_t{0x11}}, std::pair{"b.vmdk", uint8_t{0x22}}}) {
        ASSERT_TRUE(vmdk->create({}, CreateOptions{.filename = path(name), .size = 1 << 20}));
        auto blk = BlockBackend::open(graph(), path(name), {{"driver", "vmdk"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        ASSERT_TRUE((*blk)->pwrite(0, std::vector<uint8_t>(65536, fill)));
    }
    auto other = graph().open(path("b.vmdk"), {{"driver", "file"}, {"node-name", "bf"}}, rw());
    ASSERT_TRUE(other) << other.error().desc;
    OpenFlags read_only = rw();
    read_only.read_write = false;
    auto locked = graph().open(path("b.vmdk"), {{"driver", "file"}, {"node-name", "rof"}}, read_only);
    ASSERT_TRUE(locked) << locked.error().desc;
    auto node = graph().open(path("a.vmdk"), {{"driver", "vmdk"}, {"node-name", "v"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    auto blk = BlockBackend::attach(*node, perm::kConsistentRead, perm::kAll);
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> buf(65536);
    ASSERT_TRUE((*blk)->pread(0, buf));
    EXPECT_EQ(buf, std::vector<uint8_t>(65536, 0x11));
    int with_a = open_fd_count();

    BlockOptions again{{"driver", "vmdk"}, {"node-name", "v"}, {"file", "rof"}};
    auto refused = reopen(**node, again);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc, "Block node is read-only");
    EXPECT_EQ((*node)->file()->filename(), path("a.vmdk"));

    again["file"] = "v";
    EXPECT_EQ(reopen(**node, again).error().desc, "Making 'v' a file child of 'v' would create a cycle");

    again["file"] = "bf";
    ASSERT_TRUE(reopen(**node, again));
    EXPECT_EQ((*node)->file(), other->get());
    EXPECT_EQ((*node)->filename(), path("b.vmdk"));
    EXPECT_EQ(open_fd_count(), with_a - 1) << "the implicit file of a.vmdk is closed";
    ASSERT_TRUE((*blk)->pread(0, buf));
    EXPECT_EQ(buf, std::vector<uint8_t>(65536, 0x22));
    // Restating the same file changes nothing.
    ASSERT_TRUE(reopen(**node, again));
    EXPECT_EQ((*node)->file(), other->get());
}

}  // namespace
