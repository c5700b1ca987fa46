// Hooks the qtest server to its Chardev: the server is the chardev's one frontend, takes
// input in chunks, answers each complete line, and logs connects and disconnects.
#include "char/chardev.h"
#include "system/qtest.h"

namespace qemu {

Result<void> QtestServer::attach(chr::Chardev& chardev)
{
    chr::ChardevFrontend frontend;
    frontend.can_read = [] { return size_t{1024}; };
    frontend.read = [this](std::span<const uint8_t> bytes) {
        std::string replies = feed(bytes);
        if (!replies.empty() && m_chardev) {
            // A write to a peer that went away is dropped, like QEMU's write_all.
            (void)m_chardev->write_all(std::string_view(replies));
        }
    };
    frontend.event = [this](chr::ChardevEvent event) {
        if (event == chr::ChardevEvent::Opened) {
            connection_opened();
        } else {
            connection_closed();
        }
    };
    TRY_VOID(chardev.attach(std::move(frontend)));
    m_chardev = &chardev;
    m_detach_frontend = [&chardev] { chardev.detach(); };
    return {};
}

}  // namespace qemu
