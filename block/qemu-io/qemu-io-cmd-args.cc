// The argument and buffer helpers qemu-io's commands share (see qemu-io-cmds.h): usage
// lines, offsets and lengths, and iovecs, with QEMU's messages.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "block/qemu-io/qemu-io-cmds.h"

namespace qemu::qemu_io {

int usage(const Command& cmd)
{
    std::printf("%s %s -- %s\n", cmd.name, cmd.args ? cmd.args : "(null)", cmd.oneline);
    return -EINVAL;
}

int error_code(const Error& err)
{
    return err.errno_value ? -err.errno_value : -EIO;
}

bool verify_pattern(std::span<const uint8_t> data, int pattern)
{
    return std::all_of(data.begin(), data.end(), [pattern](uint8_t b) { return b == pattern; });
}

std::optional<Vectored> create_iovec(Session& s, char** argv, int count, int pattern)
{
    std::vector<int64_t> sizes;
    int64_t total = 0;
    for (int i = 0; i < count; ++i) {
        int64_t len = cvtnum(argv[i]);
        if (len < 0) {
            print_cvtnum_err(len, argv[i]);
            return std::nullopt;
        }
        if (len > block::kRequestMaxBytes) {
            std::printf("Argument '%s' exceeds maximum size %" PRIu64 "\n", argv[i],
                static_cast<uint64_t>(block::kRequestMaxBytes));
            return std::nullopt;
        }
        if (total > block::kRequestMaxBytes - len) {
            std::printf("The total number of bytes exceed the maximum size %" PRIu64 "\n",
                static_cast<uint64_t>(block::kRequestMaxBytes));
            return std::nullopt;
        }
        sizes.push_back(len);
        total += len;
    }
    Vectored v;
    v.buffer = std::make_unique<IoBuffer>(total, pattern, s.misalign);
    uint8_t* p = v.buffer->data();
    for (int64_t len : sizes) {
        v.iov.push_back(iovec{p, static_cast<size_t>(len)});
        p += len;
    }
    v.size = total;
    return v;
}

bool parse_offset_length(char** argv, int64_t* offset, int64_t* count, int* ret)
{
    *offset = cvtnum(argv[0]);
    if (*offset < 0) {
        print_cvtnum_err(*offset, argv[0]);
        *ret = static_cast<int>(*offset);
        return false;
    }
    *count = cvtnum(argv[1]);
    if (*count < 0) {
        print_cvtnum_err(*count, argv[1]);
        *ret = static_cast<int>(*count);
        return false;
    }
    return true;
}

}  // namespace qemu::qemu_io
