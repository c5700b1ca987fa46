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

Result<ChardevPtr> open_pipe(const std::string& id, const PipeOptions& opts, ChardevContext&)
{
    auto in = chardev_open_file(opts.path + ".in", O_RDWR);
    auto out = chardev_open_file(opts.path + ".out", O_RDWR);
    if (in && out) {
        return std::make_unique<PipeChardev>(id, std::move(*in), std::move(*out));
    }
    UniqueFd both = TRY(chardev_open_file(opts.path, O_RDWR));
    // The same file description both ways; the second fd is a dup so each side owns one.
    UniqueFd copy(fcntl(both.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
        return make_errno_error(errno, "Could not open '" + opts.path + "'");
    }
    return std::make_unique<PipeChardev>(id, std::move(both), std::move(copy));
}

}  // namespace qemu::chr
