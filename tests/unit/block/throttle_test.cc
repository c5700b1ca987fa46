// Disk I/O limits (block/throttle.h): ThrottleConfig's checks with QEMU's texts, the leaky
// buckets of util/throttle.c with exact waits, and the group scheduling of
// block/throttle-groups.c (queues, timers, turns, drains) on a clock the test moves by
// hand, the way QEMU's virtual clock moves under qtest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "block/throttle.h"

using qemu::block::kThrottleValueMax;
using qemu::block::ThrottleBucket;
using qemu::block::ThrottleConfig;
using qemu::block::ThrottleGroupMember;
using qemu::block::ThrottleGroups;
using qemu::block::ThrottleState;
using qemu::block::ThrottleTimers;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr bool kRead = false;
constexpr bool kWrite = true;

ThrottleConfig limit(ThrottleBucket bucket, double avg, double max = 0, uint64_t burst_length = 1)
{
    ThrottleConfig config;
    config[bucket].avg = avg;
    config[bucket].max = max;
    config[bucket].burst_length = burst_length;
    return config;
}

std::string validation_error(const ThrottleConfig& config)
{
    auto valid = config.validate();
    return valid ? std::string("(valid)") : valid.error().desc;
}

// A clock only the test moves. Timers fire from advance_to in deadline order (the order
// they were added for equal deadlines), each with the clock at its deadline.
class ManualTimers : public ThrottleTimers {
public:
    int64_t now_ns() override { return m_now; }

    Id add(int64_t deadline_ns, std::function<void()> fire) override
    {
        const Id id = m_next_id++;
        m_timers.emplace(deadline_ns, Timer{id, std::move(fire)});
        return id;
    }

    void cancel(Id id) override
    {
        std::erase_if(m_timers, [id](const auto& entry) { return entry.second.id == id; });
    }

    bool wait_next() override
    {
        ++wait_calls;
        if (!moves_on_wait || m_timers.empty()) {
            return false;
        }
        advance_to(std::max(m_now, m_timers.begin()->first));
        return true;
    }

    void advance_to(int64_t ns)
    {
        while (!m_timers.empty() && m_timers.begin()->first <= ns) {
            auto due = m_timers.begin();
            m_now = std::max(m_now, due->first);
            std::function<void()> fire = std::move(due->second.fire);
            m_timers.erase(due);
            fire();
        }
        m_now = ns;
    }

    size_t pending() const { return m_timers.size(); }
    std::vector<int64_t> deadlines() const
    {
        std::vector<int64_t> out;
        for (const auto& [deadline, timer] : m_timers) {
            out.push_back(deadline);
        }
        return out;
    }

    // wait_sync's clock: false (the virtual clock) unless a test makes it run the next timer.
    bool moves_on_wait = false;
    int wait_calls = 0;

private:
    struct Timer {
        Id id;
        std::function<void()> fire;
    };
    int64_t m_now = 0;
    Id m_next_id = 1;
    std::multimap<int64_t, Timer> m_timers;
};

struct Started {
    std::string request;
    int64_t at_ns;
    bool operator==(const Started&) const = default;
};

void PrintTo(const Started& s, std::ostream* os)
{
    *os << s.request << "@" << s.at_ns;
}

class ThrottleGroupTest : public ::testing::Test {
protected:
    // What a request does when it may go: note its name and the clock.
    std::move_only_function<void()> start(std::string request)
    {
        return [this, request = std::move(request)] { started.push_back({request, clock.now_ns()}); };
    }

    ManualTimers clock;
    ThrottleGroups groups{clock};
    std::vector<Started> started;
};

}  // namespace

TEST(ThrottleConfig, ValidateAcceptsUsualLimitsAndEnabledSaysWhetherAnyAverageIsSet)
{
    ThrottleConfig none;
    EXPECT_TRUE(none.validate());
    EXPECT_FALSE(none.enabled());

    ThrottleConfig config;
    config[ThrottleBucket::BpsTotal].avg = 1'000'000;
    config[ThrottleBucket::OpsRead].avg = 100;
    config[ThrottleBucket::OpsRead].max = 200;
    config[ThrottleBucket::OpsRead].burst_length = 5;
    config[ThrottleBucket::OpsWrite].avg = static_cast<double>(kThrottleValueMax);
    config.op_size = 4096;
    EXPECT_EQ(validation_error(config), "(valid)");
    EXPECT_TRUE(config.enabled());

    // A burst rate alone is no limit: only averages enable throttling.
    ThrottleConfig max_only;
    max_only[ThrottleBucket::OpsTotal].max = 10;
    EXPECT_FALSE(max_only.enabled());
}

TEST(ThrottleConfig, ValidateRefusesTotalsTogetherWithReadOrWriteValues)
{
    const std::string text = "bps/iops/max total values and read/write values cannot be used at the same time";
    ThrottleConfig bps = limit(ThrottleBucket::BpsTotal, 1000);
    bps[ThrottleBucket::BpsRead].avg = 1000;
    EXPECT_EQ(validation_error(bps), text);

    ThrottleConfig iops = limit(ThrottleBucket::OpsTotal, 10);
    iops[ThrottleBucket::OpsWrite].avg = 10;
    EXPECT_EQ(validation_error(iops), text);

    // The burst rates are checked apart from the averages.
    ThrottleConfig bps_max;
    bps_max[ThrottleBucket::BpsTotal].max = 2000;
    bps_max[ThrottleBucket::BpsWrite].max = 2000;
    EXPECT_EQ(validation_error(bps_max), text);

    ThrottleConfig iops_max;
    iops_max[ThrottleBucket::OpsTotal].max = 20;
    iops_max[ThrottleBucket::OpsRead].max = 20;
    EXPECT_EQ(validation_error(iops_max), text);

    // Read and write together without a total are fine.
    ThrottleConfig split = limit(ThrottleBucket::BpsRead, 1000);
    split[ThrottleBucket::BpsWrite].avg = 2000;
    EXPECT_EQ(validation_error(split), "(valid)");
}

TEST(ThrottleConfig, ValidateRefusesIopsSizeWithoutAnIopsLimit)
{
    ThrottleConfig config = limit(ThrottleBucket::BpsTotal, 1000);
    config.op_size = 4096;
    EXPECT_EQ(validation_error(config), "iops size requires an iops value to be set");

    config[ThrottleBucket::OpsWrite].avg = 10;
    EXPECT_EQ(validation_error(config), "(valid)");
}

TEST(ThrottleConfig, ValidateRefusesValuesOutsideTheRange)
{
    const std::string text = "bps/iops/max values must be within [0, 1000000000000000]";
    EXPECT_EQ(validation_error(limit(ThrottleBucket::BpsRead, -1)), text);
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsWrite, static_cast<double>(kThrottleValueMax) + 1)), text);
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 10, static_cast<double>(kThrottleValueMax) + 1)), text);
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 10, -5)), text);
    EXPECT_EQ(validation_error(limit(ThrottleBucket::BpsTotal, static_cast<double>(kThrottleValueMax))), "(valid)");
}

TEST(ThrottleConfig, ValidateRefusesABurstLengthOfZero)
{
    ThrottleConfig config;
    config[ThrottleBucket::BpsWrite].burst_length = 0;
    EXPECT_EQ(validation_error(config), "the burst length cannot be 0");
}

TEST(ThrottleConfig, ValidateRefusesABurstLengthWithoutABurstRate)
{
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 10, 0, 2)), "burst length set without burst rate");
}

TEST(ThrottleConfig, ValidateRefusesABurstRateWithoutAnAverage)
{
    EXPECT_EQ(validation_error(limit(ThrottleBucket::BpsRead, 0, 1000)),
        "bps_max/iops_max require corresponding bps/iops values");
}

TEST(ThrottleConfig, ValidateRefusesABurstRateBelowTheAverage)
{
    EXPECT_EQ(
        validation_error(limit(ThrottleBucket::OpsRead, 10, 5)), "bps_max/iops_max cannot be lower than bps/iops");
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsRead, 10, 10)), "(valid)");
}

// QEMU's throttle_is_valid refuses a burst whose size, max * burst_length, would
// exceed THROTTLE_VALUE_MAX: "burst length too high for this burst rate".
TEST(ThrottleConfig, ValidateRefusesABurstLengthTooHighForTheBurstRate)
{
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 1, 2, kThrottleValueMax / 2 + 1)),
        "burst length too high for this burst rate");
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 1, 1, kThrottleValueMax + 1)),
        "burst length too high for this burst rate");
    EXPECT_EQ(validation_error(limit(ThrottleBucket::OpsTotal, 1, 2, kThrottleValueMax / 2)), "(valid)");
}

// iops=10 without a burst rate: the bucket holds a tenth of a second of operations, so two
// requests go at once and the third is one operation over, a tenth of a second at 10/s.
TEST(ThrottleState, DerivedBurstLetsTwoRequestsGoThenTheThirdWaitsATenthOfASecond)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10), 0);
    EXPECT_EQ(state.wait_ns(kRead, 0), 0);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kWrite, 0), 0);
    state.account(kWrite, 512);
    EXPECT_EQ(state.wait_ns(kRead, 0), 100 * kMs);
    EXPECT_EQ(state.wait_ns(kWrite, 0), 100 * kMs);
}

TEST(ThrottleState, LevelsLeakAtTheAverageRateAndIdleTimeEarnsNoCredit)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10), 0);
    state.account(kRead, 512);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kRead, 50 * kMs), 50 * kMs);
    EXPECT_EQ(state.wait_ns(kRead, 100 * kMs), 0);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kRead, 100 * kMs), 100 * kMs);

    // Ten idle seconds empty the bucket, but it holds no more than before.
    EXPECT_EQ(state.wait_ns(kRead, 10'000 * kMs), 0);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kRead, 10'000 * kMs), 0);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kRead, 10'000 * kMs), 100 * kMs);
}

TEST(ThrottleState, ConfigureStartsWithEmptyBucketsAtTheGivenTime)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10), 0);
    for (int i = 0; i < 5; ++i) {
        state.account(kRead, 512);
    }
    state.configure(limit(ThrottleBucket::OpsTotal, 10), 500 * kMs);
    EXPECT_EQ(state.wait_ns(kRead, 500 * kMs), 0);
    state.account(kRead, 512);
    state.account(kRead, 512);
    // The leak counts from 500 ms, not from 0: at 550 ms half an operation has gone.
    EXPECT_EQ(state.wait_ns(kRead, 550 * kMs), 50 * kMs);
}

// 1000 bytes/s holds 100 bytes at once; a 4 KiB request overflows it by 3996 bytes.
TEST(ThrottleState, ByteLimitsCountTheRequestsSize)
{
    ThrottleState total;
    total.configure(limit(ThrottleBucket::BpsTotal, 1000), 0);
    EXPECT_EQ(total.wait_ns(kWrite, 0), 0);
    total.account(kWrite, 4096);
    EXPECT_EQ(total.wait_ns(kRead, 0), 3'996 * kMs);
    EXPECT_EQ(total.wait_ns(kWrite, 0), 3'996 * kMs);
    EXPECT_EQ(total.wait_ns(kWrite, 1'996 * kMs), 2'000 * kMs);

    // A read limit holds reads only.
    ThrottleState reads;
    reads.configure(limit(ThrottleBucket::BpsRead, 1000), 0);
    reads.account(kRead, 4096);
    reads.account(kWrite, 1 << 20);
    EXPECT_EQ(reads.wait_ns(kRead, 0), 3'996 * kMs);
    EXPECT_EQ(reads.wait_ns(kWrite, 0), 0);
}

TEST(ThrottleState, IopsSizeCountsALargeRequestAsSeveralOperations)
{
    ThrottleConfig config = limit(ThrottleBucket::OpsTotal, 10);
    config.op_size = 4096;

    ThrottleState large;
    large.configure(config, 0);
    EXPECT_EQ(large.wait_ns(kRead, 0), 0);
    large.account(kRead, 3 * 4096);
    // Three operations in a bucket of one: two over, 200 ms at 10/s.
    EXPECT_EQ(large.wait_ns(kRead, 0), 200 * kMs);

    // One up to op_size, however small.
    ThrottleState small;
    small.configure(config, 0);
    small.account(kRead, 512);
    EXPECT_EQ(small.wait_ns(kRead, 0), 0);
    small.account(kRead, 4096);
    EXPECT_EQ(small.wait_ns(kRead, 0), 100 * kMs);

    // Between, a fraction: 6144 bytes are one and a half operations.
    ThrottleState fraction;
    fraction.configure(config, 0);
    fraction.account(kRead, 6144);
    EXPECT_EQ(fraction.wait_ns(kRead, 0), 50 * kMs);
}

// With a burst rate and burst_length 1 the bucket holds max operations: max + 1 requests go
// at once (the check comes before the accounting), then one waits at the average rate.
TEST(ThrottleState, BurstRateOfOneSecondLetsMaxRequestsGoAtOnce)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10, 20), 0);
    int went = 0;
    while (state.wait_ns(kRead, 0) == 0) {
        state.account(kRead, 512);
        ++went;
    }
    EXPECT_EQ(went, 21);
    EXPECT_EQ(state.wait_ns(kRead, 0), 100 * kMs);
}

// A burst longer than a second is held to max per second over each tenth of a second: with
// max 20, two operations at once (plus the one checked first), then one every 50 ms.
TEST(ThrottleState, LongBurstIsPacedAtTheBurstRate)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10, 20, 2), 0);
    int went = 0;
    while (state.wait_ns(kRead, 0) == 0) {
        state.account(kRead, 512);
        ++went;
    }
    EXPECT_EQ(went, 3);
    EXPECT_EQ(state.wait_ns(kRead, 0), 50 * kMs);
    EXPECT_EQ(state.wait_ns(kRead, 50 * kMs), 0);
    state.account(kRead, 512);
    EXPECT_EQ(state.wait_ns(kRead, 50 * kMs), 50 * kMs);
}

// Once max * burst_length operations are in the bucket, the wait is paced at the average.
TEST(ThrottleState, FullBurstBucketWaitsAtTheAverageRate)
{
    ThrottleState state;
    state.configure(limit(ThrottleBucket::OpsTotal, 10, 20, 2), 0);
    for (int i = 0; i < 41; ++i) {
        state.account(kRead, 512);
    }
    // One over a bucket of 40, at 10/s.
    EXPECT_EQ(state.wait_ns(kRead, 0), 100 * kMs);
    // Then the main bucket is at 40 but the burst one, leaking at 20/s, is 37 over its 2.
    EXPECT_EQ(state.wait_ns(kRead, 100 * kMs), 1'850 * kMs);
}

TEST(ThrottleState, ConfigReportsTheUsersBurstRateButNotTheDerivedOne)
{
    ThrottleState state;
    ThrottleConfig derived = limit(ThrottleBucket::OpsTotal, 10);
    derived.op_size = 4096;
    state.configure(derived, 0);
    ThrottleConfig got = state.config();
    EXPECT_EQ(got[ThrottleBucket::OpsTotal].avg, 10);
    EXPECT_EQ(got[ThrottleBucket::OpsTotal].max, 0);
    EXPECT_EQ(got[ThrottleBucket::OpsTotal].burst_length, 1u);
    EXPECT_EQ(got.op_size, 4096u);

    state.configure(limit(ThrottleBucket::BpsWrite, 1000, 5000, 3), 0);
    got = state.config();
    EXPECT_EQ(got[ThrottleBucket::BpsWrite].avg, 1000);
    EXPECT_EQ(got[ThrottleBucket::BpsWrite].max, 5000);
    EXPECT_EQ(got[ThrottleBucket::BpsWrite].burst_length, 3u);
    EXPECT_EQ(got[ThrottleBucket::OpsTotal].avg, 0);
    EXPECT_EQ(got[ThrottleBucket::OpsTotal].max, 0);
}

TEST_F(ThrottleGroupTest, QueuedRequestsStartWhenTheTimerLetsThemGo)
{
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"r1", "r2", "r3", "r4"}) {
        member->intercept(kRead, 512, start(request));
    }
    EXPECT_EQ(started, (std::vector<Started>{{"r1", 0}, {"r2", 0}}));
    EXPECT_EQ(member->queued(), 2u);
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{100 * kMs});

    clock.advance_to(100 * kMs - 1);
    EXPECT_EQ(started.size(), 2u);
    clock.advance_to(100 * kMs);
    EXPECT_EQ(member->queued(), 1u);
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started, (std::vector<Started>{{"r1", 0}, {"r2", 0}, {"r3", 100 * kMs}, {"r4", 200 * kMs}}));
    EXPECT_EQ(member->queued(), 0u);
    EXPECT_EQ(clock.pending(), 0u);
}

TEST_F(ThrottleGroupTest, ReadsAndWritesHaveTimersOfTheirOwn)
{
    auto member = groups.join("g");
    ThrottleConfig config = limit(ThrottleBucket::OpsRead, 10);
    config[ThrottleBucket::OpsWrite].avg = 10;
    member->set_config(config);
    for (const char* request : {"r1", "r2", "r3"}) {
        member->intercept(kRead, 512, start(request));
    }
    // The read waiting does not hold the writes back.
    for (const char* request : {"w1", "w2", "w3"}) {
        member->intercept(kWrite, 512, start(request));
    }
    EXPECT_EQ(started, (std::vector<Started>{{"r1", 0}, {"r2", 0}, {"w1", 0}, {"w2", 0}}));
    EXPECT_EQ(member->queued(), 2u);
    EXPECT_EQ(clock.deadlines(), (std::vector<int64_t>{100 * kMs, 100 * kMs}));

    clock.advance_to(100 * kMs);
    EXPECT_EQ(started,
        (std::vector<Started>{{"r1", 0}, {"r2", 0}, {"w1", 0}, {"w2", 0}, {"r3", 100 * kMs}, {"w3", 100 * kMs}}));

    // With a read limit only, writes never wait.
    auto reads_only = groups.join("reads-only");
    reads_only->set_config(limit(ThrottleBucket::OpsRead, 10));
    started.clear();
    for (int i = 0; i < 5; ++i) {
        reads_only->intercept(kWrite, 512, start("w"));
    }
    EXPECT_EQ(started.size(), 5u);
    EXPECT_EQ(reads_only->queued(), 0u);
}

TEST_F(ThrottleGroupTest, DrainStartsEveryQueuedRequestInOrderAndStopsHoldingNewOnes)
{
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"r1", "r2", "r3", "r4", "r5"}) {
        member->intercept(kRead, 512, start(request));
    }
    EXPECT_EQ(member->queued(), 3u);

    clock.advance_to(50 * kMs);
    member->begin_drain();
    EXPECT_EQ(
        started, (std::vector<Started>{{"r1", 0}, {"r2", 0}, {"r3", 50 * kMs}, {"r4", 50 * kMs}, {"r5", 50 * kMs}}));
    EXPECT_EQ(member->queued(), 0u);
    EXPECT_EQ(clock.pending(), 0u);

    member->intercept(kWrite, 512, start("w6"));
    EXPECT_EQ(started.back(), (Started{"w6", 50 * kMs}));
    member->end_drain();

    // What went during the drain still counts: six operations at 0..50 ms, half of one
    // leaked, 4.5 over the bucket of one, 450 ms at 10/s.
    member->intercept(kRead, 512, start("r7"));
    EXPECT_EQ(member->queued(), 1u);
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{500 * kMs});
    clock.advance_to(500 * kMs);
    EXPECT_EQ(started.back(), (Started{"r7", 500 * kMs}));
}

TEST_F(ThrottleGroupTest, ReleaseWaitingStartsTheQueueAndKeepsTheLimitsAfterwards)
{
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"r1", "r2", "r3"}) {
        member->intercept(kRead, 512, start(request));
    }
    member->release_waiting();
    EXPECT_EQ(started.back(), (Started{"r3", 0}));
    EXPECT_EQ(clock.pending(), 0u);

    // Three in the bucket of one: two over.
    member->intercept(kRead, 512, start("r4"));
    EXPECT_EQ(member->queued(), 1u);
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started.back(), (Started{"r4", 200 * kMs}));
}

TEST_F(ThrottleGroupTest, SetConfigLooksAtTheQueueAgainWithTheNewLimits)
{
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"r1", "r2", "r3", "r4"}) {
        member->intercept(kRead, 512, start(request));
    }
    clock.advance_to(50 * kMs);
    member->set_config(limit(ThrottleBucket::OpsTotal, 100));
    EXPECT_EQ(started, (std::vector<Started>{{"r1", 0}, {"r2", 0}, {"r3", 50 * kMs}, {"r4", 50 * kMs}}));
    EXPECT_EQ(member->queued(), 0u);
    EXPECT_EQ(clock.pending(), 0u);
    EXPECT_EQ(member->config()[ThrottleBucket::OpsTotal].avg, 100);

    // The new buckets start empty at 50 ms and hold ten operations: r3 and r4 plus nine
    // more go, the tenth waits 10 ms.
    started.clear();
    for (int i = 0; i < 10; ++i) {
        member->intercept(kRead, 512, start("r" + std::to_string(i + 5)));
    }
    EXPECT_EQ(started.size(), 9u);
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{60 * kMs});
    clock.advance_to(60 * kMs);
    EXPECT_EQ(started.back(), (Started{"r14", 60 * kMs}));

    // Removing the limits lets what waits go.
    for (const char* request : {"a", "b"}) {
        member->intercept(kWrite, 512, start(request));
    }
    EXPECT_EQ(member->queued(), 2u);
    member->set_config(ThrottleConfig{});
    EXPECT_EQ(member->queued(), 0u);
    EXPECT_EQ(started.back(), (Started{"b", 60 * kMs}));
    EXPECT_FALSE(member->config().enabled());
}

// Newer members come first in QEMU's round, and the token passes to the next member with
// requests waiting each time the group's timer fires.
TEST_F(ThrottleGroupTest, MembersOfOneGroupShareTheLimitsAndTakeTurns)
{
    auto a = groups.join("g");
    auto b = groups.join("g");
    EXPECT_EQ(a->group_name(), "g");
    EXPECT_EQ(b->group_name(), "g");
    a->set_config(limit(ThrottleBucket::OpsTotal, 10));
    EXPECT_EQ(b->config()[ThrottleBucket::OpsTotal].avg, 10);

    a->intercept(kRead, 512, start("a1"));
    b->intercept(kRead, 512, start("b1"));
    a->intercept(kRead, 512, start("a2"));
    b->intercept(kRead, 512, start("b2"));
    a->intercept(kRead, 512, start("a3"));
    b->intercept(kRead, 512, start("b3"));
    EXPECT_EQ(a->queued(), 2u);
    EXPECT_EQ(b->queued(), 2u);
    // One timer for the group's reads, whichever member holds it.
    EXPECT_EQ(clock.pending(), 1u);

    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started,
        (std::vector<Started>{
            {"a1", 0}, {"b1", 0}, {"a2", 100 * kMs}, {"b2", 200 * kMs}, {"a3", 300 * kMs}, {"b3", 400 * kMs}}));
    EXPECT_EQ(clock.pending(), 0u);
}

TEST_F(ThrottleGroupTest, MovingAMemberReleasesItsQueueAndTakesTheNewGroupsLimits)
{
    auto a = groups.join("g1");
    auto b = groups.join("g1");
    a->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"a1", "a2", "a3"}) {
        a->intercept(kRead, 512, start(request));
    }
    b->intercept(kRead, 512, start("b1"));
    EXPECT_EQ(a->queued(), 1u);
    EXPECT_EQ(b->queued(), 1u);

    // The same group: nothing happens.
    groups.move(*a, "g1");
    EXPECT_EQ(a->queued(), 1u);

    groups.move(*a, "g2");
    EXPECT_EQ(a->group_name(), "g2");
    EXPECT_EQ(started, (std::vector<Started>{{"a1", 0}, {"a2", 0}, {"a3", 0}}));
    EXPECT_EQ(a->queued(), 0u);
    EXPECT_FALSE(a->config().enabled());
    EXPECT_EQ(b->config()[ThrottleBucket::OpsTotal].avg, 10);

    // a3 went on g1's account: three in its bucket of one, so b1 waits 200 ms there.
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{200 * kMs});
    for (int i = 0; i < 5; ++i) {
        a->intercept(kRead, 512, start("a"));
    }
    EXPECT_EQ(started.size(), 8u);
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started.back(), (Started{"b1", 200 * kMs}));

    // A member joining g2 later shares a's new group.
    auto c = groups.join("g2");
    c->set_config(limit(ThrottleBucket::BpsTotal, 1000));
    EXPECT_EQ(a->config()[ThrottleBucket::BpsTotal].avg, 1000);
}

TEST_F(ThrottleGroupTest, DestroyingAMemberCancelsItsTimersAndTheLastOneTakesTheGroup)
{
    auto a = groups.join("g");
    auto b = groups.join("g");
    a->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"a1", "a2", "a3", "a4"}) {
        a->intercept(kWrite, 512, start(request));
    }
    EXPECT_EQ(clock.pending(), 1u);
    a.reset();
    EXPECT_EQ(clock.pending(), 0u);
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started.size(), 2u);

    // b keeps the group and its limits; a new member with the name shares them.
    EXPECT_EQ(b->config()[ThrottleBucket::OpsTotal].avg, 10);
    auto c = groups.join("g");
    EXPECT_EQ(c->config()[ThrottleBucket::OpsTotal].avg, 10);

    b.reset();
    c.reset();
    auto fresh = groups.join("g");
    EXPECT_FALSE(fresh->config().enabled());
    for (int i = 0; i < 5; ++i) {
        fresh->intercept(kRead, 512, start("f"));
    }
    EXPECT_EQ(started.size(), 7u);
}

// The order the block backend uses (release_waiting, then drop the member): the released
// member's timer passes the turn to the other one before it goes.
TEST_F(ThrottleGroupTest, ReleasingThenDroppingAMemberHandsItsTurnToTheOthers)
{
    auto a = groups.join("g");
    auto b = groups.join("g");
    a->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"a1", "a2", "a3"}) {
        a->intercept(kRead, 512, start(request));
    }
    b->intercept(kRead, 512, start("b1"));

    a->release_waiting();
    a.reset();
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{200 * kMs});
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started, (std::vector<Started>{{"a1", 0}, {"a2", 0}, {"a3", 0}, {"b1", 200 * kMs}}));
}

// QEMU drains a member before it leaves its group and asserts that it holds no timer. A
// member dropped without that takes its timer with it, so the group's timer is armed again
// for the others' waiting requests (a3 never went, so two operations are in the bucket).
TEST_F(ThrottleGroupTest, DroppingAnUndrainedMemberArmsTheGroupsTimerForTheOthers)
{
    auto a = groups.join("g");
    auto b = groups.join("g");
    a->set_config(limit(ThrottleBucket::OpsTotal, 10));
    for (const char* request : {"a1", "a2", "a3"}) {
        a->intercept(kRead, 512, start(request));
    }
    b->intercept(kRead, 512, start("b1"));

    a.reset();
    EXPECT_EQ(clock.deadlines(), std::vector<int64_t>{100 * kMs});
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started, (std::vector<Started>{{"a1", 0}, {"a2", 0}, {"b1", 100 * kMs}}));
    EXPECT_EQ(clock.pending(), 0u);
}

TEST_F(ThrottleGroupTest, WaitSyncReturnsAtOnceWhenTheLimitsAllow)
{
    auto member = groups.join("g");
    member->wait_sync(kRead, 512);
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    member->wait_sync(kWrite, 512);
    member->wait_sync(kRead, 512);
    EXPECT_EQ(clock.wait_calls, 0);
    EXPECT_EQ(clock.pending(), 0u);
}

// On a clock that wait_next cannot move the request goes as under a drain, and counts.
TEST_F(ThrottleGroupTest, WaitSyncGoesAnywayWhenTheClockCannotMove)
{
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    member->intercept(kRead, 512, start("r1"));
    member->intercept(kRead, 512, start("r2"));
    member->wait_sync(kRead, 512);
    EXPECT_EQ(clock.wait_calls, 1);
    EXPECT_EQ(clock.now_ns(), 0);
    EXPECT_EQ(clock.pending(), 0u);

    member->intercept(kRead, 512, start("r4"));
    EXPECT_EQ(member->queued(), 1u);
    clock.advance_to(1'000 * kMs);
    EXPECT_EQ(started.back(), (Started{"r4", 200 * kMs}));
}

TEST_F(ThrottleGroupTest, WaitSyncWaitsForTheTimerOnAClockThatMoves)
{
    clock.moves_on_wait = true;
    auto member = groups.join("g");
    member->set_config(limit(ThrottleBucket::OpsTotal, 10));
    member->intercept(kRead, 512, start("r1"));
    member->intercept(kRead, 512, start("r2"));
    member->wait_sync(kRead, 512);
    EXPECT_EQ(clock.wait_calls, 1);
    EXPECT_EQ(clock.now_ns(), 100 * kMs);
    EXPECT_EQ(member->queued(), 0u);
    EXPECT_EQ(clock.pending(), 0u);
}
