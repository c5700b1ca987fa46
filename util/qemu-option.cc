// QemuOpts parsing: the option syntax shared by -chardev, -mon, -machine, -add-fd, -drive.
#include "util/qemu-option.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace qemu {

namespace {

// Reads up to the next unescaped delimiter, turning ",," into ",".
std::string take_until(std::string_view text, size_t& pos, char stop_at_equals)
{
    std::string out;
    while (pos < text.size()) {
        char c = text[pos];
        if (c == ',') {
            if (pos + 1 < text.size() && text[pos + 1] == ',') {
                out += ',';
                pos += 2;
                continue;
            }
            break;
        }
        if (stop_at_equals && c == '=') {
            break;
        }
        out += c;
        pos++;
    }
    return out;
}

}  // namespace

Result<QemuOpts> QemuOpts::parse(std::string_view text, std::optional<std::string_view> implied_key)
{
    QemuOpts opts;
    size_t pos = 0;
    bool first = true;
    while (pos < text.size()) {
        std::string key = take_until(text, pos, '=');
        if (pos < text.size() && text[pos] == '=') {
            pos++;
            std::string value = take_until(text, pos, 0);
            opts.m_entries.emplace_back(std::move(key), std::move(value));
        } else if (first && implied_key) {
            opts.m_entries.emplace_back(std::string(*implied_key), std::move(key));
        } else if (!key.empty()) {
            bool on = true;
            std::string name = key;
            if (name.starts_with("no")) {
                name = name.substr(2);
                on = false;
            }
            opts.m_warnings.push_back("short-form boolean option '" + key + "' deprecated\nPlease use " + name +
                                      (on ? "=on" : "=off") + " instead");
            opts.m_entries.emplace_back(std::move(name), on ? "on" : "off");
        }
        first = false;
        if (pos < text.size() && text[pos] == ',') {
            pos++;
        }
    }
    return opts;
}

bool QemuOpts::has(std::string_view key) const
{
    return std::ranges::any_of(m_entries, [&](const auto& e) { return e.first == key; });
}

std::optional<std::string> QemuOpts::get(std::string_view key) const
{
    for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it) {
        if (it->first == key) {
            return it->second;
        }
    }
    return std::nullopt;
}

Result<std::optional<bool>> QemuOpts::get_bool(std::string_view key) const
{
    auto value = get(key);
    if (!value) {
        return std::optional<bool>{};
    }
    return TRY(parse_option_bool(key, *value));
}

Result<std::optional<uint64_t>> QemuOpts::get_number(std::string_view key) const
{
    auto value = get(key);
    if (!value) {
        return std::optional<uint64_t>{};
    }
    return TRY(parse_option_number(key, *value));
}

Result<std::optional<uint64_t>> QemuOpts::get_size(std::string_view key) const
{
    auto value = get(key);
    if (!value) {
        return std::optional<uint64_t>{};
    }
    return TRY(parse_option_size(key, *value));
}

Result<void> QemuOpts::check_allowed(std::span<const std::string_view> allowed) const
{
    for (const auto& [key, value] : m_entries) {
        if (std::ranges::find(allowed, key) == allowed.end()) {
            return make_error("Invalid parameter '" + key + "'");
        }
    }
    return {};
}

Result<bool> parse_option_bool(std::string_view name, std::string_view value)
{
    if (value == "on" || value == "yes" || value == "true" || value == "y") {
        return true;
    }
    if (value == "off" || value == "no" || value == "false" || value == "n") {
        return false;
    }
    return make_error("Parameter '" + std::string(name) + "' expects 'on' or 'off'");
}

Result<uint64_t> parse_option_number(std::string_view name, std::string_view value)
{
    std::string text(value);
    errno = 0;
    char* end = nullptr;
    unsigned long long n = std::strtoull(text.c_str(), &end, 0);
    // Like qemu_strtou64, a leading '-' wraps around instead of failing.
    if (!text.empty() && errno == ERANGE && *end == '\0') {
        return make_error("Value '" + text + "' is too large for parameter '" + std::string(name) + "'");
    }
    if (text.empty() || errno != 0 || *end != '\0') {
        return make_error("Parameter '" + std::string(name) + "' expects a number");
    }
    return static_cast<uint64_t>(n);
}

Result<uint64_t> parse_option_size(std::string_view name, std::string_view value)
{
    auto fail = [&] {
        return make_error("Parameter '" + std::string(name) +
                          "' expects a non-negative number below 2^64\n"
                          "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                          "and exabytes, respectively.");
    };
    std::string text(value);
    if (text.empty() || text[0] == '-' || std::isspace(static_cast<unsigned char>(text[0]))) {
        return fail();
    }
    errno = 0;
    char* end = nullptr;
    unsigned long long whole = std::strtoull(text.c_str(), &end, 0);
    if (errno != 0 || end == text.c_str()) {
        return fail();
    }
    double fraction = 0;
    if (*end == '.') {
        char* frac_end = nullptr;
        fraction = std::strtod(end, &frac_end);
        end = frac_end;
    }
    uint64_t unit = 1;
    if (*end != '\0') {
        switch (std::tolower(static_cast<unsigned char>(*end))) {
        case 'b':
            unit = 1;
            break;
        case 'k':
            unit = uint64_t{1} << 10;
            break;
        case 'm':
            unit = uint64_t{1} << 20;
            break;
        case 'g':
            unit = uint64_t{1} << 30;
            break;
        case 't':
            unit = uint64_t{1} << 40;
            break;
        case 'p':
            unit = uint64_t{1} << 50;
            break;
        case 'e':
            unit = uint64_t{1} << 60;
            break;
        default:
            return fail();
        }
        end++;
    }
    if (*end != '\0') {
        return fail();
    }
    if (whole > UINT64_MAX / unit) {
        return fail();
    }
    long double total = static_cast<long double>(whole) * unit + fraction * unit;
    if (total >= 18446744073709551616.0L) {
        return fail();
    }
    return static_cast<uint64_t>(whole * unit + static_cast<uint64_t>(std::llround(fraction * unit)));
}

bool id_wellformed(std::string_view id)
{
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) {
        return false;
    }
    return std::ranges::all_of(id.substr(1), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

bool object_option_lists_types(std::string_view arg)
{
    std::string_view first = arg.substr(0, arg.find(','));
    return first == "help" || first == "?";
}

}  // namespace qemu
