// An overlay taking a node's place (blockdev-snapshot's bdrv_append) and its undo, at the
// level of the emulator's block devices: the drive and every parent node move to the
// overlay, the old node becomes its backing file, a refused permission or a cycle changes
// nothing, and remove_overlay puts everything back. reopen_set_read_only keeps the node's
// options and makes it and its inherited file read-only.
#include "block/block-devices.h"
#include "block/drivers.h"
#include "block/reopen.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;

namespace {

class OverlayTest : public BlockTest {
protected:
    void SetUp() override
    {
        BlockTest::SetUp();
        for (const char* name : {"base.vmdk", "ov.vmdk"}) {
            ASSERT_TRUE(kVmdkDriver.create({}, CreateOptions{.filename = path(name), .size = 1 << 20}));
        }
        m_devices = std::make_unique<BlockDevices>(qemu::OpenContext{});
        DriveOpenOptions how{.flags = OpenFlags{.read_write = true}};
        ASSERT_TRUE(m_devices->add_drive("d0", path("base.vmdk"), {{"driver", "vmdk"}, {"node-name", "base"}}, how));
        // A parent node over the drive's medium, as a raw window on it.
        ASSERT_TRUE(m_devices->add_node({{"driver", "raw"}, {"node-name", "window"}, {"file", "base"}}));
    }
    void TearDown() override
    {
        m_devices.reset();
        BlockTest::TearDown();
    }

    void add_overlay(bool read_only)
    {
        ASSERT_TRUE(m_devices->add_node({{"driver", "vmdk"}, {"node-name", "ov"}, {"file.driver", "file"},
            {"file.filename", path("ov.vmdk")}, {"backing", ""}, {"read-only", read_only ? "on" : "off"}}));
    }

    BlockNode& node(const std::string& name) { return *m_devices->graph().find_node(name); }
    BlockNode& drive_root() { return m_devices->find_drive("d0")->blk->root(); }

    std::unique_ptr<BlockDevices> m_devices;
};

TEST_F(OverlayTest, TheDriveAndTheParentMoveToTheOverlayAndRemoveTakesThemBack)
{
    add_overlay(false);
    auto appended = m_devices->append_overlay(node("ov"), node("base"));
    ASSERT_TRUE(appended) << appended.error().desc;
    EXPECT_EQ(&drive_root(), &node("ov"));
    EXPECT_EQ(node("window").file(), &node("ov"));
    EXPECT_EQ(node("ov").backing(), &node("base"));
    EXPECT_EQ(node("ov").backing_holder(), "ov");
    // The overlay's backing link reads the old image; the drive no longer holds it.
    EXPECT_TRUE(node("base").perm() & perm::kConsistentRead);
    EXPECT_FALSE(m_devices->is_root_node(node("base")));

    m_devices->remove_overlay(*appended);
    EXPECT_EQ(&drive_root(), &node("base"));
    EXPECT_EQ(node("window").file(), &node("base"));
    EXPECT_EQ(node("ov").backing(), nullptr);
    EXPECT_EQ(node("ov").perm(), 0u);
}

TEST_F(OverlayTest, AReadOnlyOverlayUnderAWriterIsRefusedAndNothingMoves)
{
    add_overlay(true);
    ASSERT_TRUE(m_devices->find_drive("d0")->blk->set_perm(perm::kConsistentRead | perm::kWrite, perm::kAll));
    uint64_t base_perm = node("base").perm();
    auto appended = m_devices->append_overlay(node("ov"), node("base"));
    ASSERT_FALSE(appended);
    EXPECT_EQ(appended.error().desc, "Block node is read-only");
    EXPECT_EQ(&drive_root(), &node("base"));
    EXPECT_EQ(node("window").file(), &node("base"));
    EXPECT_EQ(node("ov").backing(), nullptr);
    EXPECT_EQ(node("base").perm(), base_perm);
    EXPECT_EQ(m_devices->find_drive("d0")->blk->perm(), perm::kConsistentRead | perm::kWrite);
}

TEST_F(OverlayTest, ANodeBelowItselfWouldBeACycle)
{
    add_overlay(false);
    auto self = m_devices->append_overlay(node("ov"), node("ov"));
    ASSERT_FALSE(self);
    EXPECT_EQ(self.error().desc, "Making 'ov' a backing child of 'ov' would create a cycle");
    // The overlay's own file is below it, too.
    BlockNode& file = *node("ov").file();
    auto below = m_devices->append_overlay(file, node("ov"));
    ASSERT_FALSE(below);
    EXPECT_EQ(below.error().desc, "Making 'ov' a backing child of '" + file.node_name() + "' would create a cycle");
}

TEST_F(OverlayTest, ReopenSetReadOnlyKeepsTheOptionsAndTakesTheInheritedFileAlong)
{
    ASSERT_TRUE(m_devices->add_node({{"driver", "vmdk"}, {"node-name", "solo"}, {"file.driver", "file"},
        {"file.filename", path("ov.vmdk")}, {"cache.no-flush", "on"}, {"discard", "unmap"}}));
    ASSERT_TRUE(reopen_set_read_only(node("solo"), true));
    EXPECT_TRUE(node("solo").read_only());
    EXPECT_TRUE(node("solo").file()->read_only());
    EXPECT_TRUE(node("solo").flags().no_flush);
    EXPECT_TRUE(node("solo").flags().unmap);
    EXPECT_FALSE(has_write_access(node("solo")));
    ASSERT_TRUE(reopen_set_read_only(node("solo"), false));
    EXPECT_FALSE(node("solo").read_only());
    EXPECT_FALSE(node("solo").file()->read_only());
    EXPECT_TRUE(node("solo").flags().no_flush);
    EXPECT_TRUE(has_write_access(node("solo")));
}

}  // namespace
