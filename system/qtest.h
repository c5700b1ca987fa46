// The qtest protocol server: a line protocol that lets a test read and write guest memory
// and I/O ports and move the virtual clock of an emulator started with -qtest. The protocol
// engine (handle_line) is independent of any transport so it can be tested directly; the
// emulator attaches it to the Chardev named by -qtest as that chardev's frontend.
//
// Replies match QEMU 7.2 (system/qtest.c) byte for byte where QEMU answers at all. Where
// QEMU asserts on a malformed request (missing or non-numeric arguments, a port above
// 0xffff, "read" of 0 bytes, an empty line) this server answers "FAIL <verb>: <reason>"
// and keeps going.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace qemu {
namespace chr {
class Chardev;
}

class GuestMemory;
class VirtualClock;

struct QtestServerOptions {
    // -accel qtest: clock_step and clock_set exist only under the qtest accelerator.
    bool qtest_accel = true;
    // -qtest-log: absent = stderr, "none" = no log, otherwise a file (truncated). As in
    // QEMU, a log file that cannot be opened silently disables the log.
    std::optional<std::string> log;
    // The largest read or b64read served; a longer one is refused. The default bounds the
    // reply built in memory; a fuzzer lowers it so each line costs little.
    uint64_t max_read_size = uint64_t{256} << 20;
};

class QtestServer {
public:
    QtestServer(GuestMemory& memory, VirtualClock& clock, QtestServerOptions options);
    ~QtestServer();
    QtestServer(const QtestServer&) = delete;
    QtestServer& operator=(const QtestServer&) = delete;

    // Runs one request (without its "\n") and returns the reply line without "\n".
    std::string handle_line(std::string_view line);

    // The byte-stream side: buffers a partial line, runs every complete one, and returns
    // the replies, each ending in "\n".
    std::string feed(std::span<const uint8_t> bytes);
    std::string feed(std::string_view bytes)
    {
        return feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    }

    // Connection events; they restart the log's timer and are logged as [I ...] lines.
    void connection_opened();
    void connection_closed();

    // Becomes the frontend of chardev (defined in qtest-chardev.cc). The chardev must
    // outlive the server, or detach() must run first; the destructor detaches.
    Result<void> attach(chr::Chardev& chardev);
    void detach();

private:
    using Words = std::vector<std::string_view>;
    using Handler = std::string (QtestServer::*)(const Words&);
    struct Verb {
        std::string_view name;
        Handler handler;
        bool needs_qtest_accel;
    };
    static const Verb kVerbs[];

    std::string cmd_irq_intercept(const Words& words);
    std::string cmd_set_irq_in(const Words& words);
    std::string cmd_out(const Words& words);
    std::string cmd_in(const Words& words);
    std::string cmd_write_sized(const Words& words);
    std::string cmd_read_sized(const Words& words);
    std::string cmd_read(const Words& words);
    std::string cmd_b64read(const Words& words);
    std::string cmd_write(const Words& words);
    std::string cmd_memset(const Words& words);
    std::string cmd_b64write(const Words& words);
    std::string cmd_endianness(const Words& words);
    std::string cmd_clock_step(const Words& words);
    std::string cmd_clock_set(const Words& words);
    std::string cmd_module_load(const Words& words);

    double elapsed_seconds() const;
    void log_printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
    void log_received(const Words& words);
    void log_sent(std::string_view line);

    GuestMemory& m_memory;
    VirtualClock& m_clock;
    bool m_qtest_accel;
    uint64_t m_max_read_size;
    std::FILE* m_log = nullptr;
    bool m_owns_log = false;
    bool m_opened = false;
    std::chrono::steady_clock::time_point m_epoch = std::chrono::steady_clock::now();
    std::string m_inbuf;
    chr::Chardev* m_chardev = nullptr;
    // Set by attach(); kept as a callback so the protocol engine links without the char layer.
    std::function<void()> m_detach_frontend;
};

}  // namespace qemu
