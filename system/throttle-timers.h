// The clocks the block layer's I/O limits wait on, run by the emulator's GLib main loop:
// the host's monotonic clock (QEMU_CLOCK_REALTIME), or under the qtest accelerator the
// virtual clock, which only a test's clock_step moves, as QEMU's throttle groups use then.
#pragma once

#include <memory>

#include "block/throttle.h"

namespace qemu {

class VirtualClock;

// Host time when `virtual_clock` is null.
std::unique_ptr<block::ThrottleTimers> make_throttle_timers(VirtualClock* virtual_clock);

}  // namespace qemu
