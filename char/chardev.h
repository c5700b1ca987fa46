// The character device layer's core: a Chardev backend delivers bytes and open/close events
// to one frontend (a monitor, the qtest server) and takes its writes. Backends live in
// char/<backend>.cc and are listed in one table in char/registry.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/error.h"
#include "util/unique_fd.h"

namespace qemu::chr {

enum class ChardevEvent { Opened, Closed };

// Callbacks from a backend to its frontend, all run from the GLib main loop.
struct ChardevFrontend {
    // How many bytes the frontend takes now; 0 suspends reading until accept_input().
    std::function<size_t()> can_read;
    std::function<void(std::span<const uint8_t>)> read;
    std::function<void(ChardevEvent)> event;
};

class Chardev {
public:
    explicit Chardev(std::string id) : m_id(std::move(id)) {}
    // Cancels a pending Opened delivery; backends close their fds in their own destructors.
    virtual ~Chardev();
    Chardev(const Chardev&) = delete;
    Chardev& operator=(const Chardev&) = delete;

    const std::string& id() const { return m_id; }
    // The backend's driver name as in -chardev (socket, stdio, ...).
    virtual std::string_view driver() const = 0;
    // query-chardev's "filename" (e.g. "disconnected:unix:/p,server=on", "null").
    virtual std::string filename() const = 0;

    // Attaches the one frontend. If the backend is already open, the frontend receives
    // Opened from the main loop right after (as qemu_chr_fe_set_handlers does).
    Result<void> attach(ChardevFrontend frontend);
    void detach();
    bool has_frontend() const { return m_frontend.has_value(); }
    // Whether a peer is connected (always true for backends that open at creation).
    virtual bool is_open() const = 0;

    // Writes everything, blocking if the peer is slow (qemu_chr_fe_write_all). With no peer
    // connected the data is dropped and the full length reported, as QEMU does.
    virtual Result<size_t> write_all(std::span<const uint8_t> data) = 0;
    Result<size_t> write_all(std::string_view text)
    {
        return write_all(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }

    // The frontend calls this after can_read went from 0 to non-zero.
    virtual void accept_input() {}

    // SCM_RIGHTS support (unix sockets only). Fds received and not yet taken by a command
    // stay pending; a newer batch closes and replaces them; a disconnect closes them.
    virtual bool can_pass_fds() const { return false; }
    // Takes one pending fd and closes any others (qemu_chr_fe_get_msgfd).
    virtual std::optional<UniqueFd> take_msgfd() { return std::nullopt; }
    // Takes all pending fds.
    virtual std::vector<UniqueFd> take_msgfds() { return {}; }

    // Whether a monitor on this backend may run in an I/O thread and so offer "oob".
    virtual bool supports_gcontext() const { return false; }

protected:
    // For backends: forward to the frontend, if any.
    size_t frontend_can_read() const;
    void frontend_read(std::span<const uint8_t> data);
    void frontend_event(ChardevEvent event);
    // Called after a frontend attached, so a backend that stopped reading for lack of a
    // frontend can start again.
    virtual void frontend_attached() {}

private:
    void cancel_pending_open();

    std::string m_id;
    std::optional<ChardevFrontend> m_frontend;
    unsigned m_pending_open_source = 0;
};

// ---- Options, from -chardev, the legacy filename syntax, or QMP chardev-add ----

struct NullOptions {};
struct StdioOptions {
    std::optional<bool> signal;
};
struct FileOptions {
    std::string out;
    std::optional<std::string> in;
    bool append = false;
};
struct PipeOptions {
    std::string path;
};
struct PtyOptions {
    std::optional<std::string> path;  // symlink to create
};
struct RingbufOptions {
    uint64_t size = 65536;
};
struct SocketOptions {
    // Exactly one of path, host(+port) or fd.
    std::optional<std::string> path;
    std::optional<std::string> host;
    std::optional<std::string> port;
    std::optional<std::string> fd;  // a number (or a monitor fd name, resolved by the caller)
    bool abstract = false;
    bool tight = true;
    bool server = false;
    std::optional<bool> wait;  // default: on for CLI servers, off for QMP
    std::optional<bool> nodelay;
    std::optional<int64_t> reconnect_ms;
    std::optional<bool> ipv4;
    std::optional<bool> ipv6;
    std::optional<bool> telnet;
};

using ChardevBackendOptions =
    std::variant<NullOptions, SocketOptions, StdioOptions, FileOptions, PipeOptions, PtyOptions, RingbufOptions>;

// QMP's chardev-add has other defaults than the command line, and the QMP layer applies
// them when it converts a ChardevBackend: for "socket", server defaults to true and wait to
// false (leave wait unset for false), while the CLI defaults server=off and, for a server,
// wait=on. QMP "fd" addresses name a monitor fd; the caller resolves the name and puts the
// number here, and the chardev then owns that fd.
struct ChardevOptions {
    std::string id;
    ChardevBackendOptions backend;
    bool mux = false;
    std::optional<std::string> logfile;
    bool logappend = false;
    // Legacy "chardev:ID": id names an existing chardev and backend is unused.
    bool refers_to_existing = false;
    // Deprecation warnings met while parsing (short-form booleans), for the caller to
    // print with its location prefix as "warning: ...".
    std::vector<std::string> warnings;
};

// -chardev BACKEND,id=ID,... with QEMU's messages ("chardev: no id specified",
// "'X' is not a valid char driver name", "Invalid parameter 'x'").
Result<ChardevOptions> chardev_parse_opts(std::string_view optarg);
// The legacy filename form of -qmp/-serial/-qtest ("unix:P,server=on", "stdio", "tcp::4444").
// On failure QEMU 7.2 prints the error (when desc is not empty: a malformed "tcp:" address
// has no text of its own) and then the caller's own line, e.g. "parse error: FILENAME".
Result<ChardevOptions> chardev_parse_legacy(std::string_view filename, std::string id);

// "-chardev help" (or "?"): the caller prints chardev_help_text() and exits.
bool chardev_help_requested(std::string_view optarg);
// "Available chardev backend types: \n  null\n  ..." as QEMU prints it.
std::string chardev_help_text();

}  // namespace qemu::chr
