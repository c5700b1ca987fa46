// QEMU's timed average (util/timed-average.c), for the latencies of query-blockstats'
// timed_stats: the minimum, maximum, average and sum of the values of roughly the last
// period. Two windows of one period each run half a period apart; a value counts in both,
// and the answers come from the older one, so they cover between half a period and a whole
// one. The period asked for is stretched by 4/3, as QEMU does, so that on average what is
// covered is close to it. The caller passes the clock reading to every call.
#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace qemu::block {

class TimedAverage {
public:
    TimedAverage(int64_t now_ns, uint64_t period_ns) : m_period(static_cast<int64_t>(period_ns * 4 / 3))
    {
        m_windows[0].expiration = now_ns + m_period / 2;
        m_windows[1].expiration = now_ns + m_period;
    }

    void account(int64_t now_ns, uint64_t value)
    {
        expire(now_ns);
        for (Window& window : m_windows) {
            window.sum += value;
            window.count++;
            window.min = value < window.min ? value : window.min;
            window.max = value > window.max ? value : window.max;
        }
    }

    uint64_t min(int64_t now_ns)
    {
        const Window& window = older(now_ns);
        return window.count > 0 ? window.min : 0;
    }
    uint64_t max(int64_t now_ns) { return older(now_ns).max; }
    uint64_t avg(int64_t now_ns)
    {
        const Window& window = older(now_ns);
        return window.count > 0 ? window.sum / window.count : 0;
    }
    // The sum, and how much of the older window has passed (for a queue depth: the time
    // requests spent in flight over the time they could have).
    uint64_t sum(int64_t now_ns, uint64_t& elapsed_ns)
    {
        const Window& window = older(now_ns);
        elapsed_ns = static_cast<uint64_t>(m_period - (window.expiration - now_ns));
        return window.sum;
    }

private:
    struct Window {
        uint64_t min = std::numeric_limits<uint64_t>::max();
        uint64_t max = 0;
        uint64_t sum = 0;
        uint64_t count = 0;
        int64_t expiration = 0;
    };

    // A window whose time is up starts empty again, ending at the next multiple of the
    // period after its old end.
    void expire(int64_t now_ns)
    {
        for (Window& window : m_windows) {
            if (window.expiration <= now_ns) {
                int64_t expiration = window.expiration;
                window = Window{};
                window.expiration = now_ns + m_period - (now_ns - expiration) % m_period;
            }
        }
        m_current = m_windows[0].expiration < m_windows[1].expiration ? 0 : 1;
    }

    const Window& older(int64_t now_ns)
    {
        expire(now_ns);
        return m_windows[m_current];
    }

    int64_t m_period;
    std::array<Window, 2> m_windows{};
    int m_current = 0;
};

}  // namespace qemu::block
