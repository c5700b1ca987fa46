// ThreadPool: results come back through the futures, tasks that wait on one another each
// get a thread, the limit holds, and destruction runs what is still queued.
#include "util/thread-pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>

namespace qemu {
namespace {

TEST(ThreadPool, ReturnsEachTaskResultThroughItsFuture)
{
    ThreadPool pool(4);
    std::vector<std::future<int>> results;
    for (int i = 0; i < 100; ++i) {
        results.push_back(pool.submit([i] { return i * i; }));
    }
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(results[i].get(), i * i);
    }
    EXPECT_LE(pool.thread_count(), 4u);
}

TEST(ThreadPool, TasksThatWaitForEachOtherRunAtOnce)
{
    // Four tasks meet at a latch: with fewer than four threads this would never finish.
    ThreadPool pool(4);
    std::latch all_started(4);
    std::vector<std::future<void>> done;
    for (int i = 0; i < 4; ++i) {
        done.push_back(pool.submit([&all_started] { all_started.arrive_and_wait(); }));
    }
    for (auto& d : done) {
        ASSERT_EQ(d.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    }
    EXPECT_EQ(pool.thread_count(), 4u);
}

TEST(ThreadPool, NeverStartsMoreThreadsThanItsLimit)
{
    ThreadPool pool(2);
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::vector<std::future<void>> done;
    for (int i = 0; i < 20; ++i) {
        done.push_back(pool.submit([&] {
            int now = ++running;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) { }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            --running;
        }));
    }
    for (auto& d : done) {
        d.get();
    }
    EXPECT_EQ(pool.thread_count(), 2u);
    EXPECT_LE(most.load(), 2);
}

TEST(ThreadPool, ExceptionsReachTheFuture)
{
    ThreadPool pool(1);
    auto failed = pool.submit([]() -> int { throw std::runtime_error("task failed"); });
    EXPECT_THROW(failed.get(), std::runtime_error);
    EXPECT_EQ(pool.submit([] { return 7; }).get(), 7);
}

TEST(ThreadPool, DestructionRunsQueuedTasks)
{
    std::atomic<int> ran{0};
    {
        ThreadPool pool(1);
        for (int i = 0; i < 10; ++i) {
            (void)pool.submit([&ran] {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                ++ran;
            });
        }
    }
    EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace qemu
