// The "stdio" backend: the process's stdin and stdout. We never put the terminal into raw
// mode, so "signal" is only recorded. QEMU allows a single stdio chardev.
#include <fcntl.h>
#include <unistd.h>

#include "char/backend.h"
#include "char/fd-chardev.h"

namespace qemu::chr {

namespace {

class StdioChardev final : public FdChardev {
public:
    StdioChardev(std::string id, UniqueFd in, UniqueFd out, ChardevContext& ctx)
        : FdChardev(std::move(id), std::move(in), std::move(out)), m_ctx(ctx)
    {
        m_ctx.stdio_in_use = true;
    }
    ~StdioChardev() override { m_ctx.stdio_in_use = false; }
    std::string_view driver() const override { return "stdio"; }
    std::string filename() const override { return "stdio"; }

private:
    ChardevContext& m_ctx;
};

// Our own descriptors for 0 and 1, so closing the chardev leaves the process's stdio alone.
UniqueFd dup_std_fd(int fd)
{
    return UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 3));
}

}  // namespace

Result<ChardevBackendOptions> parse_stdio_opts(const QemuOpts& opts)
{
    StdioOptions stdio;
    stdio.signal = TRY(opts.get_bool("signal"));
    return stdio;
}

Result<ChardevPtr> open_stdio(const std::string& id, const StdioOptions&, ChardevContext& ctx)
{
    if (ctx.stdio_in_use) {
        return make_error("cannot use stdio by multiple character devices");
    }
    return std::make_unique<StdioChardev>(id, dup_std_fd(STDIN_FILENO), dup_std_fd(STDOUT_FILENO), ctx);
}

}  // namespace qemu::chr
