// QMP chardev commands: they translate QMP's ChardevBackend shapes (with QMP's defaults:
// server on, wait off) into chr::ChardevOptions and call the registry; yank cuts a socket
// chardev's connection.
#include <glib.h>

#include <cctype>
#include <string>
#include <vector>

#include "char/ringbuf.h"
#include "char/socket.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "monitor/qmp.h"
#include "qapi/qapi-commands.h"

namespace qapi {

namespace {

void copy_common(const ChardevCommon& common, qemu::chr::ChardevOptions& options)
{
    options.logfile = common.logfile;
    options.logappend = common.logappend.value_or(false);
}

// A socket's "fd" address is a monitor fd name (taken from the monitor, as QEMU's
// monitor_fd_param does) or, with no current monitor or a leading digit, a number.
qemu::Result<std::string> socket_fd_param(QmpContext& ctx, const std::string& str)
{
    if (!str.empty() && !std::isdigit(static_cast<unsigned char>(str[0])) && ctx.monitor) {
        auto fd = ctx.monitor->take_named_fd(str);
        if (!fd) {
            return qemu::make_error("File descriptor named '" + str + "' has not been found");
        }
        // The chardev takes ownership of the number it is given.
        return std::to_string(fd->release());
    }
    return str;
}

qemu::Result<qemu::chr::SocketOptions> socket_options(QmpContext& ctx, const ChardevSocket& sock)
{
    qemu::chr::SocketOptions out;
    const SocketAddressLegacy& addr = sock.addr;
    switch (addr.type) {
    case SocketAddressType::inet:
        out.host = addr.u.inet->data.host;
        out.port = addr.u.inet->data.port;
        out.ipv4 = addr.u.inet->data.ipv4;
        out.ipv6 = addr.u.inet->data.ipv6;
        break;
    case SocketAddressType::q_unix:
        out.path = addr.u.q_unix->data.path;
        out.abstract = addr.u.q_unix->data.abstract.value_or(false);
        out.tight = addr.u.q_unix->data.tight.value_or(true);
        break;
    case SocketAddressType::fd:
        out.fd = TRY(socket_fd_param(ctx, addr.u.fd->data.str));
        break;
    case SocketAddressType::vsock:
        return qemu::make_error("vsock sockets are not supported by this build");
    }
    // QMP's defaults differ from the command line's.
    out.server = sock.server.value_or(true);
    out.wait = sock.wait.value_or(false);
    out.nodelay = sock.nodelay;
    out.telnet = sock.telnet;
    if (sock.reconnect_ms) {
        out.reconnect_ms = sock.reconnect_ms;
    } else if (sock.reconnect) {
        out.reconnect_ms = *sock.reconnect * 1000;
    }
    if (sock.tls_creds || sock.tls_authz || sock.tn3270.value_or(false) || sock.websocket.value_or(false)) {
        return qemu::make_error("TLS, tn3270 and websocket are not supported by this build");
    }
    return out;
}

qemu::Result<qemu::chr::ChardevOptions> chardev_options(QmpContext& ctx, const std::string& id,
                                                        const ChardevBackend& backend)
{
    qemu::chr::ChardevOptions options;
    options.id = id;
    const auto& u = backend.u;
    switch (backend.type) {
    case ChardevBackendKind::file:
        copy_common(u.file->data, options);
        options.backend = qemu::chr::FileOptions{
            .out = u.file->data.out, .in = u.file->data.in, .append = u.file->data.append.value_or(false)};
        break;
    case ChardevBackendKind::pipe:
        copy_common(u.pipe->data, options);
        options.backend = qemu::chr::PipeOptions{.path = u.pipe->data.device};
        break;
    case ChardevBackendKind::socket:
        copy_common(u.socket->data, options);
        options.backend = TRY(socket_options(ctx, u.socket->data));
        break;
    case ChardevBackendKind::pty:
        copy_common(u.pty->data, options);
        options.backend = qemu::chr::PtyOptions{};
        break;
    case ChardevBackendKind::null:
        copy_common(u.null->data, options);
        options.backend = qemu::chr::NullOptions{};
        break;
    case ChardevBackendKind::stdio:
        copy_common(u.stdio->data, options);
        options.backend = qemu::chr::StdioOptions{.signal = u.stdio->data.signal};
        break;
    case ChardevBackendKind::ringbuf:
    case ChardevBackendKind::memory: {
        const auto& ring = backend.type == ChardevBackendKind::ringbuf ? u.ringbuf->data : u.memory->data;
        copy_common(ring, options);
        if (ring.size && *ring.size < 0) {
            return qemu::make_error("size of ringbuf chardev must be power of two");
        }
        options.backend = qemu::chr::RingbufOptions{.size = ring.size ? static_cast<uint64_t>(*ring.size) : 65536};
        break;
    }
    default:
        return qemu::make_error(std::string("'") + std::string(ChardevBackendKind_str(backend.type)) +
                                "' is not a valid char driver name");
    }
    return options;
}

qemu::Result<qemu::chr::RingbufChardev*> find_ringbuf(QmpContext& ctx, const std::string& device)
{
    qemu::chr::Chardev* chr = ctx.host.chardevs().find(device);
    if (!chr) {
        return qemu::make_error("Device '" + device + "' not found");
    }
    auto* ring = dynamic_cast<qemu::chr::RingbufChardev*>(chr);
    if (!ring) {
        return qemu::make_error(device + " is not a ringbuf device");
    }
    return ring;
}

}  // namespace

qemu::Result<std::vector<ChardevInfo>> qmp_query_chardev(QmpContext& ctx)
{
    std::vector<ChardevInfo> result;
    for (qemu::chr::Chardev* chr : ctx.host.chardevs().list()) {
        result.push_back(ChardevInfo{.label = chr->id(), .filename = chr->filename(), .frontend_open = chr->has_frontend()});
    }
    return result;
}

qemu::Result<std::vector<ChardevBackendInfo>> qmp_query_chardev_backends(QmpContext&)
{
    std::vector<ChardevBackendInfo> result;
    for (std::string_view name : qemu::chr::ChardevRegistry::backend_names()) {
        result.push_back(ChardevBackendInfo{.name = std::string(name)});
    }
    return result;
}

qemu::Result<ChardevReturn> qmp_chardev_add(QmpContext& ctx, const std::string& id, const ChardevBackend& backend)
{
    auto options = chardev_options(ctx, id, backend);
    if (!options) {
        return std::unexpected(options.error().prepend("Failed to add chardev '" + id + "': "));
    }
    TRY(ctx.host.chardevs().add_for_qmp(*options));
    ChardevReturn ret;
    ret.pty = ctx.host.chardevs().pty_path(id);
    return ret;
}

qemu::Result<ChardevReturn> qmp_chardev_change(QmpContext& ctx, const std::string& id, const ChardevBackend&)
{
    if (!ctx.host.chardevs().find(id)) {
        return qemu::make_error("Chardev '" + id + "' does not exist");
    }
    return qemu::make_error("Changing the backend of chardev '" + id + "' is not supported by this build");
}

qemu::Result<void> qmp_chardev_remove(QmpContext& ctx, const std::string& id)
{
    return ctx.host.chardevs().remove(id);
}

qemu::Result<void> qmp_chardev_send_break(QmpContext& ctx, const std::string& id)
{
    if (!ctx.host.chardevs().find(id)) {
        return qemu::make_error("Chardev '" + id + "' not found");
    }
    // None of our backends has a line that can carry a break.
    return {};
}

qemu::Result<void> qmp_ringbuf_write(QmpContext& ctx, const std::string& device, const std::string& data,
                                     const std::optional<DataFormat>& format)
{
    qemu::chr::RingbufChardev* ring = TRY(find_ringbuf(ctx, device));
    if (format == DataFormat::base64) {
        // QEMU accepts only the base64 alphabet, '=' and newlines (a NUL from \u0000 is
        // invalid too); g_base64_decode alone would silently skip anything else.
        if (data.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n") !=
            std::string::npos) {
            return qemu::make_error("Base64 data contains invalid characters");
        }
        gsize length = 0;
        guchar* decoded = g_base64_decode(data.c_str(), &length);
        ring->write(std::span<const uint8_t>(decoded, length));
        g_free(decoded);
    } else {
        ring->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    }
    return {};
}

qemu::Result<std::string> qmp_ringbuf_read(QmpContext& ctx, const std::string& device, int64_t size,
                                           const std::optional<DataFormat>& format)
{
    if (size <= 0) {
        return qemu::make_error("size must be greater than zero");
    }
    qemu::chr::RingbufChardev* ring = TRY(find_ringbuf(ctx, device));
    std::vector<uint8_t> bytes = ring->read(static_cast<size_t>(size));
    if (format == DataFormat::base64) {
        gchar* encoded = g_base64_encode(bytes.data(), bytes.size());
        std::string text(encoded);
        g_free(encoded);
        return text;
    }
    // Like QEMU, the bytes go out as they are; the JSON writer replaces invalid UTF-8.
    return std::string(bytes.begin(), bytes.end());
}

namespace {

// yank_find_instance: a chardev is an instance while it is a socket chardev (QEMU
// registers every socket chardev as it opens); nothing else has one here.
qemu::chr::SocketChardev* yank_instance(QmpContext& ctx, const YankInstance& instance)
{
    if (instance.type != YankInstanceType::chardev) {
        return nullptr;
    }
    return dynamic_cast<qemu::chr::SocketChardev*>(ctx.host.chardevs().find(instance.u.chardev->id));
}

}  // namespace

qemu::Result<void> qmp_yank(QmpContext& ctx, const std::vector<YankInstance>& instances)
{
    // Every instance is looked up before any is yanked.
    std::vector<qemu::chr::SocketChardev*> found;
    for (const YankInstance& instance : instances) {
        qemu::chr::SocketChardev* socket = yank_instance(ctx, instance);
        if (!socket) {
            return qemu::make_error(qemu::ErrorClass::DeviceNotFound, "Instance not found");
        }
        found.push_back(socket);
    }
    for (qemu::chr::SocketChardev* socket : found) {
        socket->yank();
    }
    return {};
}

qemu::Result<std::vector<YankInstance>> qmp_query_yank(QmpContext& ctx)
{
    std::vector<YankInstance> out;
    for (qemu::chr::Chardev* chr : ctx.host.chardevs().list()) {
        if (dynamic_cast<qemu::chr::SocketChardev*>(chr)) {
            YankInstance instance{.type = YankInstanceType::chardev};
            instance.u.chardev = YankInstanceChardev{.id = std::string(chr->id())};
            out.push_back(std::move(instance));
        }
    }
    return out;
}

}  // namespace qapi
