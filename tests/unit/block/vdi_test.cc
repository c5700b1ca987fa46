// The vdi driver: images it creates (dynamic and static), its probe, QEMU's open-time
// checks with their exact texts, zero reads of unmapped blocks, the allocation order and
// metadata rewrites of writes, block status and the block-map check. Header bytes are
// built here independently of the driver's own encoder.
#include <cerrno>
#include <cstring>

#include "block/drivers.h"
#include "tests/unit/block/block_test_util.h"
#include "util/bswap.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;
using qemu::load_le32;
using qemu::load_le64;
using qemu::store_le32;
using qemu::store_le64;

namespace {

constexpr uint32_t MiB = 1024 * 1024;

// A dynamic image of `blocks` 1 MiB blocks, all unmapped, laid out as QEMU creates it.
std::vector<uint8_t> dynamic_image(uint32_t blocks, uint64_t disk_size = 0)
{
    uint32_t map_bytes = (blocks * 4 + 511) / 512 * 512;
    std::vector<uint8_t> img(512 + map_bytes);
    const char banner[] = "<<< Sun VirtualBox Disk Image >>>\n";
    std::memcpy(img.data(), banner, sizeof(banner) - 1);
    store_le32(img, 0x40, 0xBEDA107F);
    store_le32(img, 0x44, 0x00010001);
    store_le32(img, 0x48, 0x190);
    store_le32(img, 0x4C, 1);
    img[0x54] = 'd';  // a description, which must survive header rewrites
    store_le32(img, 0x154, 0x200);
    store_le32(img, 0x158, 0x200 + map_bytes);
    store_le32(img, 0x168, 512);
    store_le64(img, 0x170, disk_size ? disk_size : uint64_t{blocks} * MiB);
    store_le32(img, 0x178, MiB);
    store_le32(img, 0x180, blocks);
    img[0x188] = 0x42;  // image UUID
    for (uint32_t i = 0; i < blocks; ++i) {
        store_le32(img, 0x200 + i * 4, 0xFFFFFFFF);
    }
    return img;
}

class VdiTest : public BlockTest {
protected:
    std::shared_ptr<BlockNode> open_ok(const std::string& p, OpenFlags flags = rw())
    {
        auto node = graph().open(p, {{"driver", "vdi"}}, flags);
        EXPECT_TRUE(node) << node.error().desc;
        return node ? *node : nullptr;
    }

    std::string open_error(const std::vector<uint8_t>& image)
    {
        std::string p = make_image("bad.vdi", image);
        auto node = graph().open(p, {{"driver", "vdi"}}, ro());
        EXPECT_FALSE(node);
        return node ? std::string() : node.error().desc;
    }

    qemu::Result<void> create(const std::string& p, uint64_t size, BlockOptions opts = {})
    {
        return kVdiDriver.create({}, CreateOptions{.filename = p, .size = size, .opts = std::move(opts)});
    }
};

}  // namespace

TEST_F(VdiTest, CreateDynamicWritesHeaderAndOneMapSectorOnly)
{
    std::string p = path("d.vdi");
    ASSERT_TRUE(create(p, 64 * MiB));
    auto b = file_bytes(p);
    ASSERT_EQ(b.size(), 1024u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data())), "<<< QEMU VM Virtual Disk Image >>>\n");
    EXPECT_EQ(load_le32(b, 0x40), 0xBEDA107Fu);
    EXPECT_EQ(load_le32(b, 0x44), 0x00010001u);
    EXPECT_EQ(load_le32(b, 0x48), 0x180u);
    EXPECT_EQ(load_le32(b, 0x4C), 1u);
    EXPECT_EQ(load_le32(b, 0x154), 0x200u);
    EXPECT_EQ(load_le32(b, 0x158), 0x400u);
    EXPECT_EQ(load_le32(b, 0x168), 512u);
    EXPECT_EQ(load_le64(b, 0x170), 64u * MiB);
    EXPECT_EQ(load_le32(b, 0x178), MiB);
    EXPECT_EQ(load_le32(b, 0x180), 64u);
    EXPECT_EQ(load_le32(b, 0x184), 0u);
    // Version 4 UUIDs stored GUID-style: the version nibble lands in byte 7 of each.
    EXPECT_EQ(b[0x18F] >> 4, 4);
    EXPECT_EQ(b[0x19F] >> 4, 4);
    for (size_t i = 0x1A8; i < 0x200; ++i) {
        ASSERT_EQ(b[i], 0) << i;
    }
    for (size_t i = 0x200; i < 0x300; ++i) {
        ASSERT_EQ(b[i], 0xFF) << i;
    }
    for (size_t i = 0x300; i < 0x400; ++i) {
        ASSERT_EQ(b[i], 0) << i;
    }
}

TEST_F(VdiTest, CreateStaticMapsBlockIToDataBlockIAndSizesTheFile)
{
    std::string p = path("s.vdi");
    ASSERT_TRUE(create(p, 3 * MiB - 1000, {{"static", "on"}}));
    auto b = file_bytes(p);
    ASSERT_EQ(b.size(), 1024u + 3 * MiB);
    EXPECT_EQ(load_le32(b, 0x4C), 2u);
    EXPECT_EQ(load_le64(b, 0x170), 3u * MiB - 512);
    EXPECT_EQ(load_le32(b, 0x180), 3u);
    EXPECT_EQ(load_le32(b, 0x184), 3u);
    EXPECT_EQ(load_le32(b, 0x200), 0u);
    EXPECT_EQ(load_le32(b, 0x204), 1u);
    EXPECT_EQ(load_le32(b, 0x208), 2u);
    EXPECT_EQ(load_le32(b, 0x20C), 0u);
}

TEST_F(VdiTest, CreateOfAnEmptyDiskIsAHeaderAlone)
{
    std::string p = path("z.vdi");
    ASSERT_TRUE(create(p, 0));
    EXPECT_EQ(file_bytes(p).size(), 512u);
    auto node = open_ok(p, ro());
    ASSERT_TRUE(node);
    EXPECT_EQ(*node->length(), 0);
}

TEST_F(VdiTest, CreateRefusesTooLargeSizesButLeavesTheEmptyFile)
{
    std::string p = path("big.vdi");
    auto created = create(p, 513ull << 40);
    ASSERT_FALSE(created);
    EXPECT_EQ(
        created.error().desc, "Unsupported VDI image size (size is 0x2010000000000, max supported is 0x1fffff8000000)");
    EXPECT_EQ(file_bytes(p).size(), 0u);
    auto bad = create(path("b.vdi"), MiB, {{"static", "maybe"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "Parameter 'static' expects 'on' or 'off'");
}

TEST_F(VdiTest, ProbeWantsTheSignatureInAFullSector)
{
    auto img = dynamic_image(1);
    std::span<const uint8_t> sector(img.data(), 512);
    EXPECT_EQ(kVdiDriver.probe(sector, "x"), 100);
    EXPECT_EQ(kVdiDriver.probe(sector.first(511), "x"), 0);
    img[0x40] ^= 1;
    EXPECT_EQ(kVdiDriver.probe(std::span<const uint8_t>(img.data(), 512), "x"), 0);
    std::string p = make_image("p.vdi", dynamic_image(2));
    auto node = graph().open(p, {}, ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->driver().format_name, "vdi");
}

TEST_F(VdiTest, OpenChecksEveryHeaderFieldWithQemusWords)
{
    struct Case {
        size_t at;
        uint64_t value;
        bool wide;
        const char* message;
    };
    const Case cases[] = {
        {0x170, 0x1FFFFF8000001ull, true,
            "Unsupported VDI image size (size is 0x1fffff8000001, max supported is 0x1fffff8000000)"},
        {0x40, 0x12345678, false, "Image not in VDI format (bad signature 12345678)"},
        {0x44, 0x00010000, false, "unsupported VDI image (version 1.0)"},
        {0x44, 0x00030002, false, "unsupported VDI image (version 3.2)"},
        {0x154, 0x201, false, "unsupported VDI image (unaligned block map offset 0x201)"},
        {0x158, 0x1001, false, "unsupported VDI image (unaligned data offset 0x1001)"},
        {0x168, 4096, false, "unsupported VDI image (sector size 4096 is not 512)"},
        {0x178, 2 * MiB, false, "unsupported VDI image (block size 2097152 is not 1048576)"},
        {0x170, 2 * MiB + 1, true, "unsupported VDI image (disk size 2097664, image bitmap has room for 2097152)"},
        {0x1A8, 1, false, "unsupported VDI image (non-NULL link UUID)"},
        {0x1C4, 0x100, false, "unsupported VDI image (non-NULL parent UUID)"},
        {0x180, 0x1FFFFF81, false, "unsupported VDI image (too many blocks 536870785, max is 536870784)"},
    };
    for (const Case& c : cases) {
        auto img = dynamic_image(2);
        if (c.wide) {
            store_le64(img, c.at, c.value);
        } else {
            store_le32(img, c.at, static_cast<uint32_t>(c.value));
        }
        EXPECT_EQ(open_error(img), c.message);
    }
}

TEST_F(VdiTest, OddDiskSizeIsRoundedUpToASector)
{
    std::string p = make_image("odd.vdi", dynamic_image(1, 1000));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    EXPECT_EQ(*node->length(), 1024);
    std::vector<uint8_t> data(512, 0x77);
    ASSERT_TRUE(node->pwrite(512, data));
    // The header written back carries the rounded size, as QEMU's does.
    EXPECT_EQ(load_le64(file_bytes(p), 0x170), 1024u);
}

TEST_F(VdiTest, UnmappedAndDiscardedBlocksReadAsZeros)
{
    auto img = dynamic_image(3);
    store_le32(img, 0x204, 0xFFFFFFFE);
    img.resize(img.size() + MiB, 0x99);  // stale data nobody maps
    std::string p = make_image("z.vdi", img);
    auto node = open_ok(p, ro());
    ASSERT_TRUE(node);
    std::vector<uint8_t> buf(3 * MiB, 0xAB);
    ASSERT_TRUE(node->pread(0, buf));
    EXPECT_EQ(std::count(buf.begin(), buf.end(), 0), static_cast<long>(buf.size()));
}

TEST_F(VdiTest, WritesAppendBlocksInAllocationOrderAndRewriteHeaderAndMap)
{
    std::string p = make_image("w.vdi", dynamic_image(200));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> a(4096, 0xA1);
    std::vector<uint8_t> c(512, 0xC3);
    ASSERT_TRUE(node->pwrite(150 * int64_t{MiB} + 8192, a));  // map entry 150: second map sector
    ASSERT_TRUE(node->pwrite(1 * int64_t{MiB} + 512, c));
    auto b = file_bytes(p);
    uint32_t data = 0x200 + 1024;
    ASSERT_EQ(b.size(), data + 2u * MiB);
    EXPECT_EQ(load_le32(b, 0x184), 2u);
    EXPECT_EQ(load_le32(b, 0x200 + 150 * 4), 0u);
    EXPECT_EQ(load_le32(b, 0x200 + 1 * 4), 1u);
    EXPECT_EQ(load_le32(b, 0x200 + 0 * 4), 0xFFFFFFFFu);
    EXPECT_EQ(b[0x54], 'd');
    EXPECT_EQ(b[0x188], 0x42);
    EXPECT_EQ(load_le32(b, 0x48), 0x190u);
    // Whole blocks: the written bytes in place, zeros around them.
    EXPECT_EQ(b[data + 8191], 0);
    EXPECT_EQ(b[data + 8192], 0xA1);
    EXPECT_EQ(b[data + 8192 + 4095], 0xA1);
    EXPECT_EQ(b[data + 8192 + 4096], 0);
    EXPECT_EQ(b[data + MiB + 511], 0);
    EXPECT_EQ(b[data + MiB + 512], 0xC3);
    // A write into a mapped block goes in place and allocates nothing.
    ASSERT_TRUE(node->pwrite(1 * int64_t{MiB}, c));
    b = file_bytes(p);
    EXPECT_EQ(b.size(), data + 2u * MiB);
    EXPECT_EQ(b[data + MiB], 0xC3);
    std::vector<uint8_t> back(4096);
    ASSERT_TRUE(node->pread(150 * int64_t{MiB} + 8192, back));
    EXPECT_EQ(back, a);
}

TEST_F(VdiTest, OneWriteAcrossBlocksAllocatesEachInOrder)
{
    std::string p = make_image("x.vdi", dynamic_image(4));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> data(MiB + 1024, 0x5A);
    ASSERT_TRUE(node->pwrite(2 * int64_t{MiB} - 512, data));
    auto b = file_bytes(p);
    EXPECT_EQ(load_le32(b, 0x184), 3u);
    EXPECT_EQ(load_le32(b, 0x200), 0xFFFFFFFFu);
    EXPECT_EQ(load_le32(b, 0x204), 0u);
    EXPECT_EQ(load_le32(b, 0x208), 1u);
    EXPECT_EQ(load_le32(b, 0x20C), 2u);
    std::vector<uint8_t> back(data.size());
    ASSERT_TRUE(node->pread(2 * int64_t{MiB} - 512, back));
    EXPECT_EQ(back, data);
}

TEST_F(VdiTest, BlockStatusReportsZeroForUnmappedAndFileOffsetsForData)
{
    std::string p = make_image("m.vdi", dynamic_image(4));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> data(512, 1);
    ASSERT_TRUE(node->pwrite(2 * int64_t{MiB}, data));
    auto hole = node->block_status(true, 0, 4 * int64_t{MiB});
    ASSERT_TRUE(hole);
    EXPECT_EQ(hole->flags, status::kZero | status::kAllocated);
    EXPECT_EQ(hole->bytes, MiB);
    auto mapped = node->block_status(true, 2 * int64_t{MiB} + 4096, 4 * int64_t{MiB});
    ASSERT_TRUE(mapped);
    EXPECT_TRUE(mapped->flags & status::kData);
    EXPECT_TRUE(mapped->flags & status::kOffsetValid);
    EXPECT_EQ(mapped->map, 1024 + 4096);
    EXPECT_EQ(mapped->bytes, MiB - 4096);
    EXPECT_EQ(mapped->file, node->file());
}

TEST_F(VdiTest, StaticImagesAskTheFileWhereItsHolesAre)
{
    std::string p = path("s.vdi");
    ASSERT_TRUE(create(p, 4 * MiB, {{"static", "on"}}));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> data(MiB, 7);
    ASSERT_TRUE(node->pwrite(0, data));
    auto written = node->block_status(true, 0, 4 * int64_t{MiB});
    ASSERT_TRUE(written);
    EXPECT_FALSE(written->flags & status::kZero);
    auto hole = node->block_status(true, 3 * int64_t{MiB}, MiB);
    ASSERT_TRUE(hole);
    EXPECT_EQ(hole->flags & (status::kData | status::kZero), status::kData | status::kZero);
    EXPECT_EQ(hole->map, 1024 + 3 * MiB);
    EXPECT_EQ(file_bytes(p).size(), 1024u + 4 * MiB);
}

TEST_F(VdiTest, ClusterSizeIsTheBlockSize)
{
    std::string p = make_image("i.vdi", dynamic_image(1));
    auto node = open_ok(p, ro());
    ASSERT_TRUE(node);
    auto info = node->info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->cluster_size, MiB);
}

TEST_F(VdiTest, CheckFindsBadIndexesSharedBlocksAndAMiscount)
{
    auto img = dynamic_image(4);
    std::string clean = make_image("c.vdi", img);
    auto node = open_ok(clean, ro());
    ASSERT_TRUE(node);
    // The findings go to stderr, as QEMU prints them.
    testing::internal::CaptureStderr();
    auto ok = kVdiDriver.check(*node, false);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->corruptions, 0);
    auto fix = kVdiDriver.check(*node, true);
    ASSERT_FALSE(fix);
    EXPECT_EQ(fix.error().errno_value, ENOTSUP);

    store_le32(img, 0x200, 1);
    store_le32(img, 0x204, 1);
    store_le32(img, 0x208, 80);
    store_le32(img, 0x184, 1);
    std::string bad = make_image("b.vdi", img);
    auto broken = open_ok(bad, ro());
    ASSERT_TRUE(broken);
    testing::internal::CaptureStderr();
    auto found = kVdiDriver.check(*broken, false);
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
        "ERROR: block index 1 also used by 1\n"
        "ERROR: block index 2 too large, is 80\n"
        "ERROR: allocated blocks mismatch, is 2, should be 1\n");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->corruptions, 3);
}

TEST_F(VdiTest, TruncatedFilesReadZerosWhereTheFileEnds)
{
    auto img = dynamic_image(2);
    store_le32(img, 0x200, 0);
    store_le32(img, 0x184, 1);
    img.resize(img.size() + 4096, 0x31);  // block 0's data, cut short
    std::string p = make_image("t.vdi", img);
    auto node = open_ok(p, ro());
    ASSERT_TRUE(node);
    std::vector<uint8_t> buf(8192, 0xAB);
    ASSERT_TRUE(node->pread(0, buf));
    EXPECT_EQ(buf[4095], 0x31);
    EXPECT_EQ(buf[4096], 0);
    // A header alone: the map past the end of the file reads as zeros (block 0 everywhere).
    std::vector<uint8_t> header_only(img.begin(), img.begin() + 512);
    std::string h = make_image("h.vdi", header_only);
    auto short_node = open_ok(h, ro());
    ASSERT_TRUE(short_node);
    ASSERT_TRUE(short_node->pread(MiB, buf));
    EXPECT_EQ(buf[0], 0);
}

TEST_F(VdiTest, RequestsPastTheMapFailInsteadOfIndexingBeyondIt)
{
    std::string p = make_image("e.vdi", dynamic_image(1));
    auto node = open_ok(p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> buf(512);
    auto read = node->pread(MiB, buf);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().errno_value, EIO);
    auto write = node->pwrite(MiB - 256, buf);
    ASSERT_FALSE(write);
    EXPECT_EQ(load_le32(file_bytes(p), 0x184), 0u);
}
