// Internals shared by the chardev backends and the registry: the context a backend is
// opened in, one open function per backend (the registry's table dispatches to them), and
// the small helpers every fd-based backend needs. Not part of the char layer's public API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "char/chardev.h"
#include "char/context.h"
#include "util/qemu-option.h"

namespace qemu::chr {

using ChardevPtr = std::unique_ptr<Chardev>;

Result<ChardevPtr> open_null(const std::string& id, const NullOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_socket(const std::string& id, const SocketOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_stdio(const std::string& id, const StdioOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_file(const std::string& id, const FileOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_pipe(const std::string& id, const PipeOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_pty(const std::string& id, const PtyOptions& opts, ChardevContext& ctx);
Result<ChardevPtr> open_ringbuf(const std::string& id, const RingbufOptions& opts, ChardevContext& ctx);

// One entry of the backend table in registry.cc: the -chardev driver name and how its
// options are read from QemuOpts (the address/flags checks QEMU does at parse time).
struct ChardevDriver {
    std::string_view name;
    Result<ChardevBackendOptions> (*parse)(const QemuOpts& opts);
};
const ChardevDriver* find_chardev_driver(std::string_view name);

Result<ChardevBackendOptions> parse_null_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_socket_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_stdio_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_file_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_pipe_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_pty_opts(const QemuOpts& opts);
Result<ChardevBackendOptions> parse_ringbuf_opts(const QemuOpts& opts);

// The pts path of a pty chardev, for chardev-add's {"pty": ...}.
std::optional<std::string> pty_path_of(const Chardev& chr);

// Opens a file for a backend through qemu_open(), so /dev/fdset/N lends a set member; the
// errors are qemu_open's ("Could not open 'PATH': strerror", the fd-set texts).
Result<QemuFd> chardev_open_file(const ChardevContext& ctx, const std::string& path, int flags, mode_t mode = 0666);

// Sets or clears O_NONBLOCK.
Result<void> set_fd_nonblocking(int fd, bool nonblocking);

// Writes all of data to a possibly non-blocking fd, waiting for POLLOUT when it is full.
// use_send adds MSG_NOSIGNAL so a vanished peer gives EPIPE rather than SIGPIPE.
Result<size_t> write_fd_fully(int fd, std::span<const uint8_t> data, bool use_send);

}  // namespace qemu::chr
