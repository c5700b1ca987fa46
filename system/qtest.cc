// The qtest line protocol engine (see qtest.h). The target is x86_64: little endian, a
// 64 KiB I/O port space, and under machine "none" no devices, so every port reads as
// all-ones and every QOM path is an unknown device.
#include "system/qtest.h"

#include <glib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdlib>
#include <limits>
#include <utility>

#include "system/guest-memory.h"
#include "system/qtest-clock.h"
#include "util/hex.h"

namespace qemu {

namespace {

std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string strprintf(const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    char* text = g_strdup_vprintf(format, ap);
    va_end(ap);
    std::string result(text);
    g_free(text);
    return result;
}

// QEMU splits on every single space, so "a  b" has an empty word in the middle.
std::vector<std::string_view> split_words(std::string_view line)
{
    std::vector<std::string_view> words;
    if (line.empty()) {
        return words;
    }
    size_t start = 0;
    for (;;) {
        size_t space = line.find(' ', start);
        words.push_back(line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
        if (space == std::string_view::npos) {
            return words;
        }
        start = space + 1;
    }
}

// qemu_strtou64/qemu_strtoul with base 0: 0x.. hex, 0.. octal, decimal; a leading '-'
// wraps around as strtoull does; the whole text must be a number.
std::optional<uint64_t> parse_u64(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    std::string copy(text);
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(copy.c_str(), &end, 0);
    if (errno != 0 || end != copy.c_str() + copy.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<int64_t> parse_i64(std::string_view text)
{
    if (text.empty()) {
        return std::nullopt;
    }
    std::string copy(text);
    char* end = nullptr;
    errno = 0;
    long long value = std::strtoll(copy.c_str(), &end, 0);
    if (errno != 0 || end != copy.c_str() + copy.size()) {
        return std::nullopt;
    }
    return value;
}

std::string fail(std::string_view verb, std::string_view reason)
{
    return strprintf(
        "FAIL %.*s: %.*s", static_cast<int>(verb.size()), verb.data(), static_cast<int>(reason.size()), reason.data());
}

std::string fail_missing(std::string_view verb)
{
    return fail(verb, "missing argument");
}

std::string fail_number(std::string_view verb, std::string_view text)
{
    return fail(verb, "invalid number '" + std::string(text) + "'");
}

// Checks a verb's words as QEMU does: at least min_words of them, then words[1..] parsed as
// numbers into out, in order. Returns the FAIL reply when a check fails.
template <typename Words>
std::optional<std::string> numeric_args(const Words& words, size_t min_words, std::span<uint64_t> out)
{
    if (words.size() < min_words) {
        return fail_missing(words[0]);
    }
    for (size_t i = 0; i < out.size(); i++) {
        std::optional<uint64_t> value = parse_u64(words[i + 1]);
        if (!value) {
            return fail_number(words[0], words[i + 1]);
        }
        out[i] = *value;
    }
    return std::nullopt;
}

// "readq" -> 8, "outw" -> 2: the access width is the verb's last letter.
unsigned width_of(std::string_view verb)
{
    switch (verb.back()) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    default:
        return 8;
    }
}

}  // namespace

// The order of QEMU's if-chain; only the clock verbs depend on the accelerator.
const QtestServer::Verb QtestServer::kVerbs[] = {
    {"irq_intercept_out", &QtestServer::cmd_irq_intercept, false},
    {"irq_intercept_in", &QtestServer::cmd_irq_intercept, false},
    {"set_irq_in", &QtestServer::cmd_set_irq_in, false},
    {"outb", &QtestServer::cmd_out, false},
    {"outw", &QtestServer::cmd_out, false},
    {"outl", &QtestServer::cmd_out, false},
    {"inb", &QtestServer::cmd_in, false},
    {"inw", &QtestServer::cmd_in, false},
    {"inl", &QtestServer::cmd_in, false},
    {"writeb", &QtestServer::cmd_write_sized, false},
    {"writew", &QtestServer::cmd_write_sized, false},
    {"writel", &QtestServer::cmd_write_sized, false},
    {"writeq", &QtestServer::cmd_write_sized, false},
    {"readb", &QtestServer::cmd_read_sized, false},
    {"readw", &QtestServer::cmd_read_sized, false},
    {"readl", &QtestServer::cmd_read_sized, false},
    {"readq", &QtestServer::cmd_read_sized, false},
    {"read", &QtestServer::cmd_read, false},
    {"b64read", &QtestServer::cmd_b64read, false},
    {"write", &QtestServer::cmd_write, false},
    {"memset", &QtestServer::cmd_memset, false},
    {"b64write", &QtestServer::cmd_b64write, false},
    {"endianness", &QtestServer::cmd_endianness, false},
    {"clock_step", &QtestServer::cmd_clock_step, true},
    {"module_load", &QtestServer::cmd_module_load, false},
    {"clock_set", &QtestServer::cmd_clock_set, true},
};

QtestServer::QtestServer(GuestMemory& memory, VirtualClock& clock, QtestServerOptions options)
    : m_memory(memory), m_clock(clock), m_qtest_accel(options.qtest_accel), m_max_read_size(options.max_read_size)
{
    if (!options.log) {
        m_log = stderr;
    } else if (*options.log != "none") {
        m_log = std::fopen(options.log->c_str(), "w+");
        m_owns_log = m_log != nullptr;
    }
}

QtestServer::~QtestServer()
{
    detach();
    if (m_owns_log) {
        std::fclose(m_log);
    }
}

void QtestServer::detach()
{
    if (auto detach_frontend = std::exchange(m_detach_frontend, nullptr)) {
        detach_frontend();
    }
    m_chardev = nullptr;
}

std::string QtestServer::handle_line(std::string_view line)
{
    Words words = split_words(line);
    log_received(words);

    std::string reply;
    std::string_view verb = words.empty() ? std::string_view() : words[0];
    const Verb* found = nullptr;
    for (const Verb& candidate : kVerbs) {
        if (candidate.name == verb && (!candidate.needs_qtest_accel || m_qtest_accel)) {
            found = &candidate;
            break;
        }
    }
    if (found) {
        reply = (this->*found->handler)(words);
    } else {
        reply = "FAIL Unknown command '" + std::string(verb) + "'";
    }
    log_sent(reply);
    return reply;
}

std::string QtestServer::feed(std::span<const uint8_t> bytes)
{
    m_inbuf.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::string replies;
    size_t start = 0;
    for (size_t end; (end = m_inbuf.find('\n', start)) != std::string::npos; start = end + 1) {
        replies += handle_line(std::string_view(m_inbuf).substr(start, end - start));
        replies += '\n';
    }
    m_inbuf.erase(0, start);
    return replies;
}

void QtestServer::connection_opened()
{
    m_epoch = std::chrono::steady_clock::now();
    m_opened = true;
    log_printf("[I %.06f] OPENED\n", elapsed_seconds());
}

void QtestServer::connection_closed()
{
    m_opened = false;
    log_printf("[I +%.06f] CLOSED\n", elapsed_seconds());
    // QEMU keeps a partial line across connections; a new client should not inherit the
    // fragment its predecessor left, so it is dropped here.
    m_inbuf.clear();
}

// ---- log ----

double QtestServer::elapsed_seconds() const
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_epoch).count();
}

void QtestServer::log_printf(const char* format, ...)
{
    if (!m_log) {
        return;
    }
    va_list ap;
    va_start(ap, format);
    std::vfprintf(m_log, format, ap);
    va_end(ap);
    std::fflush(m_log);
}

void QtestServer::log_received(const Words& words)
{
    if (!m_log) {
        return;
    }
    std::string text = strprintf("[R +%.06f]", elapsed_seconds());
    for (std::string_view word : words) {
        text += ' ';
        text += word;
    }
    log_printf("%s\n", text.c_str());
}

void QtestServer::log_sent(std::string_view line)
{
    // As in QEMU, replies are logged only while a client is connected.
    if (m_opened) {
        log_printf("[S +%.06f] %.*s\n", elapsed_seconds(), static_cast<int>(line.size()), line.data());
    }
}

// ---- verbs ----

std::string QtestServer::cmd_irq_intercept(const Words& words)
{
    if (words.size() < 2) {
        return fail_missing(words[0]);
    }
    // Machine "none" has no devices, so no QOM path names one.
    return "FAIL Unknown device";
}

std::string QtestServer::cmd_set_irq_in(const Words& words)
{
    if (words.size() < 5) {
        return fail_missing(words[0]);
    }
    return "FAIL Unknown device";
}

std::string QtestServer::cmd_out(const Words& words)
{
    if (words.size() < 3) {
        return fail_missing(words[0]);
    }
    std::optional<uint64_t> port = parse_u64(words[1]);
    if (!port) {
        return fail_number(words[0], words[1]);
    }
    if (!parse_u64(words[2])) {
        return fail_number(words[0], words[2]);
    }
    if (*port > 0xffff) {
        return fail(words[0], strprintf("port 0x%" PRIx64 " is above 0xffff", *port));
    }
    // No device listens on any port; the write goes nowhere.
    return "OK";
}

std::string QtestServer::cmd_in(const Words& words)
{
    std::array<uint64_t, 1> args;
    if (auto failed = numeric_args(words, 2, args)) {
        return *failed;
    }
    auto [port] = args;
    if (port > 0xffff) {
        return fail(words[0], strprintf("port 0x%" PRIx64 " is above 0xffff", port));
    }
    // An unassigned port reads as all-ones in the access width.
    unsigned width = width_of(words[0]);
    uint32_t value = width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
    return strprintf("OK 0x%04x", value);
}

std::string QtestServer::cmd_write_sized(const Words& words)
{
    std::array<uint64_t, 2> args;
    if (auto failed = numeric_args(words, 3, args)) {
        return *failed;
    }
    auto [addr, value] = args;
    unsigned width = width_of(words[0]);
    uint8_t bytes[8];
    for (unsigned i = 0; i < width; i++) {
        bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    }
    m_memory.write(addr, std::span<const uint8_t>(bytes, width));
    return "OK";
}

std::string QtestServer::cmd_read_sized(const Words& words)
{
    std::array<uint64_t, 1> args;
    if (auto failed = numeric_args(words, 2, args)) {
        return *failed;
    }
    auto [addr] = args;
    unsigned width = width_of(words[0]);
    uint8_t bytes[8];
    m_memory.read(addr, std::span<uint8_t>(bytes, width));
    uint64_t value = 0;
    for (unsigned i = 0; i < width; i++) {
        value |= uint64_t{bytes[i]} << (8 * i);
    }
    return strprintf("OK 0x%016" PRIx64, value);
}

std::string QtestServer::cmd_read(const Words& words)
{
    std::array<uint64_t, 2> args;
    if (auto failed = numeric_args(words, 3, args)) {
        return *failed;
    }
    auto [addr, len] = args;
    if (len == 0) {
        return fail(words[0], "size must not be zero");
    }
    if (len > m_max_read_size) {
        return fail(words[0], strprintf("size %" PRIu64 " is too large", len));
    }
    std::vector<uint8_t> data(len);
    m_memory.read(addr, data);
    static const char kHex[] = "0123456789abcdef";
    constexpr std::string_view kPrefix = "OK 0x";
    std::string reply(kPrefix.size() + 2 * data.size(), '\0');
    kPrefix.copy(reply.data(), kPrefix.size());
    char* out = reply.data() + kPrefix.size();
    for (uint8_t byte : data) {
        *out++ = kHex[byte >> 4];
        *out++ = kHex[byte & 0xf];
    }
    return reply;
}

std::string QtestServer::cmd_b64read(const Words& words)
{
    std::array<uint64_t, 2> args;
    if (auto failed = numeric_args(words, 3, args)) {
        return *failed;
    }
    auto [addr, len] = args;
    if (len > m_max_read_size) {
        return fail(words[0], strprintf("size %" PRIu64 " is too large", len));
    }
    std::vector<uint8_t> data(len);
    m_memory.read(addr, data);
    // A zero-length read gives "OK " with the trailing space, as QEMU does.
    char* encoded = g_base64_encode(data.data(), data.size());
    std::string reply = std::string("OK ") + encoded;
    g_free(encoded);
    return reply;
}

std::string QtestServer::cmd_write(const Words& words)
{
    std::array<uint64_t, 2> args;
    if (auto failed = numeric_args(words, 4, args)) {
        return *failed;
    }
    auto [addr, len] = args;
    std::string_view hex = words[3];
    if (hex.size() < 3) {
        return "ERR invalid argument size";
    }
    // The data is "0x" then two digits a byte; a trailing odd digit is ignored and bytes
    // beyond the data are written as zero.
    uint64_t given = (hex.size() - 2) / 2;
    std::vector<uint8_t> data(std::min(given, len));
    for (size_t i = 0; i < data.size(); i++) {
        int high = hex_digit_value(hex[2 + 2 * i]);
        int low = hex_digit_value(hex[3 + 2 * i]);
        if (high < 0 || low < 0) {
            return fail(words[0], "invalid hex digit in data");
        }
        data[i] = static_cast<uint8_t>(high << 4 | low);
    }
    m_memory.write(addr, data);
    m_memory.fill(addr + data.size(), len - data.size(), 0);
    return "OK";
}

std::string QtestServer::cmd_memset(const Words& words)
{
    std::array<uint64_t, 3> args;
    if (auto failed = numeric_args(words, 4, args)) {
        return *failed;
    }
    auto [addr, len, pattern] = args;
    m_memory.fill(addr, len, static_cast<uint8_t>(pattern));
    return "OK";
}

std::string QtestServer::cmd_b64write(const Words& words)
{
    std::array<uint64_t, 2> args;
    if (auto failed = numeric_args(words, 4, args)) {
        return *failed;
    }
    auto [addr, len] = args;
    if (words[3].size() < 3) {
        return "ERR invalid argument size";
    }
    std::string text(words[3]);
    gsize decoded_len = 0;
    guchar* decoded = g_base64_decode(text.c_str(), &decoded_len);
    if (decoded_len != len && m_opened) {
        log_printf("[S +%.06f] b64write: data length mismatch (told %" PRIu64 ", found %zu)\n", elapsed_seconds(), len,
            static_cast<size_t>(decoded_len));
    }
    // QEMU writes SIZE bytes of its decode buffer even when the data was shorter, which
    // leaks leftover input text into guest memory; the missing bytes are zero here.
    uint64_t used = std::min<uint64_t>(decoded_len, len);
    m_memory.write(addr, std::span<const uint8_t>(decoded, used));
    m_memory.fill(addr + used, len - used, 0);
    g_free(decoded);
    return "OK";
}

std::string QtestServer::cmd_endianness(const Words&)
{
    return "OK little";
}

std::string QtestServer::cmd_clock_step(const Words& words)
{
    int64_t old_ns = m_clock.now_ns();
    int64_t step_ns;
    if (words.size() >= 2) {
        std::optional<int64_t> parsed = parse_i64(words[1]);
        if (!parsed) {
            return fail_number(words[0], words[1]);
        }
        step_ns = *parsed;
    } else {
        std::optional<int64_t> deadline = m_clock.next_deadline();
        if (!deadline) {
            return "FAIL cannot advance clock to the next deadline because there is no pending deadline";
        }
        step_ns = std::max<int64_t>(*deadline - old_ns, 0);
    }
    int64_t new_ns = m_clock.step(step_ns);
    if (new_ns > old_ns) {
        return strprintf("OK %" PRIi64, new_ns);
    }
    return "FAIL could not advance time";
}

std::string QtestServer::cmd_clock_set(const Words& words)
{
    if (words.size() < 2) {
        return fail_missing(words[0]);
    }
    std::optional<int64_t> target = parse_i64(words[1]);
    if (!target) {
        return fail_number(words[0], words[1]);
    }
    int64_t new_ns = m_clock.advance_to(*target);
    return strprintf("%s %" PRIi64, new_ns == *target ? "OK" : "FAIL", new_ns);
}

std::string QtestServer::cmd_module_load(const Words& words)
{
    if (words.size() < 3) {
        return fail_missing(words[0]);
    }
    // This port is built without loadable modules.
    return "FAIL";
}

}  // namespace qemu
