// Run state transitions and the event fan-out to the QMP monitors.
#include "system/vm.h"

#include <cstdlib>
#include <string>

#include "monitor/qmp.h"

namespace qemu {

EmulatorVersion emulator_version()
{
    std::string text = QEMU_VERSION;
    EmulatorVersion version;
    int64_t* parts[] = {&version.major, &version.minor, &version.micro};
    size_t start = 0;
    for (int64_t* part : parts) {
        size_t end = text.find('.', start);
        *part = std::strtoll(text.substr(start, end - start).c_str(), nullptr, 10);
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return version;
}

Vm::Vm()
{
    // Chardevs (file, pipe, pty) open /dev/fdset/N from this VM's sets; m_fdsets is declared
    // before m_chardevs, so it outlives every duplicate a chardev holds.
    m_chardevs.set_open_context(open_context());
}

Vm::~Vm()
{
    // Monitors detach from their chardevs before the registry destroys them.
    m_monitors.clear();
}

void Vm::stop(qapi::RunState new_state)
{
    // As QEMU's do_vm_stop: only a running VM changes state (so -S's prelaunch stays).
    if (is_running()) {
        m_runstate = new_state;
        qapi::qapi_event_send_stop(*this);
    }
}

void Vm::start()
{
    if (is_running()) {
        return;
    }
    m_runstate = qapi::RunState::running;
    qapi::qapi_event_send_resume(*this);
}

void Vm::request_shutdown(qapi::ShutdownCause cause)
{
    if (m_shutdown_requested) {
        return;
    }
    m_shutdown_requested = true;
    m_runstate = qapi::RunState::shutdown;
    qapi::qapi_event_send_shutdown(*this, false, cause);
    if (wakeup) {
        wakeup();
    }
}

void Vm::add_monitor(std::unique_ptr<monitor::QmpMonitor> monitor)
{
    m_monitors.push_back(std::move(monitor));
}

void Vm::emit(qapi::QAPIEvent, JsonValue message)
{
    for (auto& monitor : m_monitors) {
        monitor->emit_event(message);
    }
}

}  // namespace qemu
