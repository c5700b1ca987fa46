// The qtest virtual clock (see qtest-clock.h).
#include "system/qtest-clock.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace qemu {

int64_t VirtualClock::step(int64_t ns)
{
    if (ns <= 0) {
        return m_now;
    }
    // Saturate rather than overflow: a huge step just lands at the end of time.
    int64_t dest = ns > std::numeric_limits<int64_t>::max() - m_now ? std::numeric_limits<int64_t>::max()
                                                                      : m_now + ns;
    return advance_to(dest);
}

int64_t VirtualClock::advance_to(int64_t dest)
{
    while (!m_timers.empty() && m_timers.begin()->first <= dest) {
        auto node = m_timers.extract(m_timers.begin());
        m_now = std::max(m_now, node.key());
        // The callback may add or cancel timers, so it runs after the node left the map.
        node.mapped().callback();
    }
    m_now = std::max(m_now, dest);
    return m_now;
}

std::optional<int64_t> VirtualClock::next_deadline() const
{
    if (m_timers.empty()) {
        return std::nullopt;
    }
    return m_timers.begin()->first;
}

VirtualClock::TimerId VirtualClock::add_timer(int64_t deadline_ns, std::function<void()> callback)
{
    TimerId id = m_next_id++;
    m_timers.emplace(deadline_ns, Timer{id, std::move(callback)});
    return id;
}

bool VirtualClock::cancel_timer(TimerId id)
{
    auto it = std::find_if(m_timers.begin(), m_timers.end(),
                           [id](const auto& entry) { return entry.second.id == id; });
    if (it == m_timers.end()) {
        return false;
    }
    m_timers.erase(it);
    return true;
}

}  // namespace qemu
