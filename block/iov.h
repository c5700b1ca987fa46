// Buffer and I/O vector helpers the drivers share (QEMU's buffer_is_zero, iov_size, qemu_iovec_concat for a part of a
// vector, qemu_iovec_memset and qemu_iovec_is_zero).
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace qemu::block {

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], FreeDeleter>;

// qemu_blockalign: memory at the given alignment (null when out of memory). O_DIRECT needs
// it; page-cache copies run measurably faster from and into page-aligned buffers too.
inline AlignedBuffer aligned_buffer(size_t align, size_t size)
{
    void* p = nullptr;
    if (posix_memalign(&p, std::max<size_t>(align, sizeof(void*)), std::max<size_t>(size, 1)) != 0) {
        return nullptr;
    }
    return AlignedBuffer(static_cast<uint8_t*>(p));
}

// buffer_is_zero: memcmp against a zero block runs at the C library's vector speed, where a
// byte loop costs several times the CPU on the buffers qemu-img convert scans.
inline bool buffer_is_zero(const uint8_t* data, size_t len)
{
    static constexpr uint8_t kZeroes[4096] = {};
    while (len > 0) {
        size_t now = std::min(len, sizeof kZeroes);
        if (std::memcmp(data, kZeroes, now) != 0) {
            return false;
        }
        data += now;
        len -= now;
    }
    return true;
}

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

// QEMU's iov_from_buf: copies len bytes of buf into the vector from `skip` bytes in
// (stopping at the vector's end).
inline void iov_from_buf(std::span<const iovec> iov, size_t skip, const uint8_t* buf, size_t len)
{
    for (const iovec& v : iov) {
        if (len == 0) {
            return;
        }
        if (skip >= v.iov_len) {
            skip -= v.iov_len;
            continue;
        }
        size_t take = std::min(v.iov_len - skip, len);
        std::memcpy(static_cast<uint8_t*>(v.iov_base) + skip, buf, take);
        buf += take;
        len -= take;
        skip = 0;
    }
}

// QEMU's iov_to_buf: copies len bytes of the vector, from `skip` bytes in, into buf.
inline void iov_to_buf(std::span<const iovec> iov, size_t skip, uint8_t* buf, size_t len)
{
    for (const iovec& v : iov) {
        if (len == 0) {
            return;
        }
        if (skip >= v.iov_len) {
            skip -= v.iov_len;
            continue;
        }
        size_t take = std::min(v.iov_len - skip, len);
        std::memcpy(buf, static_cast<const uint8_t*>(v.iov_base) + skip, take);
        buf += take;
        len -= take;
        skip = 0;
    }
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
        if (!buffer_is_zero(static_cast<const uint8_t*>(v.iov_base), v.iov_len)) {
            return false;
        }
    }
    return true;
}

}  // namespace qemu::block
