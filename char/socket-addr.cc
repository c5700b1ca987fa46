// Address resolution, listen/connect and naming for the socket backend.
#include "char/socket-addr.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>

namespace qemu::chr {

namespace {

struct AddrInfoDeleter {
    void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> resolve(const SocketAddr& addr, bool passive)
{
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    hints.ai_family = AF_UNSPEC;
    if (addr.ipv4.value_or(false) && !addr.ipv6.value_or(false)) {
        hints.ai_family = AF_INET;
    } else if (addr.ipv6.value_or(false) && !addr.ipv4.value_or(false)) {
        hints.ai_family = AF_INET6;
    }
    addrinfo* result = nullptr;
    const char* host = addr.host.empty() ? nullptr : addr.host.c_str();
    int rc = getaddrinfo(host, addr.port.c_str(), &hints, &result);
    if (rc != 0) {
        return make_error("address resolution failed for " + addr.host + ":" + addr.port + ": " + gai_strerror(rc));
    }
    return AddrInfoPtr(result);
}

Result<std::pair<sockaddr_un, socklen_t>> unix_sockaddr(const SocketAddr& addr)
{
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    size_t offset = addr.abstract ? 1 : 0;
    if (addr.path.size() + offset >= sizeof(sun.sun_path)) {
        return make_error("UNIX socket path '" + addr.path + "' is too long");
    }
    std::memcpy(sun.sun_path + offset, addr.path.data(), addr.path.size());
    socklen_t len = sizeof(sun);
    if (addr.abstract && addr.tight) {
        len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + addr.path.size());
    }
    return std::pair{sun, len};
}

std::string connect_target(const SocketAddr& addr)
{
    return addr.kind == SocketAddr::Kind::Unix ? addr.path : addr.host + ":" + addr.port;
}

UniqueFd new_socket(int family, bool nonblocking)
{
    return UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
}

// Numeric host and port of a sockaddr, IPv6 hosts in brackets.
std::pair<std::string, std::string> numeric_name(const sockaddr_storage& ss, socklen_t len)
{
    char host[NI_MAXHOST] = "";
    char serv[NI_MAXSERV] = "";
    getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    std::string h = host;
    if (ss.ss_family == AF_INET6) {
        h = "[" + h + "]";
    }
    return {h, serv};
}

}  // namespace

SocketAddr SocketAddr::from_options(const SocketOptions& opts)
{
    SocketAddr addr;
    if (opts.path) {
        addr.kind = Kind::Unix;
        addr.path = *opts.path;
        addr.abstract = opts.abstract;
        addr.tight = opts.tight;
    } else if (opts.host) {
        addr.kind = Kind::Inet;
        addr.host = *opts.host;
        addr.port = opts.port.value_or("");
        addr.ipv4 = opts.ipv4;
        addr.ipv6 = opts.ipv6;
    } else {
        addr.kind = Kind::Fd;
        addr.fd = opts.fd.value_or("");
    }
    return addr;
}

std::string SocketAddr::describe() const
{
    switch (kind) {
    case Kind::Unix: {
        std::string text = "unix:" + path;
        if (abstract) {
            text += ",abstract=on";
            if (tight) {
                text += ",tight=on";
            }
        }
        return text;
    }
    case Kind::Inet:
        return "tcp:" + host + ":" + port;
    case Kind::Fd:
        return "fd:" + fd;
    }
    return {};
}

Result<UniqueFd> socket_listen(const SocketAddr& addr, int backlog)
{
    if (addr.kind == SocketAddr::Kind::Fd) {
        return socket_adopt_fd(addr.fd);
    }
    if (addr.kind == SocketAddr::Kind::Unix) {
        auto [sun, len] = TRY(unix_sockaddr(addr));
        UniqueFd fd = new_socket(AF_UNIX, true);
        if (!fd) {
            return make_errno_error(errno, "Failed to create Unix socket");
        }
        if (!addr.abstract && ::unlink(addr.path.c_str()) < 0 && errno != ENOENT) {
            return make_errno_error(errno, "Failed to unlink socket " + addr.path);
        }
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), len) < 0) {
            return make_errno_error(errno, "Failed to bind socket to " + addr.path);
        }
        if (::listen(fd.get(), backlog) < 0) {
            return make_errno_error(errno, "Failed to listen on socket");
        }
        return fd;
    }
    AddrInfoPtr list = TRY(resolve(addr, true));
    int last_errno = EADDRNOTAVAIL;
    for (addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
        UniqueFd fd = new_socket(ai->ai_family, true);
        if (!fd) {
            last_errno = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0) {
            last_errno = errno;
            continue;
        }
        if (::listen(fd.get(), backlog) < 0) {
            return make_errno_error(errno, "Failed to listen on socket");
        }
        return fd;
    }
    if (last_errno == EADDRINUSE) {
        return make_errno_error(last_errno, "Failed to find an available port");
    }
    return make_errno_error(last_errno, "Failed to bind socket");
}

namespace {

// Tries the resolved addresses of an inet address in turn. Blocking, each attempt is
// waited for; non-blocking, the first attempt still in progress is returned with
// in_progress set (only that address is tried asynchronously; a failure retries later).
Result<UniqueFd> connect_inet(const SocketAddr& addr, bool nonblocking, bool& in_progress)
{
    AddrInfoPtr list = TRY(resolve(addr, false));
    int last_errno = ECONNREFUSED;
    for (addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
        UniqueFd fd = new_socket(ai->ai_family, nonblocking);
        if (!fd) {
            last_errno = errno;
            continue;
        }
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
            return fd;
        }
        if (nonblocking && errno == EINPROGRESS) {
            in_progress = true;
            return fd;
        }
        last_errno = errno;
    }
    return make_errno_error(last_errno, "Failed to connect to '" + connect_target(addr) + "'");
}

}  // namespace

Result<UniqueFd> socket_connect_start(const SocketAddr& addr, bool& in_progress)
{
    in_progress = false;
    if (addr.kind == SocketAddr::Kind::Fd) {
        return socket_adopt_fd(addr.fd);
    }
    if (addr.kind == SocketAddr::Kind::Unix) {
        auto [sun, len] = TRY(unix_sockaddr(addr));
        UniqueFd fd = new_socket(AF_UNIX, true);
        if (!fd) {
            return make_errno_error(errno, "Failed to create socket");
        }
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), len) < 0) {
            if (errno != EINPROGRESS) {
                return make_errno_error(errno, "Failed to connect to '" + connect_target(addr) + "'");
            }
            in_progress = true;
        }
        return fd;
    }
    return connect_inet(addr, true, in_progress);
}

Result<void> socket_connect_finish(int fd, const SocketAddr& addr)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err != 0) {
        return make_errno_error(err, "Failed to connect to '" + connect_target(addr) + "'");
    }
    return {};
}

Result<UniqueFd> socket_connect(const SocketAddr& addr)
{
    if (addr.kind == SocketAddr::Kind::Inet) {
        bool waited = false;
        return connect_inet(addr, false, waited);
    }
    bool in_progress = false;
    UniqueFd fd = TRY(socket_connect_start(addr, in_progress));
    if (in_progress) {
        pollfd pfd{fd.get(), POLLOUT, 0};
        while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
        }
        TRY_VOID(socket_connect_finish(fd.get(), addr));
    }
    return fd;
}

Result<UniqueFd> socket_adopt_fd(const std::string& fd_text)
{
    char* end = nullptr;
    errno = 0;
    long n = fd_text.empty() ? -1 : std::strtol(fd_text.c_str(), &end, 10);
    if (fd_text.empty() || errno != 0 || *end != '\0' || n < 0 || n > INT32_MAX) {
        return make_error("Unable to parse FD number " + fd_text);
    }
    int fd = static_cast<int>(n);
    struct stat st{};
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        return make_error("File descriptor '" + fd_text + "' is not a socket");
    }
    // The command line handed this fd to us; from here the chardev owns and closes it.
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return UniqueFd(fd);
}

std::optional<SocketAddr> socket_local_addr(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
        return std::nullopt;
    }
    SocketAddr addr;
    if (ss.ss_family == AF_UNIX) {
        addr.kind = SocketAddr::Kind::Unix;
        // An abstract name starts with NUL and so shows as empty, as in QEMU.
        addr.path = reinterpret_cast<const sockaddr_un&>(ss).sun_path;
        return addr;
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        addr.kind = SocketAddr::Kind::Inet;
        std::tie(addr.host, addr.port) = numeric_name(ss, len);
        return addr;
    }
    return std::nullopt;
}

std::string socket_connection_name(int fd, bool is_listen)
{
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof local;
    socklen_t peer_len = sizeof peer;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    switch (local.ss_family) {
    case AF_UNIX:
        if (is_listen) {
            return std::string("unix:") + reinterpret_cast<const sockaddr_un&>(local).sun_path + ",server=on";
        }
        return std::string("unix:") + reinterpret_cast<const sockaddr_un&>(peer).sun_path;
    case AF_INET:
    case AF_INET6: {
        auto [lhost, lport] = numeric_name(local, local_len);
        auto [phost, pport] = numeric_name(peer, peer_len);
        return "tcp:" + lhost + ":" + lport + (is_listen ? ",server=on" : "") + " <-> " + phost + ":" + pport;
    }
    default:
        return "unknown";
    }
}

int socket_family(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
        return AF_UNSPEC;
    }
    return ss.ss_family;
}

}  // namespace qemu::chr
