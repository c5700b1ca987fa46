// What a QMP command handler gets besides its arguments: the emulator and, when the
// command came from a QMP connection, that monitor (for fds passed with the command and
// the monitor's named fds). HMP commands run through human-monitor-command have no
// QMP monitor of their own.
#pragma once

namespace qemu {
class Vm;
namespace monitor {
class QmpMonitor;
}
}  // namespace qemu

namespace qapi {

struct QmpContext {
    qemu::Vm& vm;
    qemu::monitor::QmpMonitor* monitor = nullptr;
};

}  // namespace qapi
