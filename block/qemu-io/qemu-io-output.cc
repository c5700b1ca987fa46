// qemu-io's number parsing and report formats. The report line's shape (including the
// "%05.2f sec" quirk below one second) is what QEMU's iotests filters expect.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "block/qemu-io/qemu-io.h"

namespace qemu::qemu_io {

namespace {

// suffix_mul of qemu_strtosz, with 1024 as the unit.
int64_t suffix_mul(char suffix)
{
    switch (suffix) {
    case 'B':
    case 'b':
        return 1;
    case 'K':
    case 'k':
        return int64_t{1} << 10;
    case 'M':
    case 'm':
        return int64_t{1} << 20;
    case 'G':
    case 'g':
        return int64_t{1} << 30;
    case 'T':
    case 't':
        return int64_t{1} << 40;
    case 'P':
    case 'p':
        return int64_t{1} << 50;
    case 'E':
    case 'e':
        return int64_t{1} << 60;
    }
    return -1;
}

// qemu_strtosz: decimal (or 0x hex, without fraction or suffix), an optional fraction that
// then needs a suffix, an optional suffix; the whole string must be used.
int parse_size(const std::string& text, uint64_t* result)
{
    const char* start = text.c_str();
    if (std::strchr(start, '-')) {
        const char* p = start;
        while (*p == ' ' || *p == '\t') {
            ++p;
        }
        if (*p == '-') {
            return -EINVAL;
        }
    }
    char* end = nullptr;
    errno = 0;
    uint64_t value = std::strtoull(start, &end, 10);
    if (end == start) {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (std::memchr(start, '-', end - start)) {
        return -EINVAL;
    }
    double fraction = 0;
    if (value == 0 && (*end == 'x' || *end == 'X')) {
        errno = 0;
        value = std::strtoull(start, &end, 16);
        if (errno == ERANGE) {
            return -ERANGE;
        }
        if (*end == '.' || suffix_mul(*end) > 0) {
            return -EINVAL;
        }
    } else if (*end == '.') {
        const char* f = end;
        char* fend = nullptr;
        fraction = std::strtod(f, &fend);
        if (fend == f || !std::isfinite(fraction)) {
            end = const_cast<char*>(f) + 1;
            fraction = 0;
        } else if (std::memchr(f, 'e', fend - f) || std::memchr(f, 'E', fend - f)) {
            return -EINVAL;
        } else {
            end = fend;
        }
    }
    int64_t mul = suffix_mul(*end);
    if (mul > 0) {
        ++end;
    } else {
        mul = 1;
    }
    if (*end != '\0') {
        return -EINVAL;
    }
    if (mul == 1) {
        if (fraction != 0) {
            return -EINVAL;
        }
        *result = value;
        return 0;
    }
    unsigned __int128 whole = static_cast<unsigned __int128>(value) * static_cast<uint64_t>(mul);
    // The fraction in 64.64 fixed point, rounded half up, as QEMU computes it.
    auto frac_fixed = static_cast<unsigned __int128>(static_cast<uint64_t>(std::ldexp(fraction, 64)));
    unsigned __int128 frac_part = frac_fixed * static_cast<uint64_t>(mul);
    whole += frac_part >> 64;
    whole += (frac_part >> 63) & 1;
    if (whole >> 64) {
        return -ERANGE;
    }
    *result = static_cast<uint64_t>(whole);
    return 0;
}

}  // namespace

int64_t cvtnum(std::string_view text)
{
    uint64_t value = 0;
    int ret = parse_size(std::string(text), &value);
    if (ret < 0) {
        return ret;
    }
    if (value > static_cast<uint64_t>(INT64_MAX)) {
        return -ERANGE;
    }
    return static_cast<int64_t>(value);
}

void print_cvtnum_err(int64_t rc, std::string_view arg)
{
    std::string a(arg);
    switch (rc) {
    case -EINVAL:
        std::printf("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- %s\n", a.c_str());
        break;
    case -ERANGE:
        std::printf("Parsing error: argument too large -- %s\n", a.c_str());
        break;
    default:
        std::printf("Parsing error: %s\n", a.c_str());
    }
}

std::string cvtstr(double value)
{
    static constexpr struct {
        int shift;
        const char* suffix;
    } kUnits[] = {{60, " EiB"}, {50, " PiB"}, {40, " TiB"}, {30, " GiB"}, {20, " MiB"}, {10, " KiB"}};
    char text[64];
    const char* suffix = " bytes";
    bool done = false;
    for (const auto& unit : kUnits) {
        double scale = std::ldexp(1.0, unit.shift);
        if (value >= scale) {
            std::snprintf(text, sizeof(text) - 4, "%.3f", value / scale);
            suffix = unit.suffix;
            done = true;
            break;
        }
    }
    if (!done) {
        std::snprintf(text, sizeof(text) - 6, "%f", value);
    }
    std::string result(text);
    size_t trim = result.find(".000");
    if (trim != std::string::npos) {
        result.resize(trim);
    }
    return result + suffix;
}

timespec now()
{
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

timespec elapsed_since(const timespec& start)
{
    timespec t = now();
    t.tv_sec -= start.tv_sec;
    t.tv_nsec -= start.tv_nsec;
    if (t.tv_nsec < 0) {
        t.tv_nsec += 1000000000;
        t.tv_sec--;
    }
    return t;
}

namespace {

double tdiv(double value, const timespec& t)
{
    double seconds = static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
    return value / seconds;
}

std::string timestr(const timespec& t, bool verbose)
{
    double frac = static_cast<double>(t.tv_nsec) / 1e9;
    char text[64];
    if (verbose || t.tv_sec) {
        auto secs = static_cast<unsigned>(t.tv_sec);
        std::snprintf(text, sizeof(text), "%u:%02u:%02u.%02u", secs / 3600, (secs % 3600) / 60, secs % 60,
            static_cast<unsigned>(frac * 100));
    } else {
        std::snprintf(text, sizeof(text), "%05.2f sec", frac);
    }
    return text;
}

}  // namespace

void print_report(
    const char* op, const timespec& t, int64_t offset, int64_t count, int64_t total, int cnt, bool machine)
{
    std::string ts = timestr(t, machine);
    if (!machine) {
        std::string s1 = cvtstr(static_cast<double>(total));
        std::string s2 = cvtstr(tdiv(static_cast<double>(total), t));
        std::printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n", op, total, count, offset);
        std::printf(
            "%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1.c_str(), cnt, ts.c_str(), s2.c_str(), tdiv(cnt, t));
    } else {
        std::printf(
            "%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts.c_str(), tdiv(static_cast<double>(total), t), tdiv(cnt, t));
    }
}

void dump_buffer(std::span<const uint8_t> buf, int64_t offset)
{
    for (size_t i = 0; i < buf.size(); i += 16) {
        std::printf("%08" PRIx64 ":  ", static_cast<uint64_t>(offset) + i);
        size_t line = std::min<size_t>(16, buf.size() - i);
        for (size_t j = 0; j < line; ++j) {
            std::printf("%02x ", buf[i + j]);
        }
        std::printf(" ");
        for (size_t j = 0; j < line; ++j) {
            int c = buf[i + j];
            std::printf("%c", std::isalnum(c) ? c : '.');
        }
        std::printf("\n");
    }
}

int parse_pattern(std::string_view arg)
{
    std::string text(arg);
    char* end = nullptr;
    long pattern = std::strtol(text.c_str(), &end, 0);
    if (pattern < 0 || pattern > 0xff || *end != '\0') {
        std::printf("%s is not a valid pattern byte\n", text.c_str());
        return -1;
    }
    return static_cast<int>(pattern);
}

void error_report(std::string_view text)
{
    std::fflush(stdout);
    std::fprintf(stderr, "qemu-io: %.*s\n", static_cast<int>(text.size()), text.data());
}

}  // namespace qemu::qemu_io
