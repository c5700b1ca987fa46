// libFuzzer target: arbitrary bytes on the qtest protocol, fed in chunks whose sizes come
// from the input, to a server over 1 MiB of guest RAM under the qtest accelerator.
// Checked: nothing crashes or leaks; every reply is a whole line; chunking never changes
// the replies (the same bytes fed at once answer the same).
#include <cstdint>
#include <string>
#include <string_view>

#include "system/guest-memory.h"
#include "system/qtest-clock.h"
#include "system/qtest.h"

namespace {

void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

// Reads past the 1 MiB of RAM stay possible; a 256 MiB read per line would make the
// run measure hex encoding (and libFuzzer time it out), not parsing.
constexpr uint64_t kMaxReadSize = uint64_t{2} << 20;

std::string run(std::string_view bytes, size_t chunk)
{
    auto memory = qemu::GuestMemory::create(1 << 20);
    check(memory.has_value());
    qemu::VirtualClock clock;
    qemu::QtestServer server(*memory, clock, qemu::QtestServerOptions{.qtest_accel = true, .log = "none", .max_read_size = kMaxReadSize});
    std::string replies;
    for (size_t at = 0; at < bytes.size(); at += chunk) {
        replies += server.feed(bytes.substr(at, chunk));
    }
    return replies;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    // The first byte sets the chunk size (1 to 256 bytes); the rest is the stream.
    size_t chunk = size_t{data[0]} + 1;
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string replies = run(bytes, chunk);
    check(replies.empty() || replies.back() == '\n');
    check(replies == run(bytes, bytes.size() + 1));
    return 0;
}
