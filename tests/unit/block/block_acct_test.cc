// Block accounting (block/block-acct.h) and its timed averages (block/timed-average.h):
// the windows of QEMU's util/timed-average.c, and what a backend's intervals report, on a
// clock the test moves by hand.
#include <gtest/gtest.h>

#include "block/block-acct.h"
#include "block/timed-average.h"

using qemu::block::AcctType;
using qemu::block::BlockAcctStats;
using qemu::block::TimedAverage;

namespace {

constexpr int64_t kSecond = 1'000'000'000;

}  // namespace

// A period of 1 s is stretched to 1333333333 ns; the windows end at 666666666 and then
// every period, the second one half a period later.
TEST(TimedAverage, AnswersFromTheOlderWindowUntilItExpires)
{
    TimedAverage average(0, kSecond);
    for (uint64_t value : {1, 5, 2, 4, 3}) {
        average.account(0, value);
    }
    EXPECT_EQ(average.min(0), 1u);
    EXPECT_EQ(average.max(0), 5u);
    EXPECT_EQ(average.avg(0), 3u);
    uint64_t elapsed = 0;
    EXPECT_EQ(average.sum(500'000'000, elapsed), 15u);
    EXPECT_EQ(elapsed, 1'333'333'333u - 166'666'666u);

    // The first window has expired and starts empty; the second, older now, still holds
    // every value.
    EXPECT_EQ(average.min(700'000'000), 1u);
    EXPECT_EQ(average.max(700'000'000), 5u);
    average.account(800'000'000, 10);
    EXPECT_EQ(average.max(800'000'000), 10u);
    EXPECT_EQ(average.avg(800'000'000), 25u / 6);

    // Then the second expires too: the answers come from the first, which saw only 10.
    EXPECT_EQ(average.min(1'400'000'000), 10u);
    EXPECT_EQ(average.max(1'400'000'000), 10u);
    EXPECT_EQ(average.sum(1'400'000'000, elapsed), 10u);
    // Its end moved at 0.7 s to the next multiple of the period after 666666666, that is
    // 1999999999; 1.4 s is 599999999 ns before it.
    EXPECT_EQ(elapsed, 1'333'333'333u - 599'999'999u);

    // Long after, both are empty: nothing to report, and 0 rather than the sentinel.
    EXPECT_EQ(average.min(100 * kSecond), 0u);
    EXPECT_EQ(average.max(100 * kSecond), 0u);
    EXPECT_EQ(average.avg(100 * kSecond), 0u);
}

// What a backend's intervals report: each request's latency in every interval, on the
// backend's clock, and failed ones only with account_failed.
TEST(BlockAcctStats, IntervalsCollectLatenciesOnTheBackendsClock)
{
    int64_t now = 0;
    BlockAcctStats stats;
    stats.set_clock([&now] { return now; });
    stats.add_interval(1);
    stats.add_interval(60);

    auto read = stats.start(512, AcctType::Read);
    now = 300;
    stats.done(read);
    auto write = stats.start(512, AcctType::Write);
    now = 1000;
    stats.failed(write);
    EXPECT_EQ(stats.idle_time_ns(), 0);

    auto intervals = stats.intervals();
    ASSERT_EQ(intervals.size(), 2u);
    EXPECT_EQ(intervals[0].length_s, 1u);
    EXPECT_EQ(intervals[1].length_s, 60u);
    for (const auto& interval : intervals) {
        EXPECT_EQ(interval.min_ns[0], 300u);
        EXPECT_EQ(interval.max_ns[0], 300u);
        EXPECT_EQ(interval.avg_ns[0], 300u);
        EXPECT_EQ(interval.max_ns[1], 700u);  // the failed write counts: account_failed is on
    }
    // 300 ns in flight over the 1000 ns of the older window so far, plus its head start
    // of half a stretched period.
    EXPECT_DOUBLE_EQ(intervals[0].avg_rd_queue_depth, 300.0 / (1'333'333'333.0 - 666'666'666.0 + 1000.0));

    stats.set_accounting(true, false);
    write = stats.start(512, AcctType::Write);
    now = 5000;
    stats.failed(write);
    EXPECT_EQ(stats.intervals()[1].max_ns[1], 700u);
    EXPECT_EQ(stats.idle_time_ns(), 4000);

    // Two seconds on, the 1 s interval has forgotten them; the 60 s one has not.
    now = 2 * kSecond + 5000;
    intervals = stats.intervals();
    EXPECT_EQ(intervals[0].max_ns[0], 0u);
    EXPECT_EQ(intervals[1].max_ns[0], 300u);
}

// block-latency-histogram-set's bins: [0, b0), [b0, b1), ..., [b_last, inf); failed
// requests count too; bad boundaries leave the histogram as it was.
TEST(BlockAcctStats, HistogramsCountEveryRequestInItsBin)
{
    using Kind = BlockAcctStats::HistogramKind;
    int64_t now = 0;
    BlockAcctStats stats;
    stats.set_clock([&now] { return now; });
    EXPECT_FALSE(stats.histogram(Kind::Write));
    ASSERT_TRUE(stats.set_histogram(Kind::Write, {10, 20}));
    for (int64_t latency : {0, 9, 10, 19, 20, 1000}) {
        auto cookie = stats.start(512, AcctType::Write);
        now += latency;
        stats.done(cookie);
    }
    auto failed = stats.start(512, AcctType::Write);
    now += 15;
    stats.failed(failed);
    EXPECT_EQ(stats.histogram(Kind::Write)->bins, (std::vector<uint64_t>{2, 3, 2}));
    EXPECT_FALSE(stats.histogram(Kind::Read));

    EXPECT_FALSE(stats.set_histogram(Kind::Write, {0}));
    EXPECT_FALSE(stats.set_histogram(Kind::Write, {5, 5}));
    EXPECT_FALSE(stats.set_histogram(Kind::Write, {5, 4}));
    EXPECT_EQ(stats.histogram(Kind::Write)->boundaries, (std::vector<uint64_t>{10, 20}));
    EXPECT_EQ(stats.histogram(Kind::Write)->bins, (std::vector<uint64_t>{2, 3, 2}));

    // No boundaries: one bin for everything (QEMU 7.2 reads past its array there).
    ASSERT_TRUE(stats.set_histogram(Kind::Flush, {}));
    auto flush = stats.start(0, AcctType::Flush);
    now += 7;
    stats.done(flush);
    EXPECT_EQ(stats.histogram(Kind::Flush)->bins, (std::vector<uint64_t>{1}));
    stats.clear_histograms();
    EXPECT_FALSE(stats.histogram(Kind::Write));
    EXPECT_FALSE(stats.histogram(Kind::Flush));
}
