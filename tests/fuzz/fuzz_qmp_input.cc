// libFuzzer target for the QMP input path: arbitrary bytes, in fuzzer-chosen chunks, reach a
// real QmpMonitor (owned by a Vm) through an in-memory chardev, after the greeting went out.
//
// Input layout: byte 0 bit 0 = negotiate capabilities first; byte 1 seeds the chunk sizes;
// the rest is what the client sends. Checked for every input: each message the monitor
// writes is one line of valid JSON ending in CRLF, and is an object with exactly one of
// "return", "error", "event" or "QMP".
//
// Nothing here may reach the host: the chardev is in memory, no fds can arrive with it,
// and the commands that would open files or sockets (chardev-add, chardev-change) are
// disabled on the Vm, so they answer "Command X has been disabled".
#include <glib.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "char/chardev.h"
#include "monitor/qmp.h"
#include "qobject/json.h"
#include "system/qtest-clock.h"
#include "system/throttle-timers.h"
#include "system/vm.h"

namespace {

using qemu::JsonValue;

void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

class FuzzChardev : public qemu::chr::Chardev {
public:
    FuzzChardev() : Chardev("fuzz") { }
    std::string_view driver() const override { return "fuzz"; }
    std::string filename() const override { return "fuzz"; }
    bool is_open() const override { return true; }
    qemu::Result<size_t> write_all(std::span<const uint8_t> data) override
    {
        output.append(reinterpret_cast<const char*>(data.data()), data.size());
        return data.size();
    }
    void deliver(std::span<const uint8_t> bytes) { frontend_read(bytes); }

    std::string output;
};

// Runs what the monitor or the chardev queued on the main loop (the deferred Opened).
void run_pending_main_loop()
{
    for (int i = 0; i < 100 && g_main_context_iteration(nullptr, false); ++i) { }
}

// Checks and removes every complete line in out; returns how many messages it held.
size_t check_output(std::string& out)
{
    size_t count = 0;
    size_t start = 0;
    for (size_t nl = out.find('\n'); nl != std::string::npos; nl = out.find('\n', start)) {
        std::string_view line(out.data() + start, nl - start);
        check(line.ends_with('\r'));
        line.remove_suffix(1);
        auto parsed = qemu::json_parse(line);
        check(parsed.has_value());
        check(parsed->is_object());
        int kinds = 0;
        for (const char* key : {"return", "error", "event", "QMP"}) {
            kinds += parsed->contains(key) ? 1 : 0;
        }
        check(kinds == 1);
        if (parsed->contains("error")) {
            const JsonValue& error = (*parsed)["error"];
            check(error.is_object() && error.contains("class") && error["class"].is_string());
            check(error.contains("desc") && error["desc"].is_string());
        }
        ++count;
        start = nl + 1;
    }
    out.erase(0, start);
    return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    const bool negotiate = (data[0] & 1) != 0;
    uint32_t chunk_seed = data[1] | 1u;
    data += 2;
    size -= 2;

    // The chardev outlives the Vm, whose monitors detach from it when destroyed.
    FuzzChardev chardev;
    {
        // I/O limits wait on a clock nothing moves: deterministic, and no request sleeps.
        qemu::VirtualClock clock;
        auto throttle_timers = qemu::make_throttle_timers(&clock);
        qemu::Vm vm;
        vm.block().set_throttle_timers(*throttle_timers);
        // blockdev-create's file driver and blockdev-snapshot-sync (HMP's snapshot_blkdev
        // and the transaction action too) would create and truncate host files by any name.
        vm.disabled_commands = {"chardev-add", "chardev-change", "blockdev-create", "blockdev-snapshot-sync"};
        vm.add_monitor(std::make_unique<qemu::monitor::QmpMonitor>(vm, chardev, qemu::monitor::QmpMonitorOptions{}));
        run_pending_main_loop();
        // The greeting, and nothing else, was sent on open.
        check(chardev.output.starts_with("{\"QMP\":"));
        check(check_output(chardev.output) == 1);

        if (negotiate) {
            std::string_view request = "{\"execute\": \"qmp_capabilities\"}";
            chardev.deliver(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
            check(chardev.output == "{\"return\": {}}\r\n");
            chardev.output.clear();
        }

        // Chunk sizes 1..64 from a small LCG, so the fuzzer controls them through byte 1.
        size_t offset = 0;
        while (offset < size) {
            chunk_seed = chunk_seed * 1103515245u + 12345u;
            size_t chunk = std::min<size_t>(size - offset, 1 + ((chunk_seed >> 16) % 64));
            chardev.deliver(std::span(data + offset, chunk));
            offset += chunk;
            run_pending_main_loop();
            check_output(chardev.output);
        }
        check_output(chardev.output);
    }
    // Whatever is left is an unterminated line, which the monitor never writes.
    check(chardev.output.empty());
    return 0;
}
