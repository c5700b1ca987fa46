// A pool of worker threads for blocking work (QEMU's util/thread-pool.c): the block layer's
// callers hand it requests they want in flight together, such as convert's copy workers,
// while a lone synchronous request stays on the caller's thread, where a hop to a worker
// only adds a wake-up. Threads start as work arrives, up to a limit, and live until the
// pool goes; tasks run in the order they were submitted.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace qemu {

class ThreadPool {
public:
    explicit ThreadPool(unsigned max_threads);
    // Runs what is still queued, then joins every worker.
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    template <typename F> std::future<std::invoke_result_t<F>> submit(F&& task)
    {
        std::packaged_task<std::invoke_result_t<F>()> packaged(std::forward<F>(task));
        auto result = packaged.get_future();
        enqueue(std::move(packaged));
        return result;
    }

    // Runs task on a worker without a future to wait on (it reports its own result).
    void run_detached(std::move_only_function<void()> task) { enqueue(std::move(task)); }

    unsigned thread_count() const;

private:
    void enqueue(std::move_only_function<void()> task);
    void run();

    mutable std::mutex m_lock;
    std::condition_variable m_wake;
    std::deque<std::move_only_function<void()>> m_queue;
    std::vector<std::thread> m_threads;
    unsigned m_max_threads;
    unsigned m_idle = 0;
    bool m_stopping = false;
};

}  // namespace qemu
