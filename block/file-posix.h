// The `file` protocol driver (QEMU's file-posix): its per-node state, shared by the files
// that implement it: file-posix.cc (open, I/O), file-ops.cc (zeroes, discard, truncate,
// block status, create), file-lock.cc (image locking) and file-reopen.cc (reopen).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <thread>

#include "block/block.h"
#include "util/osdep.h"

namespace qemu::block::file_posix {

enum class Locking { Auto, On, Off };

// The aio option: how asynchronous requests reach the file.
enum class AioMode { Threads, Native, IoUring };

struct FileState : DriverState {
    QemuFd fd;  // from qemu_open; its destructor gives an fd-set duplicate back
    int open_flags = 0;
    bool is_block_device = false;  // host_device on a block (not character) device
    bool use_lock = false;
    // Alignment O_DIRECT requires of offsets/lengths and of memory; 1 without O_DIRECT.
    int64_t request_align = 1;
    int64_t buf_align = 1;
    // A bounced O_DIRECT write rewrites the whole aligned blocks around the request, so it
    // must not overlap any other request in flight: bounces hold this alone, aligned
    // requests share it.
    std::shared_mutex direct_io_lock;
    AioMode aio = AioMode::Threads;
    // Requests in the kernel through io_uring or Linux AIO (file-aio.cc). They hold no lock,
    // so a bounce first raises `bouncing` (new ones then take the worker path, which waits
    // on direct_io_lock) and waits for these to finish, polling their context when it runs
    // on that context's own thread.
    std::atomic<int> async_in_flight{0};
    // O_DIRECT requests file-aio.cc handed to the context's workers, queued or running. A
    // synchronous bounce on a context's own thread waits for them first: they were issued
    // before it, and QEMU's read-modify-write waits for the overlapping requests in flight
    // (a worker that has not taken direct_io_lock yet would otherwise write after it).
    std::atomic<int> worker_in_flight{0};
    std::atomic<bool> bouncing{false};
    std::atomic<AioContext*> async_ctx{nullptr};
    std::atomic<std::thread::id> async_owner{};
    // raw_account_discard: the discards passed to the host, for query-blockstats.
    std::atomic<uint64_t> discard_nb_ok{0};
    std::atomic<uint64_t> discard_nb_failed{0};
    std::atomic<uint64_t> discard_bytes_ok{0};
    // The permission bits currently locked on the image, to release on close.
    uint64_t locked_perm = 0;
    uint64_t locked_shared = perm::kAll;
    // A reopen under way (file-reopen.cc): the descriptor prepare opened and locked, which
    // becomes `fd` on commit or is released on abort.
    struct PendingReopen {
        QemuFd fd;
        int open_flags = 0;
    };
    std::optional<PendingReopen> pending_reopen;
};

inline FileState& state_of(BlockNode& node)
{
    return node.state<FileState>();
}

// The request and buffer alignment the descriptor's O_DIRECT (or its absence) needs.
void set_direct_alignment(FileState& s);

// Reads or writes the whole iovec at offset (file-posix.cc). A DurableWrite is FUA.
enum class Direction { Read, Write, DurableWrite };
Result<void> transfer(int fd, Direction direction, int64_t offset, std::span<const iovec> iov);
// The synchronous request of the node, bouncing misaligned O_DIRECT requests.
Result<void> file_rw(BlockNode& node, Direction direction, int64_t offset, std::span<const iovec> iov);
bool request_aligned(const FileState& s, int64_t offset, std::span<const iovec> iov);

// file-aio.cc: aio=threads|native|io_uring.
Result<AioMode> parse_aio(BlockNode& node, std::optional<std::string> text);
bool file_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
bool file_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done);
// Before a bounce rewrites whole blocks: no io_uring or Linux AIO request may be in flight.
void quiesce_async(FileState& s);
// Before a synchronous bounce on a context's own thread: the worker requests issued before
// it have finished (a no-op on a worker thread).
void wait_for_workers(FileState& s);

// file-lock.cc: OFD locks on bytes 100+bit (held) and 200+bit (not shared).
Result<void> lock_check_perm(BlockNode& node, uint64_t perm, uint64_t shared);
void lock_set_perm(BlockNode& node, uint64_t perm, uint64_t shared);
void lock_release(FileState& state);
// Locks as a byte set, for tests and for talking about what QEMU would see.
Result<void> apply_lock_bytes(int fd, uint64_t perm, uint64_t not_shared, bool unlock);
// Fails with QEMU's "Failed to get \"write\" lock" texts (without the hint line).
Result<void> check_lock_bytes(int fd, uint64_t perm, uint64_t shared);

// file-ops.cc
Result<void> file_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags);
Result<void> file_discard(BlockNode& node, int64_t offset, int64_t bytes);
// Counts a discard the host was asked for (an unsupported one counts as failed).
void account_discard(FileState& s, int64_t bytes, const Result<void>& done);
DiscardStats file_discard_stats(BlockNode& node);
Result<void> file_truncate(BlockNode& node, int64_t offset, Prealloc prealloc);
Result<BlockStatus> file_block_status(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes);
Result<void> file_create(const OpenContext& context, const CreateOptions& options);
// Creating a file as QEMU's raw_co_create: created (or emptied), then sized exactly as
// asked. The open and the locks are the main thread's (they go through the fd sets); the
// sizing touches only the descriptor, and is what QEMU leaves to its thread pool.
struct FileCreateParams {
    std::string filename;
    uint64_t size = 0;
    Prealloc prealloc = Prealloc::Off;
    bool nocow = false;
    uint64_t extent_size_hint = 0;
    // qemu-img adds "Is another process using the image [F]?" to a lock failure; QMP's
    // error has no hint.
    bool lock_hint = false;
};
Result<QemuFd> file_create_open(const OpenContext& context, const FileCreateParams& params);
Result<void> file_create_size(int fd, const FileCreateParams& params);
// Regular-file resize as QEMU does it (preallocation modes, first-block allocation).
Result<void> truncate_fd(int fd, int64_t offset, Prealloc prealloc);

// file-reopen.cc: the reopen capability of file and host_device.
HostAccess file_host_access(BlockNode& node);
Result<void> file_reopen_prepare(BlockNode& node, HostAccess wanted);
void file_reopen_commit(BlockNode& node);
void file_reopen_abort(BlockNode& node);
// check_perm of file and host_device: the write descriptor an auto-read-only node defers,
// then the image locks.
Result<void> file_check_perm(BlockNode& node, uint64_t perm, uint64_t shared);

// file-hdev.cc: what host_device does differently.
int hdev_probe_device(std::string_view filename);
Result<int64_t> hdev_get_length(BlockNode& node);
Result<void> hdev_discard(BlockNode& node, int64_t offset, int64_t bytes);
Result<void> hdev_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags);
Result<void> hdev_truncate(BlockNode& node, int64_t offset, Prealloc prealloc);
Result<void> hdev_create(const OpenContext& context, const CreateOptions& options);

}  // namespace qemu::block::file_posix
