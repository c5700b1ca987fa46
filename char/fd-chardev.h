// FdChardev: the shared body of the backends that are a pair of plain fds (stdio, file,
// pipe, pty). Input is read from the main loop only while the frontend takes bytes;
// output is written synchronously.
#pragma once

#include <glib.h>

#include "char/chardev.h"
#include "util/osdep.h"

namespace qemu::chr {

class FdChardev : public Chardev {
public:
    // Either fd may be invalid: no input is read, or output is dropped.
    FdChardev(std::string id, QemuFd in, QemuFd out);
    // For fds that never come from an fd set (stdio, the pty master).
    FdChardev(std::string id, UniqueFd in, UniqueFd out);
    ~FdChardev() override;

    bool is_open() const override { return true; }
    using Chardev::write_all;
    Result<size_t> write_all(std::span<const uint8_t> data) override;
    void accept_input() override;
    // QEMU's fd-based backends (stdio, file, pipe, pty) can be watched from any GMainContext,
    // so a monitor on one offers "oob" as on a socket.
    bool supports_gcontext() const override { return true; }

protected:
    void frontend_attached() override { accept_input(); }
    // The input reached end of file or failed. The default stops reading and sends Closed,
    // as QEMU's fd chardev does.
    virtual void input_hangup();
    void stop_reading();
    int in_fd() const { return m_in.get(); }
    int out_fd() const { return m_out.get(); }

private:
    static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque);

    // QemuFd so that a duplicate lent by /dev/fdset/N goes back to its set with the chardev.
    QemuFd m_in;
    QemuFd m_out;
    unsigned m_watch = 0;
    bool m_input_done = false;
};

}  // namespace qemu::chr
