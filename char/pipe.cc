// The "pipe" backend: PATH.in and PATH.out when both exist (usually FIFOs), else PATH for
// both directions. Opening read-write keeps open() from blocking on a FIFO with no peer.
#include <fcntl.h>

#include "char/backend.h"
#include "char/fd-chardev.h"

namespace qemu::chr {

namespace {

class PipeChardev final : public FdChardev {
public:
    using FdChardev::FdChardev;
    std::string_view driver() const override { return "pipe"; }
    std::string filename() const override { return "pipe"; }
};

}  // namespace

Result<ChardevBackendOptions> parse_pipe_opts(const QemuOpts& opts)
{
    auto path = opts.get("path");
    if (!path) {
        return make_error("chardev: pipe: no device path given");
    }
    return PipeOptions{*path};
}

Result<ChardevPtr> open_pipe(const std::string& id, const PipeOptions& opts, ChardevContext& ctx)
{
    auto in = chardev_open_file(ctx, opts.path + ".in", O_RDWR);
    auto out = chardev_open_file(ctx, opts.path + ".out", O_RDWR);
    if (in && out) {
        return std::make_unique<PipeChardev>(id, std::move(*in), std::move(*out));
    }
    QemuFd both = TRY(chardev_open_file(ctx, opts.path, O_RDWR));
    // The same file description both ways; the second fd is a private dup that is simply
    // closed, while `both` (possibly lent by an fd set) goes back through qemu_close.
    UniqueFd copy(fcntl(both.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
        return make_errno_error(errno, "Could not open '" + opts.path + "'");
    }
    return std::make_unique<PipeChardev>(id, std::move(both), QemuFd(std::move(copy), nullptr));
}

}  // namespace qemu::chr
