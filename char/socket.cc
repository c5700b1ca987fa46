// The socket backend's connection life cycle: listen/accept, connect and reconnect, reading
// with SCM_RIGHTS, writing, and disconnect handling. Option parsing for -chardev socket is
// at the end.
#include "char/socket.h"

#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace qemu::chr {

namespace {

constexpr size_t kReadChunk = 4096;
constexpr auto kConnCondition = static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR);

Result<void> validate(const SocketOptions& opts, const SocketAddr& addr)
{
    if (addr.kind == SocketAddr::Kind::Fd && opts.reconnect_ms) {
        return make_error("'reconnect' option is incompatible with 'fd' address type");
    }
    if (opts.server) {
        if (opts.reconnect_ms) {
            return make_error("'reconnect' option is incompatible with socket in server listen mode");
        }
    } else if (opts.wait) {
        return make_error("'wait' option is incompatible with socket in client connect mode");
    }
    if (opts.telnet.value_or(false)) {
        return make_error("'telnet' is not supported by this build");
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<SocketChardev>> SocketChardev::open(const std::string& id, const SocketOptions& opts,
                                                           ChardevContext& ctx)
{
    SocketAddr addr = SocketAddr::from_options(opts);
    TRY_VOID(validate(opts, addr));
    std::unique_ptr<SocketChardev> chr(new SocketChardev(id, addr, ctx));
    chr->m_nodelay = opts.nodelay.value_or(false);
    chr->m_reconnect_ms = opts.reconnect_ms.value_or(0);

    if (opts.server) {
        chr->m_listener = TRY(socket_listen(addr, 1));
        chr->m_unlink_on_close = addr.kind == SocketAddr::Kind::Unix && !addr.abstract;
        // Show the address really bound (port 0 resolved, the path behind an fd), as QEMU.
        if (auto local = socket_local_addr(chr->m_listener.get())) {
            if (!(addr.kind == SocketAddr::Kind::Unix && addr.abstract)) {
                chr->m_addr = *local;
            }
        }
        if (opts.wait.value_or(false)) {
            if (ctx.reporter.info) {
                ctx.reporter.info("QEMU waiting for connection on: " + chr->filename());
            }
            for (;;) {
                pollfd pfd{chr->m_listener.get(), POLLIN, 0};
                if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                    return make_errno_error(errno, "poll failed");
                }
                UniqueFd client(::accept4(chr->m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
                if (client) {
                    chr->new_connection(std::move(client));
                    break;
                }
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                    return make_errno_error(errno, "Unable to accept connection");
                }
            }
        } else {
            chr->arm_listener();
        }
        return chr;
    }

    if (chr->m_reconnect_ms > 0) {
        chr->start_async_connect();
        return chr;
    }
    chr->m_state = State::Connecting;
    chr->new_connection(TRY(socket_connect(addr)));
    return chr;
}

SocketChardev::~SocketChardev()
{
    remove_connection_watches();
    disarm_listener();
    for (unsigned* source : {&m_connect_watch, &m_reconnect_timer}) {
        if (*source != 0) {
            g_source_remove(*source);
            *source = 0;
        }
    }
    if (m_unlink_on_close) {
        ::unlink(m_addr.path.c_str());
    }
}

std::string SocketChardev::filename() const
{
    if (m_state == State::Connected) {
        return m_conn_name;
    }
    return "disconnected:" + m_addr.describe() + (is_server() ? ",server=on" : "");
}

std::optional<uint16_t> SocketChardev::listen_port() const
{
    if (!is_server() || m_addr.kind != SocketAddr::Kind::Inet) {
        return std::nullopt;
    }
    return static_cast<uint16_t>(std::stoul(m_addr.port));
}

void SocketChardev::new_connection(UniqueFd fd)
{
    (void)set_fd_nonblocking(fd.get(), true);
    m_conn_family = socket_family(fd.get());
    if (m_nodelay && (m_conn_family == AF_INET || m_conn_family == AF_INET6)) {
        int on = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    m_conn = std::move(fd);
    m_conn_name = socket_connection_name(m_conn.get(), is_server());
    m_state = State::Connected;
    disarm_listener();
    // Below the read watch's priority, so pending input is read before a hangup is handled.
    m_hup_watch = g_unix_fd_add_full(G_PRIORITY_DEFAULT + 1, m_conn.get(), static_cast<GIOCondition>(G_IO_HUP | G_IO_ERR),
                                     on_hangup, this, nullptr);
    accept_input();
    frontend_event(ChardevEvent::Opened);
}

void SocketChardev::arm_listener()
{
    if (m_listener && m_listen_watch == 0) {
        m_listen_watch = g_unix_fd_add(m_listener.get(), G_IO_IN, on_listener_ready, this);
    }
}

void SocketChardev::disarm_listener()
{
    if (m_listen_watch != 0) {
        g_source_remove(m_listen_watch);
        m_listen_watch = 0;
    }
}

gboolean SocketChardev::on_listener_ready(gint fd, GIOCondition, gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    UniqueFd client(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!client) {
        return G_SOURCE_CONTINUE;
    }
    // new_connection() disarms the listener: one client at a time, the rest wait in the
    // backlog until this one goes.
    self->m_listen_watch = 0;
    self->new_connection(std::move(client));
    return G_SOURCE_REMOVE;
}

void SocketChardev::accept_input()
{
    if (m_state != State::Connected || m_read_watch != 0 || frontend_can_read() == 0) {
        return;
    }
    m_read_watch = g_unix_fd_add(m_conn.get(), kConnCondition, on_readable, this);
}

ssize_t SocketChardev::receive(uint8_t* buf, size_t len)
{
    if (m_conn_family != AF_UNIX) {
        return ::recv(m_conn.get(), buf, len, 0);
    }
    iovec iov{buf, len};
    union {
        cmsghdr align;
        std::array<char, CMSG_SPACE(sizeof(int) * kMaxFds)> bytes;
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = control.bytes.size();
    ssize_t n = ::recvmsg(m_conn.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
        return n;
    }
    // Every fd the kernel installed becomes owned here, before anything can fail. With
    // MSG_CTRUNC the kernel has already dropped the fds that did not fit.
    std::vector<UniqueFd> batch;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
            batch.emplace_back(fd);
        }
    }
    if (!batch.empty()) {
        // O_NONBLOCK belongs to the open file description and so travels with the fd; the
        // commands that use these fds expect blocking ones.
        for (const UniqueFd& fd : batch) {
            (void)set_fd_nonblocking(fd.get(), false);
        }
        // A newer batch replaces (and so closes) fds no command has taken.
        m_pending_fds = std::move(batch);
    }
    return n;
}

gboolean SocketChardev::on_readable(gint, GIOCondition, gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    size_t want = self->frontend_can_read();
    if (want == 0) {
        self->m_read_watch = 0;
        return G_SOURCE_REMOVE;
    }
    std::array<uint8_t, kReadChunk> buf;
    ssize_t n = self->receive(buf.data(), std::min(want, buf.size()));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        self->m_read_watch = 0;
        self->disconnect();
        return G_SOURCE_REMOVE;
    }
    self->frontend_read(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    return G_SOURCE_CONTINUE;
}

gboolean SocketChardev::on_hangup(gint fd, GIOCondition, gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    self->m_hup_watch = 0;
    int unread = 0;
    if (ioctl(fd, FIONREAD, &unread) == 0 && unread > 0) {
        // Input is still queued (the frontend has paused reading): the read path sees the
        // end of the stream after it, so nothing the peer sent is lost.
        return G_SOURCE_REMOVE;
    }
    self->disconnect();
    return G_SOURCE_REMOVE;
}

void SocketChardev::remove_connection_watches()
{
    for (unsigned* source : {&m_read_watch, &m_hup_watch, &m_disconnect_idle}) {
        if (*source != 0) {
            g_source_remove(*source);
            *source = 0;
        }
    }
}

void SocketChardev::disconnect()
{
    if (m_state != State::Connected) {
        return;
    }
    remove_connection_watches();
    m_conn.reset();
    m_pending_fds.clear();
    m_conn_family = AF_UNSPEC;
    m_conn_name.clear();
    m_state = State::Disconnected;
    arm_listener();
    if (m_reconnect_ms > 0) {
        start_reconnect_timer();
    }
    // Last, because the frontend may react by tearing things down.
    frontend_event(ChardevEvent::Closed);
}

void SocketChardev::yank()
{
    for (const UniqueFd* fd : {&m_conn, &m_connecting}) {
        if (fd->valid()) {
            ::shutdown(fd->get(), SHUT_RDWR);
        }
    }
}

void SocketChardev::schedule_disconnect()
{
    // Not from inside write_all: the frontend is in the middle of its own work and must
    // see Closed from the main loop.
    if (m_disconnect_idle == 0) {
        m_disconnect_idle = g_idle_add(on_deferred_disconnect, this);
    }
}

gboolean SocketChardev::on_deferred_disconnect(gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    self->m_disconnect_idle = 0;
    self->disconnect();
    return G_SOURCE_REMOVE;
}

Result<size_t> SocketChardev::write_all(std::span<const uint8_t> data)
{
    if (m_state != State::Connected || m_disconnect_idle != 0) {
        return data.size();
    }
    if (!write_fd_fully(m_conn.get(), data, true)) {
        // EPIPE, ECONNRESET, ...: the peer is gone; the data is dropped like any write
        // made while disconnected.
        schedule_disconnect();
    }
    return data.size();
}

std::optional<UniqueFd> SocketChardev::take_msgfd()
{
    if (m_pending_fds.empty()) {
        return std::nullopt;
    }
    UniqueFd first = std::move(m_pending_fds.front());
    m_pending_fds.clear();  // closes the extras
    return first;
}

std::vector<UniqueFd> SocketChardev::take_msgfds()
{
    return std::exchange(m_pending_fds, {});
}

void SocketChardev::start_async_connect()
{
    m_state = State::Connecting;
    bool in_progress = false;
    auto fd = socket_connect_start(m_addr, in_progress);
    if (!fd) {
        connect_failed(std::move(fd).error());
        return;
    }
    if (!in_progress) {
        m_connect_err_reported = false;
        new_connection(std::move(*fd));
        return;
    }
    m_connecting = std::move(*fd);
    m_connect_watch = g_unix_fd_add(m_connecting.get(), static_cast<GIOCondition>(G_IO_OUT | G_IO_ERR | G_IO_HUP),
                                    on_connect_done, this);
}

gboolean SocketChardev::on_connect_done(gint, GIOCondition, gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    self->m_connect_watch = 0;
    UniqueFd fd = std::move(self->m_connecting);
    auto done = socket_connect_finish(fd.get(), self->m_addr);
    if (!done) {
        self->connect_failed(std::move(done).error());
    } else {
        self->m_connect_err_reported = false;
        self->new_connection(std::move(fd));
    }
    return G_SOURCE_REMOVE;
}

void SocketChardev::connect_failed(Error err)
{
    m_state = State::Disconnected;
    m_connecting.reset();
    // Reported once per failing streak, or a dead server would fill the log.
    if (!m_connect_err_reported) {
        if (m_ctx.reporter.error) {
            m_ctx.reporter.error("Unable to connect character device " + id() + ": " + err.desc);
        }
        m_connect_err_reported = true;
    }
    start_reconnect_timer();
}

void SocketChardev::start_reconnect_timer()
{
    if (m_reconnect_timer == 0) {
        m_reconnect_timer = g_timeout_add(static_cast<guint>(m_reconnect_ms), on_reconnect_timer, this);
    }
}

gboolean SocketChardev::on_reconnect_timer(gpointer opaque)
{
    auto* self = static_cast<SocketChardev*>(opaque);
    self->m_reconnect_timer = 0;
    if (self->m_state == State::Disconnected) {
        self->start_async_connect();
    }
    return G_SOURCE_REMOVE;
}

Result<ChardevPtr> open_socket(const std::string& id, const SocketOptions& opts, ChardevContext& ctx)
{
    return TRY(SocketChardev::open(id, opts, ctx));
}

// ---- -chardev socket,... ----

Result<ChardevBackendOptions> parse_socket_opts(const QemuOpts& opts)
{
    SocketOptions sock;
    sock.path = opts.get("path");
    sock.host = opts.get("host");
    sock.port = opts.get("port");
    sock.fd = opts.get("fd");
    if ((sock.path.has_value() + sock.host.has_value() + sock.fd.has_value()) > 1) {
        return make_error("None or one of 'path', 'fd' or 'host' option required.");
    }
    if (sock.host && !sock.port) {
        return make_error("chardev: socket: no port given");
    }
    if (!sock.host) {
        sock.port.reset();
    }
    if (opts.has("delay") && opts.has("nodelay")) {
        return make_error("'delay' and 'nodelay' are mutually exclusive");
    }
    if (opts.has("delay") || opts.has("nodelay")) {
        sock.nodelay = !TRY(opts.get_bool("delay")).value_or(true) || TRY(opts.get_bool("nodelay")).value_or(false);
    }
    // The CLI defaults differ from QMP's: server=off, and a server waits unless told not to.
    sock.server = TRY(opts.get_bool("server")).value_or(false);
    sock.wait = TRY(opts.get_bool("wait"));
    if (sock.server && !sock.wait) {
        sock.wait = true;
    }
    sock.telnet = TRY(opts.get_bool("telnet"));
    sock.abstract = TRY(opts.get_bool("abstract")).value_or(false);
    sock.tight = TRY(opts.get_bool("tight")).value_or(true);
    sock.ipv4 = TRY(opts.get_bool("ipv4"));
    sock.ipv6 = TRY(opts.get_bool("ipv6"));
    auto reconnect = TRY(opts.get_number("reconnect"));
    auto reconnect_ms = TRY(opts.get_number("reconnect-ms"));
    if (reconnect && reconnect_ms) {
        return make_error("'reconnect' and 'reconnect-ms' are mutually exclusive");
    }
    if (reconnect) {
        sock.reconnect_ms = static_cast<int64_t>(*reconnect * 1000);
    } else if (reconnect_ms) {
        sock.reconnect_ms = static_cast<int64_t>(*reconnect_ms);
    }
    for (std::string_view unsupported : {"tn3270", "websocket"}) {
        if (TRY(opts.get_bool(unsupported)).value_or(false)) {
            return make_error("'" + std::string(unsupported) + "' is not supported by this build");
        }
    }
    for (std::string_view unsupported : {"tls-creds", "tls-authz"}) {
        if (opts.has(unsupported)) {
            return make_error("'" + std::string(unsupported) + "' is not supported by this build");
        }
    }
    return sock;
}

}  // namespace qemu::chr
