// The vpc (VHD) driver: CHS geometry and create-time rounding against QEMU 7.2's table, the
// creator rules for the virtual size, the layout create writes, QEMU's open errors, block
// allocation (order, footer move, bitmaps), reads, block status and probing.
#include <cerrno>
#include <cstring>
#include <fstream>

#include "block/drivers.h"
#include "block/vpc/vpc-format.h"
#include "block/vpc/vpc-geometry.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using namespace qemu::block::vpc;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;
using qemu::load_be32;
using qemu::load_be64;
using qemu::store_be16;
using qemu::store_be32;
using qemu::store_be64;

namespace {

constexpr int64_t MiB = 1024 * 1024;
constexpr int64_t GiB = 1024 * MiB;

struct ChsRow {
    int64_t requested;
    Geometry geometry;
    int64_t virtual_size;
};

// Checked with qemu-img 7.2 (block-formats.md §3.5): dynamic and fixed alike.
constexpr ChsRow kChsTable[] = {
    {1 * MiB, {31, 4, 17}, 1079296},
    {10 * MiB, {302, 4, 17}, 10514432},
    {64 * MiB, {964, 8, 17}, 67125248},
    {100 * MiB, {1004, 12, 17}, 104865792},
    {127 * MiB, {1020, 15, 17}, 133171200},
    {500 * MiB, {1016, 16, 63}, 524353536},
    {1 * GiB, {2081, 16, 63}, 1073995776},
    {4 * GiB, {8323, 16, 63}, 4295467008},
    {31 * GiB, {64496, 16, 63}, 33286127616},
    {32 * GiB, {16449, 16, 255}, 34361303040},
    {127 * GiB, {65279, 16, 255}, 136365219840},
    {127 * GiB + 512 * MiB, {65535, 16, 255}, 136902082560},
    {1024, {1, 4, 17}, 34816},
};

std::vector<uint8_t> read_range(const std::vector<uint8_t>& bytes, size_t at, size_t len)
{
    return std::vector<uint8_t>(
        bytes.begin() + static_cast<ptrdiff_t>(at), bytes.begin() + static_cast<ptrdiff_t>(at + len));
}

Footer footer_at(const std::vector<uint8_t>& bytes, size_t at)
{
    Footer f;
    std::memcpy(f.bytes.data(), bytes.data() + at, kFooterSize);
    return f;
}

void fix_checksum(std::vector<uint8_t>& bytes, size_t at)
{
    std::span<uint8_t> footer(bytes.data() + at, kFooterSize);
    store_be32(footer, footer::kChecksum, 0);
    store_be32(footer, footer::kChecksum, vhd_checksum(footer));
}

class VpcTest : public BlockTest {
protected:
    std::string create(const std::string& name, uint64_t size, BlockOptions opts = {})
    {
        std::string p = path(name);
        auto created = kVpcDriver.create({}, CreateOptions{.filename = p, .size = size, .opts = std::move(opts)});
        EXPECT_TRUE(created) << created.error().desc;
        return p;
    }

    // Writes bytes over a file at an offset, then rewrites the checksum of the footers.
    std::string patch(const std::string& source, const std::string& name,
        std::vector<std::pair<size_t, std::vector<uint8_t>>> edits, bool fix_footers = true)
    {
        auto bytes = file_bytes(source);
        for (auto& [at, value] : edits) {
            std::memcpy(bytes.data() + at, value.data(), value.size());
        }
        if (fix_footers) {
            fix_checksum(bytes, 0);
            fix_checksum(bytes, bytes.size() - kFooterSize);
        }
        return make_image(name, bytes);
    }

    std::string open_error(const std::string& p, BlockOptions options = {{"driver", "vpc"}})
    {
        auto node = graph().open(p, options, ro());
        EXPECT_FALSE(node);
        return node ? std::string() : node.error().desc;
    }
};

std::vector<uint8_t> be32_bytes(uint32_t v)
{
    std::vector<uint8_t> out(4);
    store_be32(out, 0, v);
    return out;
}

std::vector<uint8_t> be64_bytes(uint64_t v)
{
    std::vector<uint8_t> out(8);
    store_be64(out, 0, v);
    return out;
}

}  // namespace

TEST(VpcGeometry, CreateRoundsUpToQemusChsTable)
{
    for (const ChsRow& row : kChsTable) {
        auto rounded = round_image_size(row.requested, false);
        ASSERT_TRUE(rounded) << row.requested;
        EXPECT_EQ(rounded->geometry, row.geometry) << row.requested;
        EXPECT_EQ(rounded->total_sectors * 512, row.virtual_size) << row.requested;
    }
}

TEST(VpcGeometry, SpecificationAlgorithmPicksSectorsPerTrackByRange)
{
    EXPECT_EQ(calculate_geometry(2048), (Geometry{30, 4, 17}));
    EXPECT_EQ(calculate_geometry(16 * 1024 * 17), (Geometry{561, 16, 31}));
    EXPECT_EQ(calculate_geometry(65535LL * 16 * 63), (Geometry{16191, 16, 255}));
    EXPECT_EQ(calculate_geometry(65535LL * 16 * 63 - 1), (Geometry{65534, 16, 63}));
    // Beyond the maximum the geometry stays the maximum.
    EXPECT_EQ(calculate_geometry(kMaxGeometrySectors * 4), kMaxGeometry);
}

TEST(VpcGeometry, ForceSizeKeepsTheExactSizeWithMaximumGeometry)
{
    auto rounded = round_image_size(1 * MiB, true);
    ASSERT_TRUE(rounded);
    EXPECT_EQ(rounded->geometry, kMaxGeometry);
    EXPECT_EQ(rounded->total_sectors, 2048);
}

TEST(VpcGeometry, SizesPast2040GiBFailWithEfbig)
{
    auto too_big = round_image_size(2041 * GiB, false);
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error().errno_value, EFBIG);
    EXPECT_EQ(too_big.error().desc, "Disk size is too large, max size is 2040 GiB");
    EXPECT_TRUE(round_image_size(2040 * GiB, true));
    EXPECT_FALSE(round_image_size(2040 * GiB + 512, true));
}

TEST(VpcFormat, CreatorDecidesBetweenFooterSizeAndChs)
{
    Footer f;
    store_be16(f.bytes, footer::kCylinders, 31);
    f.bytes[footer::kHeads] = 4;
    f.bytes[footer::kSectorsPerTrack] = 17;
    store_be64(f.bytes, footer::kCurrentSize, 1 * MiB);
    auto with_app = [&](const char(&app)[5]) {
        std::memcpy(f.bytes.data() + footer::kCreatorApp, app, 4);
        return footer_total_sectors(f, SizeCalc::Auto);
    };
    EXPECT_EQ(with_app("vpc "), 2108);
    EXPECT_EQ(with_app("qemu"), 2108);
    EXPECT_EQ(with_app("d2v\0"), 2108);
    EXPECT_EQ(with_app("tap "), 2108);
    EXPECT_EQ(with_app("win "), 2048);
    EXPECT_EQ(with_app("qem2"), 2048);
    EXPECT_EQ(with_app("d2v "), 2048);
    EXPECT_EQ(with_app("CTXS"), 2048);
    EXPECT_EQ(with_app("tap\0"), 2048);
    EXPECT_EQ(footer_total_sectors(f, SizeCalc::Chs), 2108);
    with_app("vpc ");
    EXPECT_EQ(footer_total_sectors(f, SizeCalc::CurrentSize), 2048);
    // The maximum geometry always means the footer's size, even when CHS is forced.
    store_be16(f.bytes, footer::kCylinders, 65535);
    f.bytes[footer::kHeads] = 16;
    f.bytes[footer::kSectorsPerTrack] = 255;
    EXPECT_EQ(footer_total_sectors(f, SizeCalc::Chs), 2048);
}

TEST(VpcFormat, ChecksumIsOnesComplementOfTheByteSum)
{
    std::vector<uint8_t> buf = {1, 2, 3, 250};
    EXPECT_EQ(vhd_checksum(buf), ~uint32_t{256});
    Footer f;
    std::memcpy(f.bytes.data(), "conectix", 8);
    store_be32(f.bytes, footer::kChecksum, vhd_checksum(f.bytes));
    EXPECT_TRUE(f.checksum_ok());
    f.bytes[100] = 1;
    EXPECT_FALSE(f.checksum_ok());
}

TEST_F(VpcTest, DynamicCreateLaysOutFooterHeaderTableFooter)
{
    std::string p = create("d.vhd", 64 * MiB);
    auto bytes = file_bytes(p);
    ASSERT_EQ(bytes.size(), 2560u);
    Footer head = footer_at(bytes, 0);
    EXPECT_EQ(head.bytes, footer_at(bytes, 2048).bytes);
    EXPECT_TRUE(head.checksum_ok());
    EXPECT_EQ(head.creator_app(), "qemu");
    EXPECT_EQ(head.data_offset(), 512u);
    EXPECT_EQ(head.current_size(), 67125248u);
    EXPECT_EQ(load_be64(head.bytes, footer::kOriginalSize), 67125248u);
    EXPECT_EQ(head.cylinders(), 964);
    EXPECT_EQ(head.heads(), 8);
    EXPECT_EQ(head.sectors_per_track(), 17);
    EXPECT_EQ(head.disk_type(), 3u);
    EXPECT_EQ(load_be32(head.bytes, footer::kCreatorVersion), 0x00050003u);
    EXPECT_EQ(std::memcmp(head.bytes.data() + footer::kCreatorOs, "Wi2k", 4), 0);
    EXPECT_EQ(head.bytes[footer::kUuid + 6] >> 4, 4);  // a random (version 4) UUID
    auto header = read_range(bytes, 512, 1024);
    EXPECT_EQ(std::memcmp(header.data(), "cxsparse", 8), 0);
    EXPECT_EQ(load_be64(header, dynheader::kDataOffset), ~uint64_t{0});
    EXPECT_EQ(load_be64(header, dynheader::kTableOffset), 1536u);
    EXPECT_EQ(load_be32(header, dynheader::kMaxTableEntries), 33u);
    EXPECT_EQ(load_be32(header, dynheader::kBlockSize), 2u * 1024 * 1024);
    uint32_t stored = load_be32(header, dynheader::kChecksum);
    store_be32(header, dynheader::kChecksum, 0);
    EXPECT_EQ(stored, vhd_checksum(header));
    EXPECT_EQ(read_range(bytes, 1536, 512), std::vector<uint8_t>(512, 0xff));
}

TEST_F(VpcTest, FixedCreateIsZerosThenFooterAndProbesAsRaw)
{
    std::string p = create("f.vhd", 1 * MiB, {{"subformat", "fixed"}, {"force_size", "on"}});
    auto bytes = file_bytes(p);
    ASSERT_EQ(bytes.size(), static_cast<size_t>(MiB + 512));
    Footer f = footer_at(bytes, MiB);
    EXPECT_TRUE(f.checksum_ok());
    EXPECT_EQ(f.creator_app(), "qem2");
    EXPECT_EQ(f.data_offset(), ~uint64_t{0});
    EXPECT_EQ(f.disk_type(), 2u);
    EXPECT_EQ(f.current_size(), static_cast<uint64_t>(MiB));
    EXPECT_EQ(f.cylinders(), 65535);
    auto probed = graph().open(p, {}, ro());
    ASSERT_TRUE(probed) << probed.error().desc;
    EXPECT_EQ(&(*probed)->driver(), &kRawDriver);
    auto as_vpc = graph().open(p, {{"driver", "vpc"}}, ro());
    ASSERT_TRUE(as_vpc) << as_vpc.error().desc;
    EXPECT_EQ(*(*as_vpc)->length(), MiB);
    EXPECT_EQ((*as_vpc)->info()->cluster_size, 0);
}

TEST_F(VpcTest, CreateRejectsBadSubformatAfterMakingTheFileEmpty)
{
    std::string p = make_image("x.vhd", 4096, 0x55);
    auto created = kVpcDriver.create({}, CreateOptions{.filename = p, .size = MiB, .opts = {{"subformat", "bad"}}});
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().desc, "Parameter 'subformat' does not accept value 'bad'");
    EXPECT_EQ(file_bytes(p).size(), 0u);
    auto big = kVpcDriver.create({}, CreateOptions{.filename = p, .size = 3ull << 40});
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().errno_value, EFBIG);
}

TEST_F(VpcTest, DynamicImageProbesAndReportsBlockSize)
{
    std::string p = create("d.vhd", 10 * MiB);
    auto node = graph().open(p, {}, ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ(&(*node)->driver(), &kVpcDriver);
    EXPECT_EQ(*(*node)->length(), 10514432);
    EXPECT_EQ((*node)->info()->cluster_size, 2 * MiB);
}

TEST_F(VpcTest, AllocationAppendsBlocksWhereTheFooterWasAndMovesIt)
{
    std::string p = create("d.vhd", 64 * MiB);
    int fds = block_test::open_fd_count();
    {
        auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        std::vector<uint8_t> a(4096, 0xaa), b(1024, 0xbb);
        ASSERT_TRUE((*blk)->pwrite(2 * MiB, a));
        ASSERT_TRUE((*blk)->pwrite(0, b));
        // A write spanning two blocks: the second of them is allocated third.
        std::vector<uint8_t> c(8192, 0xcc);
        ASSERT_TRUE((*blk)->pwrite(6 * MiB - 4096, c));
    }
    EXPECT_EQ(block_test::open_fd_count(), fds);
    auto bytes = file_bytes(p);
    const int64_t block = 512 + 2 * MiB;
    ASSERT_EQ(bytes.size(), static_cast<size_t>(2560 + 4 * block));
    EXPECT_EQ(load_be32(bytes, 1536 + 4 * 1), 0x4u);
    EXPECT_EQ(load_be32(bytes, 1536 + 4 * 0), 0x1005u);
    EXPECT_EQ(load_be32(bytes, 1536 + 4 * 2), 0x2006u);
    EXPECT_EQ(load_be32(bytes, 1536 + 4 * 3), 0x3007u);
    EXPECT_EQ(load_be32(bytes, 1536 + 4 * 4), 0xffffffffu);
    // Bitmaps all ones, data after them, the footer (unchanged) at the new end.
    EXPECT_EQ(read_range(bytes, 2048, 512), std::vector<uint8_t>(512, 0xff));
    EXPECT_EQ(bytes[2560], 0xaa);
    EXPECT_EQ(bytes[2048 + block + 512], 0xbb);
    EXPECT_EQ(footer_at(bytes, bytes.size() - 512).bytes, footer_at(bytes, 0).bytes);
    EXPECT_EQ(bytes[0x2006 * 512 + 512 + 2 * MiB - 1], 0xcc);
    EXPECT_EQ(bytes[0x3007 * 512 + 512], 0xcc);
}

TEST_F(VpcTest, ReadsGiveZerosForHolesAndDataThroughTheTable)
{
    std::string p = create("d.vhd", 8 * MiB);
    auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> data(3000);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<uint8_t>(i * 7);
    }
    ASSERT_TRUE((*blk)->pwrite(2 * MiB - 1000, data));
    std::vector<uint8_t> back(5000, 0x99);
    ASSERT_TRUE((*blk)->pread(2 * MiB - 2000, back));
    EXPECT_EQ(std::vector<uint8_t>(back.begin(), back.begin() + 1000), std::vector<uint8_t>(1000, 0));
    EXPECT_EQ(std::vector<uint8_t>(back.begin() + 1000, back.begin() + 4000), data);
    EXPECT_EQ(std::vector<uint8_t>(back.begin() + 4000, back.end()), std::vector<uint8_t>(1000, 0));
    std::vector<uint8_t> hole(4096, 0x99);
    ASSERT_TRUE((*blk)->pread(6 * MiB, hole));
    EXPECT_EQ(hole, std::vector<uint8_t>(4096, 0));
}

TEST_F(VpcTest, BlockStatusMergesHolesAndStopsAtEachAllocatedBlock)
{
    std::string p = create("d.vhd", 16 * MiB);
    auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> data(512, 1);
    ASSERT_TRUE((*blk)->pwrite(8 * MiB + 512, data));
    BlockNode& root = (*blk)->root();
    auto hole = root.block_status(true, 100, 16 * MiB);
    ASSERT_TRUE(hole);
    EXPECT_EQ(hole->flags & (status::kZero | status::kData), status::kZero);
    EXPECT_EQ(hole->bytes, 8 * MiB - 100);
    auto alloc = root.block_status(true, 8 * MiB + 4096, 16 * MiB);
    ASSERT_TRUE(alloc);
    EXPECT_TRUE(alloc->flags & status::kData);
    EXPECT_TRUE(alloc->flags & status::kOffsetValid);
    EXPECT_EQ(alloc->bytes, 2 * MiB - 4096);
    // 9 entries fit one table sector, so the first block starts at 2048, its data at 2560.
    EXPECT_EQ(alloc->map, 2048 + 512 + 4096);
}

TEST_F(VpcTest, WritingIntoAnotherToolsBlockSetsItsBitmapToAllOnes)
{
    std::string p = create("d.vhd", 8 * MiB);
    {
        auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk);
        std::vector<uint8_t> data(512, 1);
        ASSERT_TRUE((*blk)->pwrite(0, data));
    }
    std::string zeroed = patch(p, "z.vhd", {{2048, std::vector<uint8_t>(512, 0)}}, false);
    auto blk = BlockBackend::open(graph(), zeroed, {{"driver", "vpc"}}, {.flags = rw()});
    ASSERT_TRUE(blk);
    std::vector<uint8_t> data(512, 2);
    ASSERT_TRUE((*blk)->pwrite(4096, data));
    auto bytes = file_bytes(zeroed);
    EXPECT_EQ(read_range(bytes, 2048, 512), std::vector<uint8_t>(512, 0xff));
}

namespace {

// The bytes this process has passed to write system calls so far (every thread's; eventfd
// signals count 8 each).
int64_t bytes_written()
{
    std::ifstream io("/proc/self/io");
    std::string key;
    int64_t value = 0;
    while (io >> key >> value) {
        if (key == "wchar:") {
            return value;
        }
    }
    return 0;
}

}  // namespace

// A block whose bitmap is already all ones is not written again: its first write in an
// open writes the bitmap's 512 bytes fewer than into a block whose bitmap is zeroed (a
// write into another block first settles what an open's first request sets up). Over
// blkdebug, whose rules count the writes below, the bitmap is written as QEMU writes it:
// a rule failing writes to its sector (4: the block starts at 2048) fails both.
TEST_F(VpcTest, ABitmapAlreadyAllOnesIsNotWrittenAgain)
{
    std::string p = create("d.vhd", 8 * MiB);
    {
        auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk);
        ASSERT_TRUE((*blk)->pwrite(0, std::vector<uint8_t>(512, 1)));
        ASSERT_TRUE((*blk)->pwrite(2 * MiB, std::vector<uint8_t>(512, 1)));
    }
    std::string zeroed = patch(p, "z.vhd", {{2048, std::vector<uint8_t>(512, 0)}}, false);
    std::vector<int64_t> written;
    for (const std::string& image : {p, zeroed}) {
        auto blk = BlockBackend::open(graph(), image, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        ASSERT_TRUE((*blk)->pwrite(2 * MiB + 4096, std::vector<uint8_t>(512, 2)));
        int64_t before = bytes_written();
        ASSERT_TRUE((*blk)->pwrite(4096, std::vector<uint8_t>(512, 2)));
        written.push_back(bytes_written() - before);
    }
    // 512 apart; a few eventfd signals more or less must not decide it.
    EXPECT_GE(written[1] - written[0], 256) << "the zeroed bitmap is rewritten, the all-ones one is not";
    EXPECT_LE(written[1] - written[0], 768);
    EXPECT_EQ(read_range(file_bytes(p), 2560 + 4096, 512), std::vector<uint8_t>(512, 2));

    const std::string_view rule =
        "[inject-error]\nevent = \"none\"\niotype = \"write\"\nsector = \"4\"\nerrno = \"5\"\n";
    std::string config = make_image("bitmap.cfg", std::vector<uint8_t>(rule.begin(), rule.end()));
    for (const std::string& image : {p, zeroed}) {
        auto blk =
            BlockBackend::open(graph(), "blkdebug:" + config + ":" + image, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        auto written = (*blk)->pwrite(4096, std::vector<uint8_t>(512, 3));
        ASSERT_FALSE(written) << image;
        EXPECT_EQ(written.error().errno_value, EIO);
    }
}

TEST_F(VpcTest, OpenErrorsAreQemus)
{
    std::string good = create("good.vhd", 8 * MiB);
    // A footer UUID byte changed without fixing the checksum. The UUID is random, so the new
    // value is the old one inverted: any fixed value would equal it in 1 run out of 256.
    const size_t uuid_byte = footer::kUuid + 2;
    const auto flipped = static_cast<uint8_t>(file_bytes(good)[uuid_byte] ^ 0xff);
    EXPECT_EQ(open_error(patch(good, "sum.vhd", {{uuid_byte, {flipped}}}, false)), "Incorrect header checksum");
    EXPECT_EQ(open_error(patch(good, "magic.vhd", {{512, {'x'}}})), "Invalid header magic");
    EXPECT_EQ(open_error(patch(good, "bs.vhd", {{512 + 32, be32_bytes(1000)}})), "Invalid block size 1000");
    EXPECT_EQ(open_error(patch(good, "bs2.vhd", {{512 + 32, be32_bytes(256)}})), "Invalid block size 256");
    EXPECT_EQ(open_error(patch(good, "small.vhd", {{512 + 28, be32_bytes(2)}})), "Page table too small");
    EXPECT_EQ(open_error(patch(good, "large.vhd", {{512 + 28, be32_bytes(0x40000001)}})),
        "Max Table Entries too large (1073741825)");
    const std::string truncated =
        "block-vpc: free_data_block_offset points after the end of file. The image has been truncated.";
    EXPECT_EQ(open_error(patch(good, "eof.vhd", {{512 + 28, be32_bytes(1000)}})), truncated);
    EXPECT_EQ(open_error(patch(good, "bat.vhd", {{1536, be32_bytes(0x10000)}})), truncated);
    EXPECT_EQ(open_error(patch(good, "hdr.vhd", {{16, be64_bytes(0xfffffffffffffe00ull)}})),
        "Error reading dynamic VHD header");
    EXPECT_EQ(open_error(patch(good, "batoff.vhd", {{512 + 16, be64_bytes(1ull << 63)}})), "Error reading pagetable");
    EXPECT_EQ(open_error(patch(good, "big.vhd", {{28, {'w', 'i', 'n', ' '}}, {48, be64_bytes(0xff000001ull * 512)}})),
        "Could not open '" + path("big.vhd") + "': File too large");
    // Lengths count whole sectors, so only an empty file is too small; 300 bytes read as a
    // zero-padded sector without a footer.
    EXPECT_EQ(open_error(make_image("empty.vhd", 0)), "File too small for a VHD header");
    EXPECT_EQ(open_error(make_image("tiny.vhd", 300, 1)), "invalid VPC image");
    EXPECT_EQ(open_error(make_image("junk.vhd", 4096, 1)), "invalid VPC image");
    EXPECT_EQ(open_error(good, {{"driver", "vpc"}, {"force_size_calc", "x"}}), "Invalid size calculation mode: 'x'");
}

TEST_F(VpcTest, TruncatedFileWithBlocksFailsToOpen)
{
    std::string p = create("d.vhd", 8 * MiB);
    {
        auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk);
        std::vector<uint8_t> data(512, 1);
        ASSERT_TRUE((*blk)->pwrite(0, data));
    }
    ASSERT_EQ(::truncate(p.c_str(), 2048 + 1000), 0);
    EXPECT_EQ(
        open_error(p), "block-vpc: free_data_block_offset points after the end of file. The image has been truncated.");
}

TEST_F(VpcTest, SizeCalcOptionOverridesTheCreatorTable)
{
    std::string good = create("good.vhd", 8 * MiB);
    std::string win = patch(good, "win.vhd", {{28, {'w', 'i', 'n', ' '}}, {48, be64_bytes(7 * MiB)}});
    auto by_footer = graph().open(win, {{"driver", "vpc"}}, ro());
    ASSERT_TRUE(by_footer) << by_footer.error().desc;
    EXPECT_EQ(*(*by_footer)->length(), 7 * MiB);
    auto by_chs = graph().open(win, {{"driver", "vpc"}, {"force_size_calc", "chs"}}, ro());
    ASSERT_TRUE(by_chs) << by_chs.error().desc;
    EXPECT_EQ(*(*by_chs)->length(), 8390656);
}

TEST_F(VpcTest, FixedImageWritesPassThrough)
{
    std::string p = create("f.vhd", 1 * MiB, {{"subformat", "fixed"}});
    {
        auto blk = BlockBackend::open(graph(), p, {{"driver", "vpc"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        EXPECT_EQ(*(*blk)->length(), 1079296);
        std::vector<uint8_t> data(512, 0x5a);
        ASSERT_TRUE((*blk)->pwrite(1079296 - 512, data));
        auto past = (*blk)->pwrite(1079296, data);
        ASSERT_FALSE(past);
    }
    auto bytes = file_bytes(p);
    ASSERT_EQ(bytes.size(), 1079296u + 512u);
    EXPECT_EQ(bytes[1079296 - 1], 0x5a);
    EXPECT_TRUE(footer_at(bytes, 1079296).checksum_ok());
}
