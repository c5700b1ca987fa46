// Reading byte ranges of many small files beneath one directory at once.
//
// The vvfat driver serves a disk read from thousands of host files; one openat2, pread and
// close per file is three system calls each, and on a virtual machine the system call
// itself is most of the cost. BatchReader hands the kernel a batch of open-read-close
// chains in one io_uring submission. Each open yields a direct descriptor, one that never
// enters the process's fd table (so none can leak), and resolves with open_beneath's rules
// (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); a name open_beneath refuses before the kernel
// sees it is never submitted.
//
// Where io_uring is unavailable (an old kernel, kernel.io_uring_disabled, or the fs=deny
// seccomp fallback, which refuses io_uring so that it cannot bypass the filter), and for
// any entry that did not read whole in the ring, the entry is read again the plain way
// (open_beneath, then pread until the end of the file): the results never depend on the
// way taken.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace qemu {

struct BeneathRead {
    std::string_view relative;  // below the directory, as open_beneath takes it
    uint64_t offset = 0;
    std::span<uint8_t> out;
    // After read: the bytes read (fewer than out.size() when the file ends first), or -1
    // when the file could not be opened.
    ssize_t result = -1;
};

class BatchReader {
public:
    BatchReader();
    ~BatchReader();
    BatchReader(const BatchReader&) = delete;
    BatchReader& operator=(const BatchReader&) = delete;

    // Opens each entry's file beneath dirfd with flags (O_RDONLY, O_NONBLOCK allowed; the
    // descriptor is closed again) and reads its range into out.
    void read(int dirfd, std::span<BeneathRead> reads, int flags);

    // Whether batches still go through io_uring (false once it failed as a whole).
    bool batching() const { return m_ring != nullptr; }

private:
    struct Ring;
    void read_in_ring(int dirfd, std::span<BeneathRead> reads, int flags);

    std::unique_ptr<Ring> m_ring;  // null: plain calls only
};

// One entry the plain way: open_beneath, pread until the end of the range or the file.
void read_beneath_plain(int dirfd, BeneathRead& read, int flags);

}  // namespace qemu
