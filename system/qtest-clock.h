// The virtual clock (QEMU_CLOCK_VIRTUAL) as the qtest accelerator runs it: time stands still
// until a test moves it with clock_step / clock_set. Other parts of the emulator register
// deadlines here (event throttling, device timers); moving the clock fires the ones it
// passes, in deadline order, with the clock reading each timer's deadline while it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace qemu {

class VirtualClock {
public:
    using TimerId = uint64_t;

    int64_t now_ns() const { return m_now; }

    // Moves the clock forward by ns (nothing happens for ns <= 0); returns the new time.
    int64_t step(int64_t ns);
    // Moves the clock to dest, firing timers on the way; the clock never goes back, so the
    // result is max(now, dest) (qemu_clock_advance_virtual_time).
    int64_t advance_to(int64_t dest);

    // The earliest pending deadline (absolute ns), if any.
    std::optional<int64_t> next_deadline() const;

    // Runs callback once when the clock reaches deadline_ns (absolute).
    TimerId add_timer(int64_t deadline_ns, std::function<void()> callback);
    // Cancels a pending timer; returns whether it was still pending.
    bool cancel_timer(TimerId id);

private:
    struct Timer {
        TimerId id;
        std::function<void()> callback;
    };

    int64_t m_now = 0;
    TimerId m_next_id = 1;
    // Keyed by deadline; equal deadlines fire in the order they were added.
    std::multimap<int64_t, Timer> m_timers;
};

}  // namespace qemu
