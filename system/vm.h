// The emulator's state as one context object: run state, the chardevs, the block devices,
// the monitors and the event fan-out. Everything a QMP handler needs is reached from here,
// so the pieces stay testable without process-global state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "char/registry.h"
#include "qapi/qapi-events.h"
#include "qapi/qapi-types.h"
#include "system/block-devices.h"
#include "util/fdset.h"
#include "util/osdep.h"

namespace qemu::monitor {
class QmpMonitor;
}

namespace qemu {

// What the -version / query-version / greeting report.
struct EmulatorVersion {
    int64_t major = 0;
    int64_t minor = 0;
    int64_t micro = 0;
    std::string package;
};
EmulatorVersion emulator_version();

class Vm : public qapi::QapiEventSink {
public:
    Vm();
    ~Vm() override;

    // ---- run state ----
    qapi::RunState runstate() const { return m_runstate; }
    // Before the main loop: running, or prelaunch with -S (no event: nobody listens yet).
    void set_initial_runstate(qapi::RunState state) { m_runstate = state; }
    bool is_running() const { return m_runstate == qapi::RunState::running; }
    // vm_stop / vm_start: change state and emit STOP / RESUME as QEMU does.
    void stop(qapi::RunState new_state = qapi::RunState::paused);
    void start();
    // Emits SHUTDOWN now and makes the main loop exit with status 0.
    void request_shutdown(qapi::ShutdownCause cause);
    bool shutdown_requested() const { return m_shutdown_requested; }

    std::optional<std::string> name;

    // Commands that qmp_dispatch refuses with "Command X has been disabled" (as upstream QEMU's
    // qmp_disable_command), e.g. the fuzzer's ban on commands that touch the host.
    std::set<std::string, std::less<>> disabled_commands;

    // ---- parts ----
    // Declared before everything that may hold one of its duplicates, so it outlives them.
    FdSetRegistry& fdsets() { return m_fdsets; }
    OpenContext open_context() { return OpenContext{&m_fdsets}; }
    chr::ChardevRegistry& chardevs() { return m_chardevs; }
    // The block graph, the -drive backends and the monitor's nodes; it opens through
    // open_context(), so images can be /dev/fdset/N.
    BlockDevices& block() { return m_block; }

    void add_monitor(std::unique_ptr<monitor::QmpMonitor> monitor);
    const std::vector<std::unique_ptr<monitor::QmpMonitor>>& monitors() const { return m_monitors; }

    // QapiEventSink: sends an event to every QMP monitor in command mode.
    void emit(qapi::QAPIEvent event, JsonValue message) override;

    // Hook for the main loop: called when the state wants the loop to look again.
    std::function<void()> wakeup;

private:
    qapi::RunState m_runstate = qapi::RunState::prelaunch;
    bool m_shutdown_requested = false;
    FdSetRegistry m_fdsets;
    chr::ChardevRegistry m_chardevs;
    BlockDevices m_block{open_context()};
    std::vector<std::unique_ptr<monitor::QmpMonitor>> m_monitors;
};

}  // namespace qemu
