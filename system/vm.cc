// Run state transitions, each announced to the QMP monitors.
#include "system/vm.h"

#include "monitor/hmp-block.h"

namespace qemu {

Vm::Vm()
{
    // Chardevs (file, pipe, pty) open /dev/fdset/N from this VM's sets; m_fdsets is declared
    // before m_chardevs, so it outlives every duplicate a chardev holds.
    m_chardevs.set_open_context(open_context());
    // HMP qemu-io's requests complete in the main loop, whose notifier exists from start-up
    // as QEMU's main AioContext does, so a client counting descriptors sees it from the first.
    hmp_qemu_io = std::make_unique<monitor::HmpQemuIo>(m_block);
}

Vm::~Vm()
{
    // Monitors detach from their chardevs before the registry destroys them.
    m_monitors.clear();
    // Its requests finish (parked ones let go) while the drives they use still exist.
    hmp_qemu_io.reset();
}

void Vm::stop(qapi::RunState new_state)
{
    // As QEMU's do_vm_stop: only a running VM changes state (so -S's prelaunch stays).
    if (is_running()) {
        m_runstate = new_state;
        qapi::qapi_event_send_stop(m_monitors);
    }
}

void Vm::start()
{
    if (is_running()) {
        return;
    }
    m_runstate = qapi::RunState::running;
    qapi::qapi_event_send_resume(m_monitors);
}

void Vm::request_shutdown(qapi::ShutdownCause cause)
{
    if (m_shutdown_requested) {
        return;
    }
    m_shutdown_requested = true;
    m_runstate = qapi::RunState::shutdown;
    qapi::qapi_event_send_shutdown(m_monitors, false, cause);
    if (wakeup) {
        wakeup();
    }
}

void Vm::reset(qapi::ShutdownCause cause)
{
    // QEMU's main loop resets and then puts any VM that is not running (paused, -S's
    // prelaunch, shut down) in prelaunch, from where cont starts it.
    // The causes after host-ui in the enum are the guest's (shutdown_caused_by_guest).
    bool guest = static_cast<int>(cause) > static_cast<int>(qapi::ShutdownCause::host_ui);
    qapi::qapi_event_send_reset(m_monitors, guest, cause);
    if (!is_running()) {
        m_runstate = qapi::RunState::prelaunch;
    }
}

void Vm::device_deleted(const std::optional<std::string>& id, const std::string& path)
{
    qapi::qapi_event_send_device_deleted(m_monitors, id, path);
}

}  // namespace qemu
