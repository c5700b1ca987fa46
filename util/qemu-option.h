// QEMU's "key=value,key2=value2" option syntax (QemuOpts): ",," escapes a comma, the first
// element may be a bare value for an implied key (-chardev socket,... means backend=socket),
// and a bare "flag"/"noflag" is the deprecated short form of flag=on/off.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace qemu {

class QemuOpts {
public:
    // Splits text into key/value pairs. implied_key names the key of a leading bare value.
    static Result<QemuOpts> parse(std::string_view text, std::optional<std::string_view> implied_key = std::nullopt);

    const std::vector<std::pair<std::string, std::string>>& entries() const { return m_entries; }
    // Deprecation warnings met while parsing ("short-form boolean option ..."), for the
    // caller to print with its own location prefix.
    const std::vector<std::string>& warnings() const { return m_warnings; }

    bool has(std::string_view key) const;
    // The last value given for key (QEMU lets a later one win).
    std::optional<std::string> get(std::string_view key) const;
    Result<std::optional<bool>> get_bool(std::string_view key) const;
    Result<std::optional<uint64_t>> get_number(std::string_view key) const;
    Result<std::optional<uint64_t>> get_size(std::string_view key) const;

    // Fails with "Invalid parameter 'x'" on the first key not in allowed.
    Result<void> check_allowed(std::span<const std::string_view> allowed) const;

private:
    std::vector<std::pair<std::string, std::string>> m_entries;
    std::vector<std::string> m_warnings;
};

// QEMU's qapi_bool_parse: on/yes/true/y and off/no/false/n.
Result<bool> parse_option_bool(std::string_view name, std::string_view value);
// qemu_strtou64 base 0 ("Parameter 'x' expects a number").
Result<uint64_t> parse_option_number(std::string_view name, std::string_view value);
// qemu_strtosz with B/K/M/G/T/P/E suffixes (default unit bytes).
Result<uint64_t> parse_option_size(std::string_view name, std::string_view value);

// Whether a tool's --object argument asks for the list of object types: its first item is
// a bare "help" or "?" ("help", "help,id=x"; not "qom-type=help", which QEMU's tools refuse).
bool object_option_lists_types(std::string_view arg);

// Identifiers as QEMU's id_wellformed: a letter, then letters, digits, '-', '.', '_'.
bool id_wellformed(std::string_view id);

}  // namespace qemu
