// The "pty" backend: a new pseudo-terminal master; the guest side is whoever opens the
// slave (/dev/pts/N). Like QEMU we print where it went, and while no slave is open we poll
// once a second instead of spinning on the master's hangup.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>

#include "char/backend.h"
#include "char/fd-chardev.h"

namespace qemu::chr {

namespace {

constexpr unsigned kSlavePollMs = 1000;

bool slave_connected(int master)
{
    pollfd pfd{master, POLLOUT, 0};
    return ::poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

class PtyChardev final : public FdChardev {
public:
    PtyChardev(std::string id, UniqueFd in, UniqueFd out, std::string pts)
        : FdChardev(std::move(id), std::move(in), std::move(out)), m_pts(std::move(pts))
    {
    }
    ~PtyChardev() override
    {
        if (m_timer != 0) {
            g_source_remove(m_timer);
        }
    }
    std::string_view driver() const override { return "pty"; }
    std::string filename() const override { return "pty:" + m_pts; }
    const std::string& pts_path() const { return m_pts; }

    Result<size_t> write_all(std::span<const uint8_t> data) override
    {
        // With nobody on the slave the bytes would pile up in the pty; QEMU drops them.
        if (!slave_connected(out_fd())) {
            return data.size();
        }
        return FdChardev::write_all(data);
    }
    void accept_input() override
    {
        if (m_timer == 0) {
            FdChardev::accept_input();
        }
    }

protected:
    void input_hangup() override
    {
        if (m_timer == 0) {
            m_timer = g_timeout_add(kSlavePollMs, on_timer, this);
        }
    }

private:
    static gboolean on_timer(gpointer opaque)
    {
        auto* self = static_cast<PtyChardev*>(opaque);
        if (!slave_connected(self->in_fd())) {
            return G_SOURCE_CONTINUE;
        }
        self->m_timer = 0;
        self->accept_input();
        return G_SOURCE_REMOVE;
    }

    std::string m_pts;
    unsigned m_timer = 0;
};

}  // namespace

Result<ChardevBackendOptions> parse_pty_opts(const QemuOpts&)
{
    // QEMU 7.2 accepts and ignores "path" for pty; so do we.
    return PtyOptions{};
}

Result<ChardevPtr> open_pty(const std::string& id, const PtyOptions&, ChardevContext& ctx)
{
    UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || grantpt(master.get()) < 0 || unlockpt(master.get()) < 0) {
        return make_errno_error(errno, "Failed to create PTY");
    }
    char name[64];
    if (ptsname_r(master.get(), name, sizeof name) != 0) {
        return make_errno_error(errno, "Failed to create PTY");
    }
    // Raw mode on the slave, so the line discipline neither echoes nor edits the bytes.
    {
        QemuFd slave = TRY(chardev_open_file(ctx, name, O_RDWR | O_NOCTTY));
        termios tio{};
        if (tcgetattr(slave.get(), &tio) == 0) {
            cfmakeraw(&tio);
            tcsetattr(slave.get(), TCSAFLUSH, &tio);
        }
    }
    TRY_VOID(set_fd_nonblocking(master.get(), true));
    UniqueFd out(fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
    if (!out) {
        return make_errno_error(errno, "Failed to create PTY");
    }
    std::string pts = name;
    if (ctx.reporter.print) {
        ctx.reporter.print("char device redirected to " + pts + " (label " + id + ")\n");
    }
    return std::make_unique<PtyChardev>(id, std::move(master), std::move(out), pts);
}

std::optional<std::string> pty_path_of(const Chardev& chr)
{
    if (auto* pty = dynamic_cast<const PtyChardev*>(&chr)) {
        return pty->pts_path();
    }
    return std::nullopt;
}

}  // namespace qemu::chr
