// The QMP monitor: greeting, negotiation, framing requests and sending replies and events.
#include "monitor/qmp.h"

#include "monitor/monitor-host.h"
#include "qapi/qapi-commands.h"

namespace qemu::monitor {

QmpMonitor::QmpMonitor(MonitorHost& host, chr::Chardev& chardev, QmpMonitorOptions options)
    : m_host(host),
      m_chardev(chardev),
      m_options(options),
      m_streamer([this](Result<JsonValue> message) { handle_message(std::move(message)); })
{
    auto attached = m_chardev.attach(chr::ChardevFrontend{
        .can_read = [] { return size_t{4096}; },
        .read = [this](std::span<const uint8_t> data) { on_read(data); },
        .event = [this](chr::ChardevEvent event) { on_event(event); },
    });
    // The caller checked that the chardev had no frontend, so this cannot fail.
    (void)attached;
}

QmpMonitor::~QmpMonitor()
{
    m_chardev.detach();
}

JsonValue QmpMonitor::greeting() const
{
    // As QEMU, the version is whatever query-version returns.
    qapi::QmpContext ctx{m_host, nullptr};
    JsonValue version = qapi::qmp_marshal_query_version(ctx, JsonValue::object()).value_or(JsonValue::object());
    JsonValue caps = JsonValue::array();
    if (oob_offered()) {
        caps.push_back("oob");
    }
    return JsonValue{{"QMP", {{"version", std::move(version)}, {"capabilities", std::move(caps)}}}};
}

void QmpMonitor::on_event(chr::ChardevEvent event)
{
    // Each connection negotiates afresh and starts with an empty parser.
    m_mode = QmpMode::Negotiation;
    m_oob_enabled = false;
    m_streamer.reset();
    if (event == chr::ChardevEvent::Opened) {
        send(greeting());
    }
}

void QmpMonitor::on_read(std::span<const uint8_t> data)
{
    m_streamer.feed(std::span<const char>(reinterpret_cast<const char*>(data.data()), data.size()));
}

void QmpMonitor::handle_message(Result<JsonValue> message)
{
    if (!message) {
        // Parse errors never carry an id.
        send(qmp_error_response(message.error()));
        return;
    }
    qapi::QmpContext ctx{m_host, this};
    auto reply = qmp_dispatch(ctx, *message, DispatchOptions{.mode = m_mode, .oob_enabled = m_oob_enabled});
    if (reply) {
        send(*reply);
    }
}

Result<void> QmpMonitor::negotiate(bool enable_oob)
{
    if (enable_oob && !oob_offered()) {
        return make_error("Capability oob not available");
    }
    m_oob_enabled = enable_oob;
    m_mode = QmpMode::Command;
    return {};
}

void QmpMonitor::emit_event(const JsonValue& event)
{
    if (m_mode == QmpMode::Command && m_chardev.is_open()) {
        send(event);
    }
}

void QmpMonitor::send(const JsonValue& message)
{
    // A peer that went away is noticed by the chardev's read side; nothing to do here.
    (void)m_chardev.write_all(qmp_wire_line(message, m_options.pretty));
}

void QmpMonitor::add_named_fd(std::string name, UniqueFd fd)
{
    m_named_fds.insert_or_assign(std::move(name), std::move(fd));
}

bool QmpMonitor::close_named_fd(const std::string& name)
{
    return m_named_fds.erase(name) > 0;
}

std::optional<UniqueFd> QmpMonitor::take_named_fd(const std::string& name)
{
    auto it = m_named_fds.find(name);
    if (it == m_named_fds.end()) {
        return std::nullopt;
    }
    UniqueFd fd = std::move(it->second);
    m_named_fds.erase(it);
    return fd;
}

}  // namespace qemu::monitor
