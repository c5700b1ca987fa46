// The emulator's state as one context object: run state, the chardevs, the block devices,
// the monitors and the event fan-out. It is the monitor's host (monitor/monitor-host.h):
// the QMP and HMP commands reach the emulator through that interface only, so the pieces
// stay testable without process-global state.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <glib.h>

#include "block/block-devices.h"
#include "char/registry.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-monitors.h"
#include "monitor/version.h"
#include "qapi/qapi-types.h"
#include "util/fdset.h"
#include "util/osdep.h"

namespace qemu {

class Vm final : public monitor::MonitorHost {
public:
    Vm();
    ~Vm() override;

    // ---- run state ----
    qapi::RunState runstate() const override { return m_runstate; }
    // Before the main loop: running, or prelaunch with -S (no event: nobody listens yet).
    void set_initial_runstate(qapi::RunState state) { m_runstate = state; }
    // vm_stop / vm_start: change state and emit STOP / RESUME as QEMU does.
    void stop() override { stop(qapi::RunState::paused); }
    void stop(qapi::RunState new_state);
    void start() override;
    // Emits SHUTDOWN now and makes the main loop exit with status 0.
    void request_shutdown(qapi::ShutdownCause cause) override;
    bool shutdown_requested() const { return m_shutdown_requested; }
    // There is no guest to reset, only the RESET event and the state change to make.
    void reset(qapi::ShutdownCause cause) override;
    void device_deleted(const std::optional<std::string>& id, const std::string& path) override;
    void send_queued_events() override;
    std::string hmp_drive_add(std::string_view options, bool node) override;

    std::optional<std::string> name() const override { return m_name; }
    void set_name(std::optional<std::string> name) { m_name = std::move(name); }

    // Commands that qmp_dispatch refuses with "Command X has been disabled" (as upstream QEMU's
    // qmp_disable_command), e.g. the fuzzer's ban on commands that touch the host.
    std::set<std::string, std::less<>> disabled_commands;
    bool command_disabled(std::string_view command) const override { return disabled_commands.contains(command); }

    // ---- parts ----
    // Declared before everything that may hold one of its duplicates, so it outlives them.
    FdSetRegistry& fdsets() override { return m_fdsets; }
    OpenContext open_context() { return OpenContext{&m_fdsets}; }
    chr::ChardevRegistry& chardevs() override { return m_chardevs; }
    // The block graph, the -drive backends and the monitor's nodes; it opens through
    // open_context(), so images can be /dev/fdset/N.
    block::BlockDevices& block() override { return m_block; }

    void add_monitor(std::unique_ptr<monitor::QmpMonitor> monitor) { m_monitors.add(std::move(monitor)); }
    const std::vector<std::unique_ptr<monitor::QmpMonitor>>& monitors() const { return m_monitors.list(); }

    // Hook for the main loop: called when the state wants the loop to look again.
    std::function<void()> wakeup;

private:
    struct ThresholdEvent {
        std::string node_name;
        uint64_t exceeded;
        uint64_t threshold;
    };
    // BLOCK_WRITE_THRESHOLD: sent at once from the main thread; a request on a worker
    // thread leaves it for the main loop.
    void write_threshold_reached(ThresholdEvent event);
    static gboolean on_queued_events(gpointer self);
    static gboolean on_deferred(gpointer self);
    static gboolean on_job_woken(gpointer data);

    qapi::RunState m_runstate = qapi::RunState::prelaunch;
    bool m_shutdown_requested = false;
    std::optional<std::string> m_name;
    FdSetRegistry m_fdsets;
    chr::ChardevRegistry m_chardevs;
    block::BlockDevices m_block{open_context()};
    // Where the run state's events go: every QMP monitor in command mode.
    monitor::QmpMonitors m_monitors;
    const std::thread::id m_main_thread = std::this_thread::get_id();
    std::mutex m_event_lock;
    std::vector<ThresholdEvent> m_queued_events;
    guint m_event_source = 0;
    // Work left for the main loop (the job registry's completions).
    std::vector<std::function<void()>> m_deferred;
    guint m_deferred_source = 0;
    // Lets a worker thread's wake-up find this Vm, or find it gone.
    std::shared_ptr<Vm*> m_self = std::make_shared<Vm*>(this);
};

}  // namespace qemu
