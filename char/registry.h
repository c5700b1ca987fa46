// ChardevRegistry: the chardevs of one emulator instance, by id, in creation order. The
// command line, -qmp/-serial legacy syntax and the QMP chardev-* commands all go through it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "char/chardev.h"
#include "char/context.h"

namespace qemu::chr {

class ChardevRegistry {
public:
    // The default reporter writes to stderr as QEMU would without a location prefix
    // ("info: ..." and "PROG: ..." with g_get_prgname()); the CLI replaces it to add
    // "-chardev ARG: " where QEMU does.
    ChardevRegistry();
    explicit ChardevRegistry(ChardevReporter reporter);
    // Chardevs are destroyed newest first.
    ~ChardevRegistry();
    ChardevRegistry(const ChardevRegistry&) = delete;
    ChardevRegistry& operator=(const ChardevRegistry&) = delete;

    void set_reporter(ChardevReporter reporter) { m_ctx.reporter = std::move(reporter); }
    // The fd sets backends open /dev/fdset/N from; the registry must outlive every chardev.
    void set_open_context(OpenContext open) { m_ctx.open = open; }

    // Creates and registers a chardev (qemu_chardev_add). A taken id fails with
    // "Chardev with id 'X' already exists"; other failures carry the backend's text
    // ("Failed to connect to '/p': Connection refused").
    Result<Chardev*> add(const ChardevOptions& options);
    // chardev-add: as add(), but every failure except the duplicate id is prefixed with
    // "Failed to add chardev 'X': ".
    Result<Chardev*> add_for_qmp(const ChardevOptions& options);
    // -chardev: QEMU's option layer rejects a taken id first, with "Duplicate ID 'X' for
    // chardev"; then as add().
    Result<Chardev*> add_from_cli(const ChardevOptions& options);
    // -serial/-qmp/-monitor legacy filenames: "chardev:ID" finds ID (or fails with
    // `chardev "ID" not found`), anything else is add().
    Result<Chardev*> add_legacy(const ChardevOptions& options);

    // chardev-remove: "Chardev 'X' not found", or "Chardev 'X' is busy" while a frontend
    // is attached.
    Result<void> remove(std::string_view id);

    Chardev* find(std::string_view id) const;
    std::vector<Chardev*> list() const;
    // The slave path of a pty chardev ("/dev/pts/N"), for chardev-add's {"pty": ...}.
    std::optional<std::string> pty_path(std::string_view id) const;

    // query-chardev-backends, "memory" included, in QEMU 7.2's order (its help list reversed).
    static std::vector<std::string_view> backend_names();

private:
    ChardevContext m_ctx;
    std::vector<std::unique_ptr<Chardev>> m_chardevs;
};

}  // namespace qemu::chr
