// The event fan-out to the QMP monitors (see qmp-monitors.h).
#include "monitor/qmp-monitors.h"

namespace qemu::monitor {

void QmpMonitors::emit(qapi::QAPIEvent, JsonValue message)
{
    for (auto& monitor : m_monitors) {
        monitor->emit_event(message);
    }
}

}  // namespace qemu::monitor
