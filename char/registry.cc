// The chardev registry and the one table of backends: a backend exists when it is listed
// in kDrivers (for -chardev parsing) and opened in open_backend() (for every path in).
#include "char/registry.h"

#include <glib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ranges>

#include "char/backend.h"

namespace qemu::chr {

namespace {

// "memory" is QEMU's old name for ringbuf and is still accepted. The order is the one
// QEMU 7.2's "-chardev help" prints (its type table's), so ours is that list without the
// backends we lack; query-chardev-backends gives it reversed, as QEMU does.
constexpr std::array<ChardevDriver, 8> kDrivers = {{
    {"stdio", parse_stdio_opts},
    {"ringbuf", parse_ringbuf_opts},
    {"pipe", parse_pipe_opts},
    {"null", parse_null_opts},
    {"socket", parse_socket_opts},
    {"memory", parse_ringbuf_opts},
    {"file", parse_file_opts},
    {"pty", parse_pty_opts},
}};

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
// Clang 16 does not deduce aggregate template arguments (P1816) without a guide.
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

Result<ChardevPtr> open_backend(const ChardevOptions& options, ChardevContext& ctx)
{
    const std::string& id = options.id;
    return std::visit(Overloaded{
                          [&](const NullOptions& o) { return open_null(id, o, ctx); },
                          [&](const SocketOptions& o) { return open_socket(id, o, ctx); },
                          [&](const StdioOptions& o) { return open_stdio(id, o, ctx); },
                          [&](const FileOptions& o) { return open_file(id, o, ctx); },
                          [&](const PipeOptions& o) { return open_pipe(id, o, ctx); },
                          [&](const PtyOptions& o) { return open_pty(id, o, ctx); },
                          [&](const RingbufOptions& o) { return open_ringbuf(id, o, ctx); },
                      },
                      options.backend);
}

void print_with_prgname(std::string_view msg)
{
    const char* prg = g_get_prgname();
    std::fprintf(stderr, "%s%s%.*s\n", prg ? prg : "", prg ? ": " : "", static_cast<int>(msg.size()), msg.data());
}

ChardevReporter stderr_reporter()
{
    return ChardevReporter{
        [](std::string_view msg) { print_with_prgname("info: " + std::string(msg)); },
        [](std::string_view msg) { print_with_prgname(msg); },
        [](std::string_view msg) { std::fprintf(stderr, "%.*s", static_cast<int>(msg.size()), msg.data()); },
    };
}

}  // namespace

const ChardevDriver* find_chardev_driver(std::string_view name)
{
    for (const ChardevDriver& driver : kDrivers) {
        if (driver.name == name) {
            return &driver;
        }
    }
    return nullptr;
}

std::string chardev_help_text()
{
    std::string text = "Available chardev backend types: \n";
    for (const ChardevDriver& driver : kDrivers) {
        text += "  " + std::string(driver.name) + "\n";
    }
    return text;
}

ChardevRegistry::ChardevRegistry() : ChardevRegistry(stderr_reporter()) {}

ChardevRegistry::ChardevRegistry(ChardevReporter reporter)
{
    m_ctx.reporter = std::move(reporter);
}

ChardevRegistry::~ChardevRegistry()
{
    while (!m_chardevs.empty()) {
        m_chardevs.pop_back();
    }
}

Result<Chardev*> ChardevRegistry::add(const ChardevOptions& options)
{
    if (find(options.id)) {
        return make_error("Chardev with id '" + options.id + "' already exists");
    }
    if (options.mux) {
        return make_error("'mux' is not supported by this build");
    }
    if (options.logfile) {
        return make_error("'logfile' is not supported by this build");
    }
    ChardevPtr chr = TRY(open_backend(options, m_ctx));
    m_chardevs.push_back(std::move(chr));
    return m_chardevs.back().get();
}

Result<Chardev*> ChardevRegistry::add_for_qmp(const ChardevOptions& options)
{
    if (find(options.id)) {
        return make_error("Chardev with id '" + options.id + "' already exists");
    }
    auto chr = add(options);
    if (!chr) {
        return std::unexpected(std::move(chr.error().prepend("Failed to add chardev '" + options.id + "': ")));
    }
    return chr;
}

Result<Chardev*> ChardevRegistry::add_from_cli(const ChardevOptions& options)
{
    if (find(options.id)) {
        return make_error("Duplicate ID '" + options.id + "' for chardev");
    }
    return add(options);
}

Result<Chardev*> ChardevRegistry::add_legacy(const ChardevOptions& options)
{
    if (options.refers_to_existing) {
        if (Chardev* chr = find(options.id)) {
            return chr;
        }
        return make_error("chardev \"" + options.id + "\" not found");
    }
    return add(options);
}

Result<void> ChardevRegistry::remove(std::string_view id)
{
    auto it = std::ranges::find_if(m_chardevs, [&](const auto& chr) { return chr->id() == id; });
    if (it == m_chardevs.end()) {
        return make_error("Chardev '" + std::string(id) + "' not found");
    }
    if ((*it)->has_frontend()) {
        return make_error("Chardev '" + std::string(id) + "' is busy");
    }
    m_chardevs.erase(it);
    return {};
}

Chardev* ChardevRegistry::find(std::string_view id) const
{
    for (const auto& chr : m_chardevs) {
        if (chr->id() == id) {
            return chr.get();
        }
    }
    return nullptr;
}

std::vector<Chardev*> ChardevRegistry::list() const
{
    std::vector<Chardev*> out;
    for (const auto& chr : m_chardevs) {
        out.push_back(chr.get());
    }
    return out;
}

std::optional<std::string> ChardevRegistry::pty_path(std::string_view id) const
{
    const Chardev* chr = find(id);
    return chr ? pty_path_of(*chr) : std::nullopt;
}

std::vector<std::string_view> ChardevRegistry::backend_names()
{
    std::vector<std::string_view> names;
    for (const ChardevDriver& driver : kDrivers | std::views::reverse) {
        names.push_back(driver.name);
    }
    return names;
}

}  // namespace qemu::chr
