// The raw format: offset/size windows with QEMU's errors, writes kept inside the window,
// forwarding of zeroes, discard and resize, and the sector-0 guard of a probed raw image.
#include <cerrno>

#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;

namespace {

std::vector<uint8_t> striped(size_t stripes, size_t stripe)
{
    std::vector<uint8_t> out;
    for (size_t i = 0; i < stripes; ++i) {
        out.insert(out.end(), stripe, static_cast<uint8_t>(i + 1));
    }
    return out;
}

}  // namespace

TEST_F(BlockTest, RawWindowReadsAndWritesInsideOffsetAndSize)
{
    std::string img = make_image("w.img", striped(4, 4096));
    auto blk =
        BlockBackend::open(graph(), img, {{"driver", "raw"}, {"offset", "4096"}, {"size", "8192"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ(*(*blk)->length(), 8192);
    std::vector<uint8_t> buf(8192);
    ASSERT_TRUE((*blk)->pread(0, buf));
    EXPECT_EQ(buf[0], 2);
    EXPECT_EQ(buf[4095], 2);
    EXPECT_EQ(buf[4096], 3);
    EXPECT_EQ(buf[8191], 3);
    std::vector<uint8_t> five(512, 5);
    ASSERT_TRUE((*blk)->pwrite(8192 - 512, five));
    auto past = (*blk)->pwrite(8192, five);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().errno_value, EIO);
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes[12288 - 513], 3);
    EXPECT_EQ(bytes[12288 - 512], 5);
    EXPECT_EQ(bytes[12287], 5);
    EXPECT_EQ(bytes[12288], 4);
}

TEST_F(BlockTest, RawOffsetWithoutSizeFollowsTheFile)
{
    std::string img = make_image("w.img", striped(4, 4096));
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}, {"offset", "1024"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ(*(*blk)->length(), 16384 - 1024);
    ASSERT_TRUE((*blk)->truncate(16384, Prealloc::Off).error().desc == "Permission 'resize' is not granted");
    ASSERT_TRUE((*blk)->set_perm((*blk)->perm() | perm::kResize, perm::kAll));
    ASSERT_TRUE((*blk)->truncate(16384));
    EXPECT_EQ(file_bytes(img).size(), 16384u + 1024u);
    EXPECT_EQ(*(*blk)->length(), 16384);
}

TEST_F(BlockTest, RawFixedSizeCannotBeResized)
{
    std::string img = make_image("w.img", 8192);
    auto node = graph().open(img, {{"driver", "raw"}, {"size", "4096"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    auto grown = (*node)->truncate(8192);
    ASSERT_FALSE(grown);
    EXPECT_EQ(grown.error().desc, "Cannot resize fixed-size raw disks");
}

TEST_F(BlockTest, RawWindowErrorsAreQemus)
{
    std::string img = make_image("w.img", 1 << 20);
    auto offset = graph().open(img, {{"driver", "raw"}, {"offset", "2M"}}, ro());
    ASSERT_FALSE(offset);
    EXPECT_EQ(offset.error().desc, "Offset (2097152) cannot be greater than size of the containing file (1048576)");
    auto sum = graph().open(img, {{"driver", "raw"}, {"offset", "512"}, {"size", "1M"}}, ro());
    ASSERT_FALSE(sum);
    EXPECT_EQ(sum.error().desc,
        "The sum of offset (512) and size (1048576) has to be smaller or equal to the  actual size of the "
        "containing file (1048576)");
    auto unaligned = graph().open(img, {{"driver", "raw"}, {"size", "1000"}}, ro());
    ASSERT_FALSE(unaligned);
    EXPECT_EQ(unaligned.error().desc, "Specified size is not multiple of 512");
}

TEST_F(BlockTest, RawWindowZeroesAndDiscardStayInside)
{
    std::string img = make_image("w.img", striped(4, 4096));
    auto flags = rw();
    flags.unmap = true;
    auto node = graph().open(img, {{"driver", "raw"}, {"offset", "4096"}, {"size", "4096"}}, flags);
    ASSERT_TRUE(node) << node.error().desc;
    ASSERT_TRUE((*node)->pwrite_zeroes(0, 512));
    EXPECT_EQ((*node)->pwrite_zeroes(4096, 512).error().errno_value, ENOSPC);
    EXPECT_EQ((*node)->discard(4000, 512).error().errno_value, ENOSPC);
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes[4095], 1);
    EXPECT_EQ(bytes[4096], 0);
    EXPECT_EQ(bytes[4607], 0);
    EXPECT_EQ(bytes[4608], 2);
    auto status = (*node)->block_status(false, 0, 4096);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->map, 4096);
    EXPECT_EQ(status->file, (*node)->file());
}

TEST_F(BlockTest, ProbedRawAcceptsSectorZeroWritesThatStayRaw)
{
    std::string img = make_image("p.img", 4096, 0x41);
    auto node = graph().open(img, {}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    ASSERT_TRUE((*node)->flags().probed);
    std::vector<uint8_t> buf(512, 0x42);
    ASSERT_TRUE((*node)->pwrite(0, buf));
    EXPECT_EQ(file_bytes(img)[0], 0x42);
}

TEST_F(BlockTest, RawInfoReportsNoClusters)
{
    std::string img = make_image("p.img", 4096);
    auto node = graph().open(img, {{"driver", "raw"}}, ro());
    ASSERT_TRUE(node);
    auto info = (*node)->info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->cluster_size, 0);
    EXPECT_EQ(info->vm_state_offset, 0);
}

namespace {

// A backend checks requests against the length it saw last (no fstat per request, as QEMU
// keeps bs->total_sectors), but a resize through the graph, by any backend or node, is
// seen at once: after a shrink the old end is refused, after a growth the new end is not.
TEST_F(BlockTest, BackendSeesEveryResizeMadeThroughTheGraph)
{
    std::string p = make_image("img.raw", 1 << 20);
    auto blk = BlockBackend::open(graph(), p, {{"driver", "raw"}}, {.flags = rw(), .resize = true});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> buf(4096);
    ASSERT_TRUE((*blk)->pread((1 << 20) - 4096, buf));
    EXPECT_EQ((*blk)->pread(1 << 20, buf).error().errno_value, EIO);

    // Through the node, not this backend.
    ASSERT_TRUE((*blk)->root().truncate(512 * 1024, Prealloc::Off));
    EXPECT_EQ((*blk)->pread((1 << 20) - 4096, buf).error().errno_value, EIO);
    ASSERT_TRUE((*blk)->pread(512 * 1024 - 4096, buf));

    ASSERT_TRUE((*blk)->root().truncate(2 << 20, Prealloc::Off));
    ASSERT_TRUE((*blk)->pread((2 << 20) - 4096, buf));
}

}  // namespace
