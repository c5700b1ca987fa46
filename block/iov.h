// I/O vector helpers the drivers share (QEMU's iov_size, qemu_iovec_concat for a part of a
// vector, qemu_iovec_memset and qemu_iovec_is_zero).
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace qemu::block {

inline size_t iov_size(std::span<const iovec> iov)
{
    size_t total = 0;
    for (const iovec& v : iov) {
        total += v.iov_len;
    }
    return total;
}

// The part [skip, skip+len) of an I/O vector, as a vector of its own over the same memory.
inline std::vector<iovec> iov_slice(std::span<const iovec> iov, size_t skip, size_t len)
{
    std::vector<iovec> out;
    for (const iovec& v : iov) {
        if (len == 0) {
            break;
        }
        if (skip >= v.iov_len) {
            skip -= v.iov_len;
            continue;
        }
        size_t take = std::min(v.iov_len - skip, len);
        out.push_back(iovec{static_cast<uint8_t*>(v.iov_base) + skip, take});
        len -= take;
        skip = 0;
    }
    return out;
}

inline void iov_zero(std::span<const iovec> iov)
{
    for (const iovec& v : iov) {
        std::memset(v.iov_base, 0, v.iov_len);
    }
}

inline bool iov_is_zero(std::span<const iovec> iov)
{
    for (const iovec& v : iov) {
        auto* bytes = static_cast<const uint8_t*>(v.iov_base);
        if (std::any_of(bytes, bytes + v.iov_len, [](uint8_t b) { return b != 0; })) {
            return false;
        }
    }
    return true;
}

}  // namespace qemu::block
