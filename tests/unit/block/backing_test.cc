// The generic half of copy-on-write images: how the graph names and opens a backing file
// (bdrv_get_full_backing_filename, the "backing" option, backing: null), the permissions
// an overlay takes on it, and how block status walks down the chain. Formats with a real
// backing file (vmdk) are covered end to end by tests/interop/backing_compare.py.
#include <fcntl.h>

#include "block/blockdev-options.h"
#include "block/drivers.h"
#include "block_test_util.h"

using qemu::block::BlockOptions;
using qemu::block::full_backing_filename;
namespace perm = qemu::block::perm;

namespace {

class BackingTest : public block_test::BlockTest {
protected:
    std::shared_ptr<qemu::block::BlockNode> open_raw(const std::string& filename, BlockOptions options = {})
    {
        options.emplace("driver", "raw");
        auto node = graph().open(filename, std::move(options), block_test::ro());
        EXPECT_TRUE(node) << node.error().desc;
        return node.value_or(nullptr);
    }
};

TEST_F(BackingTest, FullBackingFilenameIsRelativeToTheImagesDirectory)
{
    auto node = open_raw(make_image("top.img", 4096));
    node->set_backing_file("base.img", "vmdk");
    EXPECT_EQ(full_backing_filename(*node).value_or(""), path("base.img"));
    node->set_backing_file("sub/base.img", "");
    EXPECT_EQ(full_backing_filename(*node).value_or(""), path("sub/base.img"));
    node->set_backing_file("/abs/base.img", "");
    EXPECT_EQ(full_backing_filename(*node).value_or(""), "/abs/base.img");
    node->set_backing_file("nbd:host:10809", "");
    EXPECT_EQ(full_backing_filename(*node).value_or(""), "nbd:host:10809");
    node->set_backing_file("", "");
    EXPECT_FALSE(full_backing_filename(*node));
}

TEST_F(BackingTest, FullBackingFilenameStaysInTheImagesFdSet)
{
    std::string img = make_image("a.vmdk", 4096);
    ASSERT_TRUE(m_registry->add(2, qemu::UniqueFd(::open(img.c_str(), O_RDONLY)), "a.vmdk"));
    auto node = open_raw("/dev/fdset/2/a.vmdk");
    ASSERT_TRUE(node);
    node->set_backing_file("base.vmdk", "vmdk");
    EXPECT_EQ(full_backing_filename(*node).value_or(""), "/dev/fdset/2/base.vmdk");
}

TEST_F(BackingTest, BackingNullOpensNothingEvenForFormatsWithoutBackingFiles)
{
    auto node = open_raw(make_image("top.img", 4096), {{"backing", ""}});
    ASSERT_TRUE(node);
    EXPECT_EQ(node->backing(), nullptr);
    EXPECT_TRUE(node->flags().no_backing);
    EXPECT_FALSE(node->file()->flags().no_backing);
}

TEST_F(BackingTest, JsonFilenameWithBackingNullIsAccepted)
{
    std::string img = make_image("top.img", 4096);
    auto node = graph().open(
        "json:{\"driver\": \"raw\", \"backing\": null, \"file\": {\"driver\": \"file\", \"filename\": \"" + img + "\"}}",
        {}, block_test::ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->backing(), nullptr);
}

TEST_F(BackingTest, FormatsWithoutBackingSupportRefuseABackingOption)
{
    std::string top = make_image("top.img", 4096);
    std::string base = make_image("base.img", 4096);
    auto by_options = graph().open(top, {{"driver", "raw"}, {"backing.driver", "raw"}, {"backing.file.filename", base}},
        block_test::ro());
    ASSERT_FALSE(by_options);
    EXPECT_EQ(by_options.error().desc, "Driver doesn't support backing files");
    auto base_node = open_raw(base, {{"node-name", "base"}});
    auto by_name = graph().open(top, {{"driver", "raw"}, {"backing", "base"}}, block_test::ro());
    ASSERT_FALSE(by_name);
    EXPECT_EQ(by_name.error().desc, "Driver doesn't support backing files");
}

// Stand-in for an overlay: a raw node given a backing child by hand, so the graph's
// permission rules for "backing" children can be checked without a format that has one.
TEST_F(BackingTest, AnOverlayOnlyReadsItsBackingFileAndSharesWhatItsUsersShare)
{
    auto base = graph().open(make_image("base.img", 4096), {{"driver", "raw"}}, block_test::ro());
    ASSERT_TRUE(base);
    auto top = graph().open(make_image("top.img", 4096), {{"driver", "raw"}}, block_test::rw());
    ASSERT_TRUE(top);
    (*top)->add_child("backing", *base, qemu::block::child_role::kCow);
    int user = 0;
    ASSERT_TRUE(graph().set_perm(**top, {&user, "a test", "root"}, perm::kConsistentRead | perm::kWrite | perm::kResize,
        perm::kConsistentRead | perm::kWriteUnchanged));
    // Writing the overlay asks nothing but reads of a read-only backing file...
    EXPECT_EQ((*base)->perm(), perm::kConsistentRead);
    // ...which nobody may change while the overlay's users need its data stable.
    EXPECT_EQ((*base)->shared_perm(), perm::kConsistentRead | perm::kWriteUnchanged);
    ASSERT_TRUE(graph().set_perm(**top, {&user, "a test", "root"}, perm::kConsistentRead, perm::kAll));
    EXPECT_EQ((*base)->shared_perm(), perm::kAll);
    graph().drop_perm(**top, &user);
    EXPECT_EQ((*base)->perm(), 0u);
}

TEST_F(BackingTest, BackingFileSizeIsNotPartOfTheOverlaysDiskSize)
{
    auto base = graph().open(make_image("base.img", 65536, 1), {{"driver", "raw"}}, block_test::ro());
    auto top = graph().open(make_image("top.img", 4096, 1), {{"driver", "raw"}}, block_test::ro());
    ASSERT_TRUE(base && top);
    int64_t alone = (*top)->allocated_file_size().value_or(-1);
    (*top)->add_child("backing", *base, qemu::block::child_role::kCow);
    EXPECT_EQ((*top)->allocated_file_size().value_or(-2), alone);
}

TEST_F(BackingTest, StatusAboveStopsAtTheFirstLayerThatHoldsTheRange)
{
    auto base = graph().open(make_image("base.img", 8192, 1), {{"driver", "raw"}}, block_test::ro());
    auto top = graph().open(make_image("top.img", 8192, 1), {{"driver", "raw"}}, block_test::ro());
    ASSERT_TRUE(base && top);
    (*top)->add_child("backing", *base, qemu::block::child_role::kCow);
    auto answer = qemu::block::block_status_above(**top, nullptr, true, 0, 8192);
    ASSERT_TRUE(answer) << answer.error().desc;
    EXPECT_EQ(answer->depth, 1);
    EXPECT_EQ(answer->layer, top->get());
    EXPECT_TRUE(answer->status.flags & qemu::block::status::kAllocated);
    EXPECT_EQ(answer->status.bytes, 8192);
}

TEST(BackingOptions, VmdkBackingAndExtentsFlattenAsQemusDottedKeys)
{
    auto flat = qemu::block::blockdev_options_from_json(qemu::JsonValue::parse(
        R"({"driver": "vmdk", "node-name": "v", "file": "f", "backing": null,
            "extents": ["e0", {"driver": "file", "filename": "/dev/fdset/2/d-s002.vmdk"}]})"));
    ASSERT_TRUE(flat) << flat.error().desc;
    EXPECT_EQ(*flat, (BlockOptions{{"driver", "vmdk"}, {"node-name", "v"}, {"file", "f"}, {"backing", ""},
                         {"extents.0", "e0"}, {"extents.1.driver", "file"},
                         {"extents.1.filename", "/dev/fdset/2/d-s002.vmdk"}}));
    auto nested = qemu::block::blockdev_options_from_json(qemu::JsonValue::parse(
        R"({"driver": "vmdk", "node-name": "v", "file": "f",
            "backing": {"driver": "vmdk", "file": {"driver": "file", "filename": "/b"}, "backing": null}})"));
    ASSERT_TRUE(nested) << nested.error().desc;
    EXPECT_EQ(*nested, (BlockOptions{{"driver", "vmdk"}, {"node-name", "v"}, {"file", "f"}, {"backing.driver", "vmdk"},
                           {"backing.file.driver", "file"}, {"backing.file.filename", "/b"}, {"backing.backing", ""}}));
}

TEST(BackingOptions, BadBackingAndExtentsNameTheMember)
{
    auto bad_backing = qemu::block::blockdev_options_from_json(
        qemu::JsonValue::parse(R"({"driver": "vmdk", "file": "f", "backing": 5})"));
    ASSERT_FALSE(bad_backing);
    EXPECT_EQ(bad_backing.error().desc, "Invalid parameter type for 'backing', expected: BlockdevRefOrNull");
    auto bad_extent = qemu::block::blockdev_options_from_json(
        qemu::JsonValue::parse(R"({"driver": "vmdk", "file": "f", "extents": ["a", null]})"));
    ASSERT_FALSE(bad_extent);
    // QEMU's alternate visitor calls a list element 'null' (as blockdev-create's extents).
    EXPECT_EQ(bad_extent.error().desc, "Invalid parameter type for 'null', expected: BlockdevRef");
    auto raw_backing = qemu::block::blockdev_options_from_json(
        qemu::JsonValue::parse(R"({"driver": "raw", "file": "f", "backing": null})"));
    ASSERT_FALSE(raw_backing);
    EXPECT_EQ(raw_backing.error().desc, "Parameter 'backing' is unexpected");
}

}  // namespace
