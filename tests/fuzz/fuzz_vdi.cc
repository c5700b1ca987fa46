// libFuzzer target: arbitrary bytes become a vdi image in a memfd, opened through the block
// layer (probed, then as vdi read-write), read in a few places, written (allocating and in
// place), block-status-walked and checked. Opening may fail, but nothing may crash, touch
// memory outside its buffers, or leak memory or descriptors.
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "block/block.h"
#include "block/drivers.h"
#include "util/bswap.h"
#include "util/unique_fd.h"

namespace {

using namespace qemu::block;

uint32_t le32_at(const uint8_t* data, size_t size, size_t at)
{
    return at + 4 > size ? 0 : qemu::load_le32({data, size}, at);
}

int open_fd_count()
{
    int count = 0;
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) {
        return -1;
    }
    while (dirent* entry = readdir(dir)) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

void exercise(BlockNode& node, const uint8_t* data, size_t size)
{
    auto length = node.length();
    if (!length || *length <= 0) {
        return;
    }
    int64_t len = *length;
    // Offsets come from the input's last bytes, so the fuzzer steers them.
    uint64_t seed = 0;
    std::memcpy(&seed, data + size - std::min<size_t>(size, 8), std::min<size_t>(size, 8));
    std::vector<uint8_t> buf(3 * 4096);
    for (int i = 0; i < 3; ++i) {
        int64_t at = static_cast<int64_t>((seed >> (i * 16)) % static_cast<uint64_t>(len)) / 512 * 512;
        int64_t n = std::min<int64_t>(len - at, static_cast<int64_t>(buf.size()));
        (void)node.pread(at, std::span(buf).first(static_cast<size_t>(n)));
    }
    for (int64_t at = 0, steps = 0; at < len && steps < 64; ++steps) {
        auto st = node.block_status(true, at, len - at);
        if (!st || st->bytes <= 0) {
            break;
        }
        at += st->bytes;
    }
    if (!node.read_only()) {
        std::vector<uint8_t> pattern(4096, 0x5A);
        for (int i = 0; i < 2; ++i) {
            int64_t at = static_cast<int64_t>((seed >> (8 + i * 24)) % static_cast<uint64_t>(len)) / 512 * 512;
            int64_t n = std::min<int64_t>(len - at, static_cast<int64_t>(pattern.size()));
            (void)node.pwrite(at, std::span<const uint8_t>(pattern).first(static_cast<size_t>(n)));
        }
    }
    if (node.driver().check) {
        (void)node.driver().check(node, false);
    }
}

void run_one(const uint8_t* data, size_t size)
{
    // A valid header may ask for a map of up to 2 GiB, which QEMU would allocate too; keep
    // each run small rather than let the allocator's limit end the session.
    if (le32_at(data, size, 0x180) > 65536) {
        return;
    }
    qemu::UniqueFd fd(memfd_create("fuzz-vdi", MFD_CLOEXEC));
    if (!fd.valid()) {
        return;
    }
    if (size > 0 && ::write(fd.get(), data, size) != static_cast<ssize_t>(size)) {
        return;
    }
    std::string name = "/proc/self/fd/" + std::to_string(fd.get());
    BlockGraph graph;
    graph.set_warning_sink([](const std::string&) {});
    for (bool read_write : {false, true}) {
        BlockOptions options;
        if (read_write) {
            options.emplace("driver", "vdi");
        }
        auto node = graph.open(name, std::move(options), OpenFlags{.read_write = read_write});
        if (node && (*node)->driver().format_name == "vdi") {
            exercise(**node, data, size);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    int before = open_fd_count();
    run_one(data, size);
    if (open_fd_count() != before) {
        __builtin_trap();  // a descriptor outlived its image
    }
    return 0;
}
