// When the generic layer flushes: only after changes (QEMU's write_gen/flushed_gen), not
// after a FUA write the driver made durable itself, by emulation after one it could not,
// never with cache.no-flush, and once more when a written node is closed (bdrv_close).
// A counting driver stands in for the file so every call can be seen.
#include <gtest/gtest.h>

#include "block/block.h"

using namespace qemu::block;
using qemu::Result;

namespace {

struct Counts {
    int writes = 0;
    int fua_writes = 0;
    int flushes = 0;
};
Counts g_counts;

struct CountingState : DriverState { };

Result<void> counting_pwritev(BlockNode&, int64_t, std::span<const iovec>, RequestFlags flags)
{
    ++g_counts.writes;
    g_counts.fua_writes += flags.fua;
    return {};
}

Result<void> counting_flush(BlockNode&)
{
    ++g_counts.flushes;
    return {};
}

Result<int64_t> counting_length(BlockNode&)
{
    return 1 << 20;
}

const BlockDriver kCountingFua = {
    .format_name = "counting",
    .protocol_name = "counting",
    .passes_fua = true,
    .pwritev = counting_pwritev,
    .flush = counting_flush,
    .get_length = counting_length,
};

const BlockDriver kCountingNoFua = {
    .format_name = "counting",
    .protocol_name = "counting",
    .pwritev = counting_pwritev,
    .flush = counting_flush,
    .get_length = counting_length,
};

class FlushTest : public ::testing::Test {
protected:
    void SetUp() override { g_counts = {}; }

    std::shared_ptr<BlockNode> node(const BlockDriver& driver, OpenFlags flags = {.read_write = true})
    {
        auto n = std::make_shared<BlockNode>(m_graph, driver, "n", flags);
        n->set_state(std::make_unique<CountingState>());
        return n;
    }

    BlockGraph m_graph;
    std::vector<uint8_t> m_buf = std::vector<uint8_t>(512, 1);
};

TEST_F(FlushTest, AFlushWithNothingWrittenSinceTheLastOneSkipsTheDriver)
{
    auto n = node(kCountingFua);
    ASSERT_TRUE(n->flush());
    EXPECT_EQ(g_counts.flushes, 0);
    ASSERT_TRUE(n->pwrite(0, m_buf));
    ASSERT_TRUE(n->flush());
    ASSERT_TRUE(n->flush());
    EXPECT_EQ(g_counts.flushes, 1);
    ASSERT_TRUE(n->pwrite(0, m_buf));
    ASSERT_TRUE(n->flush());
    EXPECT_EQ(g_counts.flushes, 2);
}

TEST_F(FlushTest, AFuaWriteTheDriverTakesNeedsNoFlush)
{
    auto n = node(kCountingFua);
    ASSERT_TRUE(n->pwrite(0, m_buf, {.fua = true}));
    EXPECT_EQ(g_counts.fua_writes, 1);
    ASSERT_TRUE(n->flush());
    EXPECT_EQ(g_counts.flushes, 0);
}

TEST_F(FlushTest, AFuaWriteTheDriverCannotTakeIsFollowedByOneFlush)
{
    auto n = node(kCountingNoFua);
    ASSERT_TRUE(n->pwrite(0, m_buf, {.fua = true}));
    EXPECT_EQ(g_counts.fua_writes, 0);
    EXPECT_EQ(g_counts.flushes, 1);
    ASSERT_TRUE(n->flush());
    EXPECT_EQ(g_counts.flushes, 1);
}

TEST_F(FlushTest, NoFlushDropsFuaAndFlushes)
{
    auto n = node(kCountingFua, {.read_write = true, .no_flush = true});
    ASSERT_TRUE(n->pwrite(0, m_buf, {.fua = true}));
    EXPECT_EQ(g_counts.fua_writes, 0);
    ASSERT_TRUE(n->flush());
    n.reset();
    EXPECT_EQ(g_counts.flushes, 0);
}

TEST_F(FlushTest, ClosingAWrittenNodeFlushesIt)
{
    auto n = node(kCountingFua);
    ASSERT_TRUE(n->pwrite(0, m_buf));
    n.reset();
    EXPECT_EQ(g_counts.flushes, 1);

    auto clean = node(kCountingFua);
    ASSERT_TRUE(clean->pwrite(0, m_buf));
    ASSERT_TRUE(clean->flush());
    clean.reset();
    EXPECT_EQ(g_counts.flushes, 2);

    auto read_only = node(kCountingFua, {});
    read_only.reset();
    EXPECT_EQ(g_counts.flushes, 2);
}

}  // namespace
