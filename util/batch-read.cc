// BatchReader (see batch-read.h).
#include "util/batch-read.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "util/osdep.h"

namespace qemu {

namespace {

// Entries per submission: three queue entries each (open, read, close) and one slot of
// the registered-file table.
constexpr unsigned kBatch = 64;
constexpr unsigned kQueueEntries = 4 * kBatch;

enum Step : uint64_t { kOpen = 0, kRead = 1, kClose = 2 };

uint64_t tag(size_t entry, Step step)
{
    return uint64_t{entry} * 4 + step;
}

}  // namespace

struct BatchReader::Ring {
    io_uring ring{};
    bool ready = false;

    Ring()
    {
        if (io_uring_queue_init(kQueueEntries, &ring, 0) < 0) {
            return;
        }
        if (io_uring_register_files_sparse(&ring, kBatch) < 0) {
            io_uring_queue_exit(&ring);
            return;
        }
        ready = true;
    }
    ~Ring()
    {
        if (ready) {
            io_uring_queue_exit(&ring);  // closes the ring's fd and every direct descriptor
        }
    }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
};

void read_beneath_plain(int dirfd, BeneathRead& read, int flags)
{
    read.result = -1;
    auto fd = open_beneath(dirfd, read.relative, flags, 0, BeneathNames{.name = read.relative, .root = "directory"});
    if (!fd) {
        return;
    }
    size_t done = 0;
    while (done < read.out.size()) {
        ssize_t got = ::pread(fd->get(), read.out.data() + done, read.out.size() - done,
            static_cast<off_t>(read.offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        done += static_cast<size_t>(got);
    }
    read.result = static_cast<ssize_t>(done);
}

BatchReader::BatchReader() : m_ring(std::make_unique<Ring>())
{
    if (!m_ring->ready) {
        m_ring.reset();
    }
}

BatchReader::~BatchReader() = default;

void BatchReader::read(int dirfd, std::span<BeneathRead> reads, int flags)
{
    for (size_t start = 0; start < reads.size(); start += kBatch) {
        std::span<BeneathRead> batch = reads.subspan(start, std::min<size_t>(kBatch, reads.size() - start));
        for (BeneathRead& r : batch) {
            r.result = -1;
        }
        if (m_ring) {
            read_in_ring(dirfd, batch, flags);
        }
        for (BeneathRead& r : batch) {
            // Short, failed or never submitted: the plain way decides.
            if (r.result != static_cast<ssize_t>(r.out.size())) {
                read_beneath_plain(dirfd, r, flags);
            }
        }
    }
}

void BatchReader::read_in_ring(int dirfd, std::span<BeneathRead> reads, int flags)
{
    io_uring* ring = &m_ring->ring;
    // The kernel reads the names and the open_how when the batch is submitted.
    std::vector<std::string> names(reads.size());
    open_how how{};
    how.flags = static_cast<uint64_t>(flags);  // O_CLOEXEC does not apply to direct descriptors
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    unsigned queued = 0;
    for (size_t i = 0; i < reads.size(); ++i) {
        const BeneathRead& r = reads[i];
        if (r.relative.empty() || r.relative.starts_with('/') || has_dotdot_component(r.relative)) {
            continue;  // the plain way refuses these with its own checks
        }
        if (r.out.empty()) {
            continue;
        }
        names[i] = std::string(r.relative);
        auto slot = static_cast<unsigned>(i);
        io_uring_sqe* open = io_uring_get_sqe(ring);
        io_uring_prep_openat2_direct(open, dirfd, names[i].c_str(), &how, slot);
        open->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(open, tag(i, kOpen));
        io_uring_sqe* rd = io_uring_get_sqe(ring);
        io_uring_prep_read(rd, static_cast<int>(slot), r.out.data(), static_cast<unsigned>(r.out.size()), r.offset);
        // A hard link: the close runs even when the read fails or comes up short.
        rd->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
        io_uring_sqe_set_data64(rd, tag(i, kRead));
        io_uring_sqe* close = io_uring_get_sqe(ring);
        io_uring_prep_close_direct(close, slot);
        io_uring_sqe_set_data64(close, tag(i, kClose));
        queued += 3;
    }
    if (queued == 0) {
        return;
    }
    int submitted;
    do {
        submitted = io_uring_submit_and_wait(ring, queued);
    } while (submitted == -EINTR);
    if (submitted != static_cast<int>(queued)) {
        if (submitted <= 0) {
            // Refused as a whole (a seccomp filter, io_uring switched off): the entries
            // are still queued; drop the ring, which discards them, and go plain from now on.
            m_ring.reset();
            return;
        }
    }
    unsigned seen = 0;
    while (seen < static_cast<unsigned>(submitted)) {
        io_uring_cqe* cqe = nullptr;
        int waited = io_uring_wait_cqe(ring, &cqe);
        if (waited == -EINTR) {
            continue;
        }
        if (waited < 0) {
            m_ring.reset();
            for (BeneathRead& r : reads) {
                r.result = -1;
            }
            return;
        }
        uint64_t data = io_uring_cqe_get_data64(cqe);
        size_t entry = data / 4;
        if (entry < reads.size() && data % 4 == kRead && cqe->res >= 0) {
            reads[entry].result = cqe->res;
        }
        io_uring_cqe_seen(ring, cqe);
        ++seen;
    }
    if (submitted != static_cast<int>(queued)) {
        // Part of the batch is still queued in the ring: no longer trusted.
        m_ring.reset();
    }
}

}  // namespace qemu
