// Small fd helpers for the backends: opening files, blocking mode and full writes.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "char/backend.h"

namespace qemu::chr {

Result<QemuFd> chardev_open_file(const ChardevContext& ctx, const std::string& path, int flags, mode_t mode)
{
    return qemu_open(ctx.open, path, flags, mode);
}

Result<void> set_fd_nonblocking(int fd, bool nonblocking)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return make_errno_error(errno, "fcntl(F_GETFL) failed");
    }
    int wanted = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && fcntl(fd, F_SETFL, wanted) < 0) {
        return make_errno_error(errno, "fcntl(F_SETFL) failed");
    }
    return {};
}

Result<size_t> write_fd_fully(int fd, std::span<const uint8_t> data, bool use_send)
{
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = use_send ? ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                             : ::write(fd, data.data() + done, data.size() - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd pfd{fd, POLLOUT, 0};
            if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                return make_errno_error(errno, "poll failed");
            }
            continue;
        }
        return make_errno_error(n < 0 ? errno : EIO, "write failed");
    }
    return done;
}

}  // namespace qemu::chr
