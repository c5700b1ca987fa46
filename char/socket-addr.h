// Socket addresses for the socket backend: listening, connecting (blocking and
// non-blocking), adopting a passed fd, and the address strings query-chardev shows.
// Error texts follow QEMU's util/qemu-sockets.c.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "char/chardev.h"

namespace qemu::chr {

struct SocketAddr {
    enum class Kind { Unix, Inet, Fd };
    Kind kind = Kind::Unix;
    std::string path;  // Unix
    bool abstract = false;
    bool tight = true;
    std::string host;  // Inet
    std::string port;
    std::optional<bool> ipv4;
    std::optional<bool> ipv6;
    std::string fd;  // Fd: the number as given

    static SocketAddr from_options(const SocketOptions& opts);
    // "unix:/p", "tcp:h:p", "fd:3" as in "disconnected:..." filenames.
    std::string describe() const;
};

// A listening socket with the given backlog. A stale unix socket file is removed first.
Result<UniqueFd> socket_listen(const SocketAddr& addr, int backlog);
// Connects, blocking: "Failed to connect to 'PATH': ..." on failure.
Result<UniqueFd> socket_connect(const SocketAddr& addr);
// Starts a non-blocking connect; in_progress tells whether to wait for POLLOUT and then
// call socket_connect_finish().
Result<UniqueFd> socket_connect_start(const SocketAddr& addr, bool& in_progress);
Result<void> socket_connect_finish(int fd, const SocketAddr& addr);
// Takes ownership of fd=N from the command line after checking it is a socket.
Result<UniqueFd> socket_adopt_fd(const std::string& fd_text);

// The address a listening socket really has (port 0 resolved), as a SocketAddr.
std::optional<SocketAddr> socket_local_addr(int fd);
// query-chardev's text for an established connection.
std::string socket_connection_name(int fd, bool is_listen);
int socket_family(int fd);

}  // namespace qemu::chr
