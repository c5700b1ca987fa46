// The QMP monitors of one emulator and the event fan-out to them. The emulator emits its
// events (STOP, RESUME, SHUTDOWN, ...) into this sink and never sees a monitor: each event
// reaches every monitor whose client has finished negotiation.
#pragma once

#include <memory>
#include <vector>

#include "monitor/qmp.h"
#include "qapi/qapi-events.h"

namespace qemu::monitor {

class QmpMonitors : public qapi::QapiEventSink {
public:
    QmpMonitors() = default;
    QmpMonitors(const QmpMonitors&) = delete;
    QmpMonitors& operator=(const QmpMonitors&) = delete;
    ~QmpMonitors() override = default;

    void add(std::unique_ptr<QmpMonitor> monitor) { m_monitors.push_back(std::move(monitor)); }
    const std::vector<std::unique_ptr<QmpMonitor>>& list() const { return m_monitors; }
    // Detaches every monitor from its chardev, for owners that destroy chardevs first.
    void clear() { m_monitors.clear(); }

    void emit(qapi::QAPIEvent event, JsonValue message) override;

private:
    std::vector<std::unique_ptr<QmpMonitor>> m_monitors;
};

}  // namespace qemu::monitor
