// Run state transitions, each announced to the QMP monitors.
#include "system/vm.h"

#include "monitor/hmp-block.h"
#include "system/drive-options.h"

namespace qemu {

Vm::Vm()
{
    // Chardevs (file, pipe, pty) open /dev/fdset/N from this VM's sets; m_fdsets is declared
    // before m_chardevs, so it outlives every duplicate a chardev holds.
    m_chardevs.set_open_context(open_context());
    // HMP qemu-io's requests complete in the main loop, whose notifier exists from start-up
    // as QEMU's main AioContext does, so a client counting descriptors sees it from the first.
    hmp_qemu_io = std::make_unique<monitor::HmpQemuIo>(m_block);
    m_block.graph().on_write_threshold = [this](const block::BlockNode& node, uint64_t exceeded, uint64_t threshold) {
        write_threshold_reached(ThresholdEvent{node.node_name(), exceeded, threshold});
    };
    m_block.jobs().on_status_change = [this](const std::string& id, qapi::JobStatus status) {
        qapi::qapi_event_send_job_status_change(m_monitors, id, status);
    };
    // A job's background part returns on its worker thread; the registry looks at it from
    // the main loop. The Vm may be gone by then.
    m_block.jobs().wake = [self = m_self] {
        g_idle_add_full(G_PRIORITY_HIGH, on_job_woken, new std::shared_ptr<Vm*>(self),
            [](gpointer data) { delete static_cast<std::shared_ptr<Vm*>*>(data); });
    };
    // A job's completion after its first request waits for the main loop, as QEMU's
    // bottom half: ahead of any new input, after the reply of the command that started it.
    m_block.jobs().defer = [this](std::function<void()> fn) {
        m_deferred.push_back(std::move(fn));
        if (m_deferred_source == 0) {
            m_deferred_source = g_idle_add_full(G_PRIORITY_HIGH, on_deferred, this, nullptr);
        }
    };
}

gboolean Vm::on_job_woken(gpointer data)
{
    if (Vm* vm = **static_cast<std::shared_ptr<Vm*>*>(data)) {
        vm->m_block.jobs().reap();
    }
    return G_SOURCE_REMOVE;
}

gboolean Vm::on_deferred(gpointer self)
{
    auto* vm = static_cast<Vm*>(self);
    vm->m_deferred_source = 0;
    std::vector<std::function<void()>> work;
    work.swap(vm->m_deferred);
    for (auto& fn : work) {
        fn();
    }
    return G_SOURCE_REMOVE;
}

Vm::~Vm()
{
    // Monitors detach from their chardevs before the registry destroys them.
    m_monitors.clear();
    // Its requests finish (parked ones let go) while the drives they use still exist.
    hmp_qemu_io.reset();
    // No request is in flight any more; what the nodes write as they close reports nothing.
    m_block.graph().on_write_threshold = nullptr;
    if (m_event_source != 0) {
        g_source_remove(m_event_source);
    }
    if (m_deferred_source != 0) {
        g_source_remove(m_deferred_source);
    }
    // Background parts finish (and their jobs with them) before anything they use goes.
    m_block.jobs().on_status_change = nullptr;
    m_block.jobs().cancel_all();
    *m_self = nullptr;
}

std::string Vm::hmp_drive_add(std::string_view options, bool node)
{
    return qemu::hmp_drive_add(m_block, options, node);
}

void Vm::write_threshold_reached(ThresholdEvent event)
{
    if (std::this_thread::get_id() == m_main_thread) {
        qapi::qapi_event_send_block_write_threshold(m_monitors, event.node_name, event.exceeded, event.threshold);
        return;
    }
    std::lock_guard lock(m_event_lock);
    m_queued_events.push_back(std::move(event));
    if (m_event_source == 0) {
        m_event_source = g_idle_add(on_queued_events, this);
    }
}

void Vm::send_queued_events()
{
    std::vector<ThresholdEvent> events;
    {
        std::lock_guard lock(m_event_lock);
        events.swap(m_queued_events);
    }
    for (ThresholdEvent& event : events) {
        qapi::qapi_event_send_block_write_threshold(m_monitors, event.node_name, event.exceeded, event.threshold);
    }
}

gboolean Vm::on_queued_events(gpointer self)
{
    auto* vm = static_cast<Vm*>(self);
    {
        std::lock_guard lock(vm->m_event_lock);
        vm->m_event_source = 0;
    }
    vm->send_queued_events();
    return G_SOURCE_REMOVE;
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
    // QEMU's clean-up cancels every job (job_cancel_sync_all) before its monitors send
    // what they still hold, the reply to quit among it.
    m_block.jobs().cancel_all();
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
