// ThreadPool (see thread-pool.h).
#include "util/thread-pool.h"

#include <algorithm>

namespace qemu {

ThreadPool::ThreadPool(unsigned max_threads) : m_max_threads(std::max(max_threads, 1u))
{
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard guard(m_lock);
        m_stopping = true;
    }
    m_wake.notify_all();
    for (std::thread& thread : m_threads) {
        thread.join();
    }
}

unsigned ThreadPool::thread_count() const
{
    std::lock_guard guard(m_lock);
    return static_cast<unsigned>(m_threads.size());
}

void ThreadPool::enqueue(std::move_only_function<void()> task)
{
    std::lock_guard guard(m_lock);
    m_queue.push_back(std::move(task));
    // Tasks may block on one another (convert's workers wait for their turn to write), so
    // a queued task gets a thread of its own while the limit allows, not a busy one's.
    if (m_idle < m_queue.size() && m_threads.size() < m_max_threads) {
        m_threads.emplace_back([this] { run(); });
    } else {
        m_wake.notify_one();
    }
}

void ThreadPool::run()
{
    std::unique_lock guard(m_lock);
    for (;;) {
        ++m_idle;
        m_wake.wait(guard, [this] { return m_stopping || !m_queue.empty(); });
        --m_idle;
        if (m_queue.empty()) {
            return;
        }
        auto task = std::move(m_queue.front());
        m_queue.pop_front();
        guard.unlock();
        task();
        guard.lock();
    }
}

}  // namespace qemu
