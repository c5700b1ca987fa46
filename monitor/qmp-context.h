// What a QMP command handler gets besides its arguments: the emulator (through the
// monitor's interface to it) and, when the command came from a QMP connection, that
// monitor (for fds passed with the command and the monitor's named fds). HMP commands run
// through human-monitor-command have no QMP monitor of their own.
#pragma once

namespace qemu::monitor {
class MonitorHost;
class QmpMonitor;
}  // namespace qemu::monitor

namespace qapi {

struct QmpContext {
    qemu::monitor::MonitorHost& host;
    qemu::monitor::QmpMonitor* monitor = nullptr;
};

}  // namespace qapi
