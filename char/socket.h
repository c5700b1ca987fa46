// The "socket" backend: a unix or TCP stream socket, as a server (listen with backlog 1,
// one client at a time, re-armed after a disconnect) or a client (synchronous connect, or
// asynchronous with reconnect-ms retries), or a pre-opened fd. Unix connections carry fds
// with SCM_RIGHTS; those are kept pending until a command takes them.
#pragma once

#include <glib.h>

#include <optional>
#include <vector>

#include "char/backend.h"
#include "char/socket-addr.h"

namespace qemu::chr {

class SocketChardev final : public Chardev {
public:
    // Validates the options (QEMU's texts), then listens or connects. A CLI server with
    // wait=on blocks here until the first client connects.
    static Result<std::unique_ptr<SocketChardev>> open(const std::string& id, const SocketOptions& opts,
                                                       ChardevContext& ctx);
    ~SocketChardev() override;

    std::string_view driver() const override { return "socket"; }
    std::string filename() const override;
    bool is_open() const override { return m_state == State::Connected; }
    using Chardev::write_all;
    Result<size_t> write_all(std::span<const uint8_t> data) override;
    void accept_input() override;

    // Fds travel only over AF_UNIX connections (a unix path, or an fd= socketpair).
    bool can_pass_fds() const override { return m_state == State::Connected && m_conn_family == AF_UNIX; }
    std::optional<UniqueFd> take_msgfd() override;
    std::vector<UniqueFd> take_msgfds() override;
    bool supports_gcontext() const override { return true; }

    bool is_server() const { return m_listener.valid(); }
    // The TCP port the listener is bound to (port=0 resolved); nullopt for other kinds.
    std::optional<uint16_t> listen_port() const;
    size_t pending_fd_count() const { return m_pending_fds.size(); }
    // Drops the current connection as if the peer had gone (chr_disconnect).
    void disconnect();
    // yank: shuts the connection (and a connect in progress) down both ways, as QEMU's
    // qio_channel_shutdown; the read side then sees the end and disconnects as usual.
    void yank();

    // The most fds one recvmsg accepts, as QEMU's TCP_MAX_FDS.
    static constexpr size_t kMaxFds = 16;

protected:
    void frontend_attached() override { accept_input(); }

private:
    enum class State { Disconnected, Connecting, Connected };

    SocketChardev(std::string id, SocketAddr addr, ChardevContext& ctx) :
        Chardev(std::move(id)), m_addr(std::move(addr)), m_ctx(ctx)
    {
    }

    void new_connection(UniqueFd fd);
    void arm_listener();
    void disarm_listener();
    void start_async_connect();
    void connect_failed(Error err);
    void start_reconnect_timer();
    void remove_connection_watches();
    void schedule_disconnect();
    ssize_t receive(uint8_t* buf, size_t len);

    static gboolean on_listener_ready(gint fd, GIOCondition cond, gpointer opaque);
    static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque);
    static gboolean on_hangup(gint fd, GIOCondition cond, gpointer opaque);
    static gboolean on_connect_done(gint fd, GIOCondition cond, gpointer opaque);
    static gboolean on_reconnect_timer(gpointer opaque);
    static gboolean on_deferred_disconnect(gpointer opaque);

    SocketAddr m_addr;
    ChardevContext& m_ctx;
    bool m_nodelay = false;
    int64_t m_reconnect_ms = 0;
    bool m_unlink_on_close = false;
    bool m_connect_err_reported = false;

    State m_state = State::Disconnected;
    UniqueFd m_listener;
    UniqueFd m_conn;
    UniqueFd m_connecting;
    int m_conn_family = AF_UNSPEC;
    // query-chardev's name for the current connection, fixed when it is established.
    std::string m_conn_name;
    std::vector<UniqueFd> m_pending_fds;

    unsigned m_listen_watch = 0;
    unsigned m_read_watch = 0;
    unsigned m_hup_watch = 0;
    unsigned m_connect_watch = 0;
    unsigned m_reconnect_timer = 0;
    unsigned m_disconnect_idle = 0;
};

}  // namespace qemu::chr
