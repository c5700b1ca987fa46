// The frontend side of Chardev: attaching the one frontend and forwarding backend events
// to it, with Opened deferred to the main loop as qemu_chr_fe_set_handlers does.
#include "char/chardev.h"

#include <glib.h>

namespace qemu::chr {

Chardev::~Chardev()
{
    cancel_pending_open();
}

Result<void> Chardev::attach(ChardevFrontend frontend)
{
    if (m_frontend) {
        return make_error("Device '" + m_id + "' is in use");
    }
    m_frontend = std::move(frontend);
    if (is_open()) {
        // The frontend must not see Opened before attach() returns: it may still be
        // setting itself up, so the event comes from an idle callback.
        m_pending_open_source = g_idle_add(
            [](gpointer opaque) -> gboolean {
                auto* self = static_cast<Chardev*>(opaque);
                self->m_pending_open_source = 0;
                if (self->m_frontend && self->m_frontend->event) {
                    auto callback = self->m_frontend->event;
                    callback(ChardevEvent::Opened);
                }
                // Input was held back so that it cannot overtake Opened.
                self->accept_input();
                return G_SOURCE_REMOVE;
            },
            this);
    }
    frontend_attached();
    return {};
}

void Chardev::detach()
{
    cancel_pending_open();
    m_frontend.reset();
}

void Chardev::cancel_pending_open()
{
    if (m_pending_open_source != 0) {
        g_source_remove(m_pending_open_source);
        m_pending_open_source = 0;
    }
}

size_t Chardev::frontend_can_read() const
{
    // Until the deferred Opened has run, the frontend takes nothing: input (and the end of
    // input) must not reach it before it knows the backend is open.
    if (!m_frontend || !m_frontend->can_read || m_pending_open_source != 0) {
        return 0;
    }
    return m_frontend->can_read();
}

void Chardev::frontend_read(std::span<const uint8_t> data)
{
    if (m_frontend && m_frontend->read) {
        // A copy, because the frontend may detach (destroying its callbacks) while reading.
        auto callback = m_frontend->read;
        callback(data);
    }
}

void Chardev::frontend_event(ChardevEvent event)
{
    if (m_pending_open_source != 0) {
        // The deferred Opened has not run yet: a Closed cancels it (the frontend never
        // saw the connection), an Opened simply replaces it.
        cancel_pending_open();
        if (event == ChardevEvent::Closed) {
            return;
        }
    }
    if (m_frontend && m_frontend->event) {
        // Copy the callback: the frontend may detach itself from inside it.
        auto callback = m_frontend->event;
        callback(event);
    }
}

}  // namespace qemu::chr
