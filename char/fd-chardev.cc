// The read loop and writes shared by stdio, file, pipe and pty.
#include "char/fd-chardev.h"

#include <glib-unix.h>
#include <unistd.h>

#include <array>

#include "char/backend.h"

namespace qemu::chr {

namespace {
constexpr size_t kReadChunk = 4096;
}

FdChardev::FdChardev(std::string id, QemuFd in, QemuFd out)
    : Chardev(std::move(id)), m_in(std::move(in)), m_out(std::move(out))
{
}

FdChardev::FdChardev(std::string id, UniqueFd in, UniqueFd out)
    : FdChardev(std::move(id), QemuFd(std::move(in), nullptr), QemuFd(std::move(out), nullptr))
{
}

FdChardev::~FdChardev()
{
    stop_reading();
}

Result<size_t> FdChardev::write_all(std::span<const uint8_t> data)
{
    if (!m_out) {
        return data.size();
    }
    return write_fd_fully(m_out.get(), data, false);
}

void FdChardev::accept_input()
{
    if (!m_in || m_input_done || m_watch != 0 || frontend_can_read() == 0) {
        return;
    }
    m_watch = g_unix_fd_add(m_in.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), on_readable, this);
}

void FdChardev::stop_reading()
{
    if (m_watch != 0) {
        g_source_remove(m_watch);
        m_watch = 0;
    }
}

void FdChardev::input_hangup()
{
    m_input_done = true;
    frontend_event(ChardevEvent::Closed);
}

gboolean FdChardev::on_readable(gint fd, GIOCondition, gpointer opaque)
{
    auto* self = static_cast<FdChardev*>(opaque);
    size_t want = self->frontend_can_read();
    if (want == 0) {
        // Suspended until the frontend calls accept_input().
        self->m_watch = 0;
        return G_SOURCE_REMOVE;
    }
    std::array<uint8_t, kReadChunk> buf;
    ssize_t n = ::read(fd, buf.data(), std::min(want, buf.size()));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        self->m_watch = 0;
        self->input_hangup();
        return G_SOURCE_REMOVE;
    }
    self->frontend_read(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    return G_SOURCE_CONTINUE;
}

}  // namespace qemu::chr
