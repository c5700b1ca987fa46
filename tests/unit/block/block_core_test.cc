// The graph core: opening by filename and options, format probing and its warning, node
// names, the errors for unknown drivers and options, and the backend's request checks.
#include <cerrno>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "block/drivers.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;

namespace {

const std::string kProbedRawWarning =
    "WARNING: Image format was not specified for '{}' and probing guessed raw.\n"
    "         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be "
    "restricted.\n"
    "         Specify the 'raw' format explicitly to remove the restrictions.\n";

std::string warning_for(const std::string& name)
{
    std::string text = kProbedRawWarning;
    text.replace(text.find("{}"), 2, name);
    return text;
}

}  // namespace

TEST_F(BlockTest, ExplicitRawFormatOpensOverAFileChild)
{
    std::string img = make_image("a.img", 4096, 0x11);
    auto node = graph().open(img, {{"driver", "raw"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->driver().format_name, "raw");
    ASSERT_NE((*node)->file(), nullptr);
    EXPECT_EQ((*node)->file()->driver().format_name, "file");
    EXPECT_EQ((*node)->file()->filename(), img);
    EXPECT_FALSE((*node)->flags().probed);
    EXPECT_TRUE(m_warnings.empty());
}

TEST_F(BlockTest, ProbingGuessesRawAndWarnsOnlyWhenWritable)
{
    std::string img = make_image("a.img", 4096, 0x11);
    {
        auto node = graph().open(img, {}, ro());
        ASSERT_TRUE(node) << node.error().desc;
        EXPECT_EQ((*node)->driver().format_name, "raw");
        EXPECT_TRUE((*node)->flags().probed);
        EXPECT_TRUE(m_warnings.empty());
    }
    auto node = graph().open(img, {}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    ASSERT_EQ(m_warnings.size(), 1u);
    EXPECT_EQ(m_warnings[0], warning_for(img));
}

TEST_F(BlockTest, EmptyFileIsRawWithoutProbing)
{
    std::string img = make_image("empty.img", 0);
    auto node = graph().open(img, {}, ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->driver().format_name, "raw");
    EXPECT_EQ(*(*node)->length(), 0);
}

TEST_F(BlockTest, ProbeScoresRawLowestSoAnyRealFormatWins)
{
    std::vector<uint8_t> buf(512, 0);
    EXPECT_EQ(probe_format(buf, "x"), &kRawDriver);
    EXPECT_EQ(kRawDriver.probe(buf, "x"), 1);
    EXPECT_EQ(kFileDriver.probe, nullptr);  // protocols are never probed
}

TEST_F(BlockTest, DriverTableLookups)
{
    EXPECT_EQ(find_driver("raw"), &kRawDriver);
    EXPECT_EQ(find_driver("file"), &kFileDriver);
    EXPECT_EQ(find_driver("qcow9"), nullptr);
    EXPECT_EQ(find_protocol("file"), &kFileDriver);
    EXPECT_EQ(find_protocol("raw"), nullptr);
}

TEST_F(BlockTest, UnknownDriverIsQemusError)
{
    std::string img = make_image("a.img", 512);
    auto node = graph().open(img, {{"driver", "foo"}}, ro());
    ASSERT_FALSE(node);
    EXPECT_EQ(node.error().desc, "Unknown driver 'foo'");
}

TEST_F(BlockTest, UnknownProtocolPrefixIsRefused)
{
    auto node = graph().open("nbd:localhost:10809", {{"driver", "raw"}}, ro());
    ASSERT_FALSE(node);
    EXPECT_EQ(node.error().desc, "Unknown protocol 'nbd'");
}

TEST_F(BlockTest, FileProtocolPrefixIsStripped)
{
    std::string img = make_image("a.img", 512);
    auto node = graph().open("file:" + img, {{"driver", "raw"}}, ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->file()->filename(), img);
}

TEST_F(BlockTest, LeftoverOptionsNameTheLayerThatRefusedThem)
{
    std::string img = make_image("a.img", 512);
    auto format = graph().open(img, {{"driver", "raw"}, {"bogus", "1"}}, ro());
    ASSERT_FALSE(format);
    EXPECT_EQ(format.error().desc, "Block format 'raw' does not support the option 'bogus'");
    auto protocol = graph().open(std::nullopt, {{"driver", "file"}, {"filename", img}, {"bogus", "1"}}, ro());
    ASSERT_FALSE(protocol);
    EXPECT_EQ(protocol.error().desc, "Block protocol 'file' doesn't support the option 'bogus'");
    auto child = graph().open(img, {{"driver", "raw"}, {"file.bogus", "1"}}, ro());
    ASSERT_FALSE(child);
    EXPECT_EQ(child.error().desc, "Block protocol 'file' doesn't support the option 'bogus'");
}

TEST_F(BlockTest, NodeNamesAreCheckedAndIndexedWhileTheNodeLives)
{
    std::string img = make_image("a.img", 512);
    {
        auto node = graph().open(img, {{"driver", "raw"}, {"node-name", "disk0"}, {"file.node-name", "proto0"}}, ro());
        ASSERT_TRUE(node) << node.error().desc;
        EXPECT_EQ(graph().find_node("disk0"), node->get());
        EXPECT_EQ(graph().find_node("proto0"), (*node)->file());
        auto dup = graph().open(img, {{"driver", "raw"}, {"node-name", "disk0"}}, ro());
        ASSERT_FALSE(dup);
        EXPECT_EQ(dup.error().desc, "Duplicate nodes with node-name='disk0'");
    }
    EXPECT_EQ(graph().find_node("disk0"), nullptr);
    EXPECT_EQ(graph().find_node("proto0"), nullptr);
    auto bad = graph().open(img, {{"driver", "raw"}, {"node-name", "0bad"}}, ro());
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "Invalid node-name: '0bad'");
}

TEST_F(BlockTest, FormatCanUseAnExistingNodeAsItsFile)
{
    std::string img = make_image("a.img", 1024, 0x42);
    auto file = graph().open(std::nullopt, {{"driver", "file"}, {"filename", img}, {"node-name", "f0"}}, ro());
    ASSERT_TRUE(file) << file.error().desc;
    auto top = graph().open(std::nullopt, {{"driver", "raw"}, {"file", "f0"}}, ro());
    ASSERT_TRUE(top) << top.error().desc;
    EXPECT_EQ((*top)->file(), file->get());
    auto missing = graph().open(std::nullopt, {{"driver", "raw"}, {"file", "nope"}}, ro());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "Cannot find device='nope' nor node-name='nope'");
}

TEST_F(BlockTest, CommonOptionsOverrideAndReachTheChild)
{
    std::string img = make_image("a.img", 512);
    auto node = graph().open(img, {{"driver", "raw"}, {"read-only", "on"}, {"cache.no-flush", "on"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_TRUE((*node)->read_only());
    EXPECT_TRUE((*node)->file()->read_only());
    EXPECT_TRUE((*node)->file()->flags().no_flush);
    auto bad = graph().open(img, {{"driver", "raw"}, {"read-only", "maybe"}}, rw());
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "Parameter 'read-only' expects 'on' or 'off'");
}

TEST_F(BlockTest, LengthCountsWholeSectorsAndTheTailReadsAsZeros)
{
    std::string img = make_image("odd.img", 1000, 0x55);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro()});
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ(*(*blk)->length(), 1024);
    std::vector<uint8_t> buf(48, 0xab);
    ASSERT_TRUE((*blk)->pread(976, buf));
    for (size_t i = 0; i < buf.size(); ++i) {
        EXPECT_EQ(buf[i], i < 24 ? 0x55 : 0) << i;
    }
}

TEST_F(BlockTest, BackendRefusesRequestsPastTheEnd)
{
    std::string img = make_image("a.img", 4096);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> buf(512);
    auto read = (*blk)->pread(4096 - 256, buf);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().errno_value, EIO);
    auto write = (*blk)->pwrite(4096, buf);
    ASSERT_FALSE(write);
    EXPECT_EQ(write.error().errno_value, EIO);
    EXPECT_EQ((*blk)->discard(-1, 1).error().errno_value, EIO);
    EXPECT_TRUE((*blk)->pread(4096 - 512, buf));
    EXPECT_EQ(file_bytes(img).size(), 4096u);
}

TEST_F(BlockTest, WritePermissionOnAReadOnlyNodeIsRefused)
{
    std::string img = make_image("a.img", 4096);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro()});
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ((*blk)->perm(), perm::kConsistentRead);
    auto granted = (*blk)->set_perm((*blk)->perm() | perm::kWrite, perm::kAll);
    ASSERT_FALSE(granted);
    EXPECT_EQ(granted.error().desc, "Block node is read-only");
    std::vector<uint8_t> buf(512);
    EXPECT_EQ((*blk)->pwrite(0, buf).error().errno_value, EPERM);
}

TEST_F(BlockTest, WritethroughBackendStillWritesAndFlushes)
{
    std::string img = make_image("a.img", 4096);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    (*blk)->set_write_cache(false);
    std::vector<uint8_t> buf(512, 0x7e);
    ASSERT_TRUE((*blk)->pwrite(512, buf));
    ASSERT_TRUE((*blk)->flush());
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes[511], 0);
    EXPECT_EQ(bytes[512], 0x7e);
    EXPECT_EQ(bytes[1023], 0x7e);
}

TEST_F(BlockTest, BlockStatusFollowsRawDownToTheFile)
{
    std::string img = make_image("a.img", 0);
    ASSERT_EQ(truncate(img.c_str(), 1 << 20), 0);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> buf(65536, 1);
    ASSERT_TRUE((*blk)->pwrite(65536, buf));
    auto hole = (*blk)->root().block_status(true, 0, 1 << 20);
    ASSERT_TRUE(hole) << hole.error().desc;
    EXPECT_TRUE(hole->flags & status::kZero);
    EXPECT_FALSE(hole->flags & status::kData);
    EXPECT_TRUE(hole->flags & status::kAllocated);
    EXPECT_EQ(hole->file, (*blk)->root().file());
    EXPECT_EQ(hole->bytes, 65536);
    auto data = (*blk)->root().block_status(true, 65536, 1 << 20);
    ASSERT_TRUE(data);
    EXPECT_TRUE(data->flags & status::kData);
    EXPECT_EQ(data->bytes, 65536);
    // Without want_zero everything in a raw image is allocated data.
    int64_t pnum = 0;
    auto allocated = (*blk)->root().is_allocated(0, 1 << 20, &pnum);
    ASSERT_TRUE(allocated);
    EXPECT_TRUE(*allocated);
    EXPECT_EQ(pnum, 1 << 20);
    auto eof = (*blk)->root().block_status(true, 1 << 20, 512);
    ASSERT_TRUE(eof);
    EXPECT_EQ(eof->bytes, 0);
    EXPECT_TRUE(eof->flags & status::kEof);
}

// block-set-write-threshold's node half: the first write, write-zeroes or discard whose end
// passes the threshold reports once, on whichever thread made it, and switches it off.
TEST_F(BlockTest, WriteThresholdReportsTheFirstRequestPastItOnce)
{
    std::string img = make_image("a.img", 1 << 20, 0);
    auto node = graph().open(img, {{"driver", "raw"}, {"discard", "unmap"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    BlockNode& file = *(*node)->file();
    std::mutex lock;
    std::vector<std::tuple<std::string, uint64_t, uint64_t>> reports;
    graph().on_write_threshold = [&](const BlockNode& where, uint64_t exceeded, uint64_t threshold) {
        std::lock_guard hold(lock);
        reports.emplace_back(where.node_name(), exceeded, threshold);
    };
    struct Unhook {
        BlockGraph& graph;
        ~Unhook() { graph.on_write_threshold = nullptr; }
    } unhook{graph()};
    std::vector<uint8_t> data(4096, 0x5a);

    (*node)->set_write_threshold(8192);
    ASSERT_TRUE((*node)->pwrite(4096, data));  // ends exactly at it
    EXPECT_TRUE(reports.empty());
    ASSERT_TRUE((*node)->pwrite(8191, std::span(data).first(2)));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0], std::make_tuple((*node)->node_name(), uint64_t{1}, uint64_t{8192}));
    EXPECT_EQ((*node)->write_threshold(), 0u);
    ASSERT_TRUE((*node)->pwrite(1 << 19, data));
    EXPECT_EQ(reports.size(), 1u);

    // The file below has its own, and a discard counts.
    file.set_write_threshold(100);
    ASSERT_TRUE((*node)->discard(0, 65536));
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_EQ(reports[1], std::make_tuple(file.node_name(), uint64_t{65436}, uint64_t{100}));

    (*node)->set_write_threshold(10000);
    ASSERT_TRUE((*node)->pwrite_zeroes(9000, 2000));
    ASSERT_EQ(reports.size(), 3u);
    EXPECT_EQ(std::get<1>(reports[2]), 1000u);

    // Writers racing past it on several threads: still one report.
    (*node)->set_write_threshold(4096);
    std::vector<std::thread> writers;
    for (int i = 0; i < 8; ++i) {
        writers.emplace_back([&, i] { EXPECT_TRUE((*node)->pwrite(8192 + i * 4096, data)); });
    }
    for (std::thread& writer : writers) {
        writer.join();
    }
    EXPECT_EQ(reports.size(), 4u);
}
