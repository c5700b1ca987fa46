// Size parsing and printing for qemu-img (see img-size.h).
#include "tools/qemu-img/img-size.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tools/qemu-img/img-report.h"

namespace qemu::img {

namespace {

// The multiplier of a unit letter, or 0 if c is not one.
uint64_t unit_multiplier(char c)
{
    switch (std::tolower(static_cast<unsigned char>(c))) {
    case 'b':
        return 1;
    case 'k':
        return uint64_t{1} << 10;
    case 'm':
        return uint64_t{1} << 20;
    case 'g':
        return uint64_t{1} << 30;
    case 't':
        return uint64_t{1} << 40;
    case 'p':
        return uint64_t{1} << 50;
    case 'e':
        return uint64_t{1} << 60;
    default:
        return 0;
    }
}

// strtoull in the given base with qemu_strtou64's rules: something must be parsed and
// overflow is ERANGE. Returns the end position in pos.
std::expected<uint64_t, int> parse_u64(const std::string& text, int base, size_t& pos)
{
    errno = 0;
    char* end = nullptr;
    unsigned long long value = std::strtoull(text.c_str(), &end, base);
    if (end == text.c_str()) {
        return std::unexpected(EINVAL);
    }
    pos = static_cast<size_t>(end - text.c_str());
    if (errno == ERANGE) {
        return std::unexpected(ERANGE);
    }
    return static_cast<uint64_t>(value);
}

}  // namespace

std::expected<ParsedSize, int> parse_size(std::string_view view)
{
    std::string text(view);
    size_t pos = 0;
    ParsedSize result;
    uint64_t whole = TRY(parse_u64(text, 10, pos));
    // strtoull happily negates "-5"; a size never has a sign of that kind.
    if (text.substr(0, pos).find('-') != std::string::npos) {
        return std::unexpected(EINVAL);
    }
    bool hex = false;
    // 64.64 fixed point fraction, so that 1.5k is exact.
    unsigned __int128 fraction = 0;
    if (whole == 0 && pos < text.size() && (text[pos] == 'x' || text[pos] == 'X')) {
        whole = TRY(parse_u64(text, 16, pos));
        if (pos < text.size() && text[pos] == '.') {
            return std::unexpected(EINVAL);
        }
        hex = true;
    } else if (pos < text.size() && text[pos] == '.') {
        const char* start = text.c_str() + pos;
        char* end = nullptr;
        errno = 0;
        double value = std::strtod(start, &end);
        if (end == start || errno != 0 || !std::isfinite(value)) {
            // "1.k": a bare point with nothing after it is allowed.
            pos += 1;
        } else {
            std::string_view digits(start, static_cast<size_t>(end - start));
            if (digits.find_first_of("eE") != std::string_view::npos) {
                return std::unexpected(EINVAL);
            }
            pos += digits.size();
            long double scaled = static_cast<long double>(value) * 18446744073709551616.0L;
            if (scaled >= 18446744073709551616.0L) {
                scaled = 18446744073709551615.0L;
            }
            fraction = static_cast<uint64_t>(scaled);
        }
    }
    uint64_t multiplier = pos < text.size() ? unit_multiplier(text[pos]) : 0;
    if (multiplier != 0) {
        result.hex_with_suffix = hex;
        pos++;
    } else {
        multiplier = 1;
    }
    if (pos != text.size()) {
        return std::unexpected(EINVAL);
    }
    if (multiplier == 1) {
        // A fraction of a byte makes no sense: a unit is required with one.
        if (fraction != 0) {
            return std::unexpected(EINVAL);
        }
        result.value = whole;
        return result;
    }
    unsigned __int128 total = static_cast<unsigned __int128>(whole) * multiplier;
    unsigned __int128 part = fraction * multiplier;
    // Round the fractional part half up.
    total += (part >> 64) + ((part >> 63) & 1);
    if (total >> 64) {
        return std::unexpected(ERANGE);
    }
    result.value = static_cast<uint64_t>(total);
    return result;
}

Result<int64_t> cvtnum(std::string_view name, std::string_view value, int64_t min, int64_t max)
{
    auto parsed = parse_size(value);
    if (!parsed && parsed.error() != ERANGE) {
        return make_error("Invalid " + std::string(name) + " specified. You may use k, M, G, T, P or E suffixes for\n" +
            std::string(kProgramName) + ": kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
    }
    if (!parsed || parsed->value > static_cast<uint64_t>(max) || static_cast<int64_t>(parsed->value) < min) {
        return make_error("Invalid " + std::string(name) + " specified. Must be between " + std::to_string(min) +
            " and " + std::to_string(max) + ".");
    }
    if (parsed->hex_with_suffix) {
        warn_report("Using a multiplier suffix on hex numbers is deprecated: " + std::string(value));
    }
    return static_cast<int64_t>(parsed->value);
}

std::string size_to_str(uint64_t bytes)
{
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int unit = 0;
    double scale = 1;
    // The next unit is used as soon as the value reaches 1000 of the current one.
    while (unit < 6 && static_cast<double>(bytes) >= 1000.0 * scale) {
        scale *= 1024;
        unit++;
    }
    char text[64];
    std::snprintf(text, sizeof(text), "%0.3g %s", static_cast<double>(bytes) / scale, kUnits[unit]);
    return text;
}

}  // namespace qemu::img
