// libFuzzer target: the input is a VHD image file. It is put in a memfd and opened through
// the block layer with driver vpc (read-write, so writes allocate blocks and move the
// footer); a few reads, a write and block-status queries follow. Checked for every input:
// nothing crashes or trips a sanitizer (ASan's leak check included), the memfd is the only
// fd and is closed, block status always makes progress, and every failure has a message.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "tests/fuzz/fuzz-support.h"

namespace {

using namespace qemu::block;

using qemu::fuzz::check;
using qemu::fuzz::open_fd_count;

// Block sizes up to 2 GiB are legal, and each allocation grows the (sparse) memfd by one;
// past this size the write is skipped to keep runs fast.
constexpr int64_t kMaxWriteBlockSize = int64_t{64} << 20;

void exercise(BlockBackend& blk, const uint8_t* data, size_t size)
{
    auto length = blk.length();
    check(length.has_value());
    if (*length <= 0) {
        return;
    }
    std::vector<uint8_t> buf(4096);
    int64_t last = (*length - 1) / 512 * 512;
    // Reads at the start, the middle, the last sector, and one crossing a 2 MiB boundary.
    for (int64_t at : {int64_t{0}, *length / 2 / 512 * 512, last, int64_t{2 << 20} - 512}) {
        if (at < 0 || at >= *length) {
            continue;
        }
        size_t len = static_cast<size_t>(std::min<int64_t>(4096, *length - at));
        auto read = blk.pread(at, std::span(buf).first(len));
        check(read || !read.error().desc.empty());
    }
    BlockNode& root = blk.root();
    for (int64_t at = 0; at < *length && at < (int64_t{64} << 20);) {
        auto status = root.block_status(true, at, *length - at);
        if (!status) {
            break;
        }
        check(status->bytes > 0);
        at += status->bytes;
    }
    // A write somewhere chosen by the input, unless the image is big enough to grow the
    // file past what a test should create.
    uint64_t seed = 0;
    std::memcpy(&seed, data, std::min(size, sizeof(seed)));
    int64_t at = static_cast<int64_t>(seed % static_cast<uint64_t>(*length)) / 512 * 512;
    size_t len = static_cast<size_t>(std::min<int64_t>(1024, *length - at));
    std::vector<uint8_t> pattern(len, 0x5a);
    auto info = root.info();
    if (info && info->cluster_size > kMaxWriteBlockSize) {
        return;
    }
    auto wrote = blk.pwrite(at, pattern);
    if (wrote) {
        // No read-back comparison: a fuzzed table may map two blocks onto one place, where the
        // second block's bitmap lands on the first block's data, exactly as in QEMU.
        std::vector<uint8_t> back(len);
        auto read = blk.pread(at, back);
        check(read.has_value() || !read.error().desc.empty());
    } else {
        check(!wrote.error().desc.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    int fds_before = open_fd_count();
    int fd = memfd_create("fuzz-vpc", MFD_CLOEXEC);
    check(fd >= 0);
    check(::write(fd, data, size) == static_cast<ssize_t>(size));
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    {
        BlockGraph graph;
        auto blk = BlockBackend::open(
            graph, path, {{"driver", "vpc"}, {"file.locking", "off"}}, {.flags = {.read_write = true}});
        if (blk) {
            exercise(**blk, data, size);
        } else {
            check(!blk.error().desc.empty());
        }
    }
    ::close(fd);
    check(open_fd_count() == fds_before);
    return 0;
}
