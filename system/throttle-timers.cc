// The clocks I/O limits wait on (see throttle-timers.h).
#include "system/throttle-timers.h"

#include <glib.h>
#include <time.h>

#include <map>
#include <optional>
#include <utility>

#include "system/qtest-clock.h"

namespace qemu {

namespace {

// The pending timers, in deadline order, and one wake-up for the earliest, which the two
// clocks arrange differently.
class MainLoopTimers : public block::ThrottleTimers {
public:
    Id add(int64_t deadline_ns, std::function<void()> fire) override
    {
        const Id id = m_next_id++;
        m_timers.emplace(deadline_ns, Timer{id, std::move(fire)});
        rearm();
        return id;
    }

    void cancel(Id id) override
    {
        std::erase_if(m_timers, [id](const auto& entry) { return entry.second.id == id; });
        rearm();
    }

protected:
    struct Timer {
        Id id;
        std::function<void()> fire;
    };

    // Runs every timer that is due; one may add or cancel others as it runs.
    void run_due()
    {
        while (!m_timers.empty() && m_timers.begin()->first <= now_ns()) {
            auto fire = std::move(m_timers.begin()->second.fire);
            m_timers.erase(m_timers.begin());
            fire();
        }
        rearm();
    }

    std::optional<int64_t> earliest() const
    {
        return m_timers.empty() ? std::nullopt : std::optional(m_timers.begin()->first);
    }

    // Makes run_due happen once the earliest deadline has come.
    virtual void rearm() = 0;

    // A GLib source that calls run_due after `delay_ms`.
    void arm_glib(guint delay_ms)
    {
        if (m_source != 0) {
            g_source_remove(m_source);
        }
        m_source = g_timeout_add(delay_ms, &MainLoopTimers::on_source, this);
    }
    void remove_glib()
    {
        if (m_source != 0) {
            g_source_remove(m_source);
            m_source = 0;
        }
    }

private:
    static gboolean on_source(gpointer self)
    {
        auto* timers = static_cast<MainLoopTimers*>(self);
        timers->m_source = 0;
        timers->run_due();
        return G_SOURCE_REMOVE;
    }

    Id m_next_id = 1;
    std::multimap<int64_t, Timer> m_timers;
    guint m_source = 0;
};

class HostTimers final : public MainLoopTimers {
public:
    ~HostTimers() override { remove_glib(); }

    int64_t now_ns() override
    {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    }

    bool wait_next() override
    {
        auto deadline = earliest();
        if (!deadline) {
            return false;
        }
        if (int64_t delay = *deadline - now_ns(); delay > 0) {
            const timespec pause{.tv_sec = delay / 1'000'000'000, .tv_nsec = delay % 1'000'000'000};
            nanosleep(&pause, nullptr);
        }
        run_due();
        return true;
    }

private:
    void rearm() override
    {
        auto deadline = earliest();
        if (!deadline) {
            remove_glib();
            return;
        }
        // GLib counts in milliseconds: round up, so that the deadline has passed.
        const int64_t delay = std::max<int64_t>(*deadline - now_ns(), 0);
        arm_glib(static_cast<guint>(std::min<int64_t>((delay + 999'999) / 1'000'000, G_MAXUINT)));
    }
};

class VirtualTimers final : public MainLoopTimers {
public:
    explicit VirtualTimers(VirtualClock& clock) : m_clock(clock) { }
    ~VirtualTimers() override
    {
        remove_glib();
        drop_clock_timer();
    }

    int64_t now_ns() override { return m_clock.now_ns(); }
    // Only the test moves this clock.
    bool wait_next() override { return false; }

private:
    void drop_clock_timer()
    {
        if (m_clock_timer) {
            m_clock.cancel_timer(*m_clock_timer);
            m_clock_timer.reset();
        }
    }

    void rearm() override
    {
        drop_clock_timer();
        remove_glib();
        auto deadline = earliest();
        if (!deadline) {
            return;
        }
        if (*deadline <= now_ns()) {
            // Expired timers run at the main loop's next turn, as QEMU runs them.
            arm_glib(0);
            return;
        }
        m_clock_timer = m_clock.add_timer(*deadline, [this] {
            m_clock_timer.reset();
            run_due();
        });
    }

    VirtualClock& m_clock;
    std::optional<VirtualClock::TimerId> m_clock_timer;
};

}  // namespace

std::unique_ptr<block::ThrottleTimers> make_throttle_timers(VirtualClock* virtual_clock)
{
    if (virtual_clock) {
        return std::make_unique<VirtualTimers>(*virtual_clock);
    }
    return std::make_unique<HostTimers>();
}

}  // namespace qemu
