// A MonitorHost for the monitor's unit tests: real fd sets, chardevs and block devices
// (they are lower layers), a run state that only records what the commands asked for, and
// an in-memory chardev a test talks QMP through. Nothing here comes from system/, and the
// tests link without it, which is what keeps monitor/ below the emulator.
#pragma once

#include <glib.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/monitor-host.h"
#include "monitor/qmp-monitors.h"
#include "qapi/qapi-events.h"

namespace qemu::monitor::fake {

class FakeHost final : public MonitorHost {
public:
    FakeHost() { m_chardevs.set_open_context(OpenContext{&m_fdsets}); }
    ~FakeHost() override { m_monitors.clear(); }

    FdSetRegistry& fdsets() override { return m_fdsets; }
    chr::ChardevRegistry& chardevs() override { return m_chardevs; }
    block::BlockDevices& block() override { return m_block; }

    qapi::RunState runstate() const override { return state; }
    void stop() override
    {
        if (is_running()) {
            state = qapi::RunState::paused;
            qapi::qapi_event_send_stop(m_monitors);
        }
    }
    void start() override
    {
        if (!is_running()) {
            state = qapi::RunState::running;
            qapi::qapi_event_send_resume(m_monitors);
        }
    }
    void request_shutdown(qapi::ShutdownCause cause) override
    {
        shutdown_cause = cause;
        state = qapi::RunState::shutdown;
        qapi::qapi_event_send_shutdown(m_monitors, false, cause);
    }
    void reset(qapi::ShutdownCause cause) override
    {
        qapi::qapi_event_send_reset(m_monitors, false, cause);
        if (!is_running()) {
            state = qapi::RunState::prelaunch;
        }
    }
    void device_deleted(const std::optional<std::string>& id, const std::string& path) override
    {
        qapi::qapi_event_send_device_deleted(m_monitors, id, path);
    }
    std::optional<std::string> name() const override { return vm_name; }
    bool command_disabled(std::string_view command) const override { return disabled.contains(command); }

    QmpMonitors& monitors() { return m_monitors; }

    qapi::RunState state = qapi::RunState::prelaunch;
    std::optional<std::string> vm_name;
    std::set<std::string, std::less<>> disabled;
    std::optional<qapi::ShutdownCause> shutdown_cause;

private:
    FdSetRegistry m_fdsets;
    chr::ChardevRegistry m_chardevs;
    block::BlockDevices m_block{OpenContext{&m_fdsets}};
    // Last, so the monitors detach before anything they might refer to goes.
    QmpMonitors m_monitors;
};

// A chardev that keeps what the monitor writes and lets the test deliver the client's bytes.
class MemoryChardev final : public chr::Chardev {
public:
    MemoryChardev() : Chardev("memory") { }
    std::string_view driver() const override { return "memory"; }
    std::string filename() const override { return "memory"; }
    bool is_open() const override { return true; }
    Result<size_t> write_all(std::span<const uint8_t> data) override
    {
        output.append(reinterpret_cast<const char*>(data.data()), data.size());
        return data.size();
    }
    void deliver(std::string_view text)
    {
        frontend_read(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }

    // The lines written since the last call, without their "\r\n".
    std::vector<std::string> take_lines()
    {
        std::vector<std::string> lines;
        size_t start = 0;
        for (size_t end = output.find("\r\n"); end != std::string::npos; end = output.find("\r\n", start)) {
            lines.push_back(output.substr(start, end - start));
            start = end + 2;
        }
        output.erase(0, start);
        return lines;
    }

    std::string output;
};

// Runs what the chardev queued on the main loop (the deferred Opened that sends the greeting).
inline void run_pending_main_loop()
{
    for (int i = 0; i < 100 && g_main_context_iteration(nullptr, false); ++i) { }
}

}  // namespace qemu::monitor::fake
