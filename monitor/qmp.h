// A QMP monitor: the frontend of one chardev that speaks QMP to whoever connects. Each
// monitor has its own negotiation state, JSON streamer and named fds (getfd); a new
// connection starts from the greeting again, while named fds belong to the monitor and so
// survive a reconnect.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "char/chardev.h"
#include "monitor/dispatch.h"
#include "qobject/json.h"
#include "util/unique_fd.h"

namespace qemu::monitor {

class MonitorHost;

struct QmpMonitorOptions {
    bool pretty = false;
};

class QmpMonitor {
public:
    QmpMonitor(MonitorHost& host, chr::Chardev& chardev, QmpMonitorOptions options);
    ~QmpMonitor();
    QmpMonitor(const QmpMonitor&) = delete;
    QmpMonitor& operator=(const QmpMonitor&) = delete;

    chr::Chardev& chardev() { return m_chardev; }
    QmpMode mode() const { return m_mode; }
    bool oob_offered() const { return m_chardev.supports_gcontext(); }

    // qmp_capabilities: leaves negotiation mode with the given capabilities.
    Result<void> negotiate(bool enable_oob);

    // Sends an event if this monitor's client has finished negotiation.
    void emit_event(const JsonValue& event);

    // The fd that came with the command being executed (SCM_RIGHTS), if any. Ownership
    // moves to the caller; an fd no command takes is closed by the chardev.
    std::optional<UniqueFd> take_received_fd() { return m_chardev.take_msgfd(); }

    // Named fds (getfd/closefd). Adding under an existing name replaces and closes the old fd.
    void add_named_fd(std::string name, UniqueFd fd);
    bool close_named_fd(const std::string& name);
    // Takes a named fd out of the monitor (for users such as -chardev socket,fd=NAME).
    std::optional<UniqueFd> take_named_fd(const std::string& name);
    size_t named_fd_count() const { return m_named_fds.size(); }

private:
    void on_event(chr::ChardevEvent event);
    void on_read(std::span<const uint8_t> data);
    void handle_message(Result<JsonValue> message);
    void send(const JsonValue& message);
    JsonValue greeting() const;

    MonitorHost& m_host;
    chr::Chardev& m_chardev;
    QmpMonitorOptions m_options;
    QmpMode m_mode = QmpMode::Negotiation;
    bool m_oob_enabled = false;
    JsonStreamer m_streamer;
    std::map<std::string, UniqueFd> m_named_fds;
};

}  // namespace qemu::monitor
