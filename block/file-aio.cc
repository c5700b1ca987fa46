// Asynchronous requests of the file and host_device drivers, by QEMU's aio option:
// threads (the default) runs the synchronous request on a worker of the context, native
// submits it through Linux AIO and io_uring through the context's ring. Requests the
// kernel cannot take as they are (misaligned O_DIRECT, longer iovecs than IOV_MAX) take
// the worker path in every mode, where the bounce buffers are.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <vector>

#include "block/file-posix.h"
#include "block/iov.h"
#include "util/aio-context.h"

namespace qemu::block::file_posix {

namespace {

// One request in the kernel: what its completion needs to finish it.
class FileAio final : public AioContext::Completion {
public:
    FileAio(BlockNode& node, Direction direction, int64_t offset, std::span<const iovec> iov, AioCallback done)
        : m_node(node), m_direction(direction), m_offset(offset), m_iov(iov.begin(), iov.end()), m_done(std::move(done))
    {
    }

    void complete(int64_t result) override;

    BlockNode& m_node;
    Direction m_direction;
    int64_t m_offset;
    std::vector<iovec> m_iov;
    AioCallback m_done;
    iocb m_cb{};  // aio=native's control block
};

void leave_async(FileState& s)
{
    s.async_in_flight.fetch_sub(1);
    s.async_in_flight.notify_all();
}

// Counts a request in before it goes to the kernel, unless a bounce is waiting for them to
// drain; the count comes first so that the bounce, which raises its flag first, sees it.
bool enter_async(FileState& s, AioContext& ctx)
{
    s.async_in_flight.fetch_add(1);
    if (s.bouncing.load()) {
        leave_async(s);
        return false;
    }
    s.async_ctx = &ctx;
    s.async_owner = std::this_thread::get_id();
    return true;
}

void FileAio::complete(int64_t result)
{
    std::unique_ptr<FileAio> self(this);
    FileState& s = state_of(m_node);
    leave_async(s);
    Result<void> done;
    const auto total = static_cast<int64_t>(iov_size(m_iov));
    if (result < 0) {
        // A kernel that refuses RWF_DSYNC gets the write again with an fdatasync after it.
        bool retry_fua = m_direction == Direction::DurableWrite && (result == -EOPNOTSUPP || result == -EINVAL);
        done = retry_fua ? transfer(s.fd.get(), m_direction, m_offset, m_iov)
                         : make_errno_error(static_cast<int>(-result));
    } else if (result < total) {
        // A short transfer (a read that met EOF): the rest as the synchronous path does it.
        std::vector<iovec> rest;
        int64_t skip = result;
        for (const iovec& v : m_iov) {
            if (skip >= static_cast<int64_t>(v.iov_len)) {
                skip -= static_cast<int64_t>(v.iov_len);
                continue;
            }
            rest.push_back({static_cast<uint8_t*>(v.iov_base) + skip, v.iov_len - static_cast<size_t>(skip)});
            skip = 0;
        }
        done = transfer(s.fd.get(), m_direction, m_offset + result, rest);
    }
    m_done(std::move(done));
}

// Hands the request to the kernel through the node's aio mode; false leaves it with the
// caller, untouched.
bool submit_to_kernel(FileState& s, AioContext& ctx, std::unique_ptr<FileAio>& request)
{
    const int fd = s.fd.get();
    const auto count = static_cast<unsigned>(request->m_iov.size());
    const bool is_read = request->m_direction == Direction::Read;
    const bool fua = request->m_direction == Direction::DurableWrite;
    if (s.aio == AioMode::IoUring) {
        io_uring_sqe* sqe = ctx.uring_sqe();
        if (!sqe) {
            return false;
        }
        if (is_read) {
            io_uring_prep_readv(sqe, fd, request->m_iov.data(), count, static_cast<uint64_t>(request->m_offset));
        } else {
            io_uring_prep_writev(sqe, fd, request->m_iov.data(), count, static_cast<uint64_t>(request->m_offset));
            sqe->rw_flags = fua ? RWF_DSYNC : 0;
        }
        ctx.uring_queue(sqe, request.release());
        return true;
    }
    iocb& cb = request->m_cb;
    cb.aio_fildes = static_cast<uint32_t>(fd);
    cb.aio_lio_opcode = is_read ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
    cb.aio_buf = reinterpret_cast<uintptr_t>(request->m_iov.data());
    cb.aio_nbytes = count;
    cb.aio_offset = request->m_offset;
    cb.aio_rw_flags = fua ? RWF_DSYNC : 0;
    if (!ctx.linux_aio_submit(cb, request.get())) {
        return false;
    }
    [[maybe_unused]] FileAio* in_kernel = request.release();
    return true;
}

void file_aio_rw(BlockNode& node, AioContext& ctx, Direction direction, int64_t offset, std::span<const iovec> iov,
    AioCallback done)
{
    FileState& s = state_of(node);
    const bool kernel_can =
        s.aio != AioMode::Threads && iov.size() <= IOV_MAX && (!(s.open_flags & O_DIRECT) || request_aligned(s, offset, iov));
    if (kernel_can && enter_async(s, ctx)) {
        auto request = std::make_unique<FileAio>(node, direction, offset, iov, std::move(done));
        if (submit_to_kernel(s, ctx, request)) {
            return;
        }
        leave_async(s);
        done = std::move(request->m_done);
    }
    const bool counted = (s.open_flags & O_DIRECT) != 0;
    if (counted) {
        s.worker_in_flight.fetch_add(1);
    }
    ctx.run_in_worker([&node, direction, offset, iov = std::vector<iovec>(iov.begin(), iov.end()),
                          done = std::move(done), counted]() mutable {
        Result<void> result = file_rw(node, direction, offset, iov);
        if (counted) {
            FileState& state = state_of(node);
            state.worker_in_flight.fetch_sub(1);
            state.worker_in_flight.notify_all();
        }
        return std::move_only_function<void()>(
            [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
    });
}

}  // namespace

Result<AioMode> parse_aio(BlockNode& node, std::optional<std::string> text)
{
    if (!text || *text == "threads") {
        return AioMode::Threads;
    }
    if (*text == "native") {
        if (!node.flags().cache_direct) {
            return make_error("aio=native was specified, but it requires cache.direct=on, which was not specified.");
        }
        // raw_open_common sets up the context's Linux AIO at open, and fails the open there.
        aio_context_t probe = 0;
        if (syscall(SYS_io_setup, 1, &probe) < 0) {
            int err = errno;
            return std::unexpected(make_errno_error(err, "failed to create linux AIO context")
                    .error()
                    .prepend("Unable to use native AIO: "));
        }
        syscall(SYS_io_destroy, probe);
        return AioMode::Native;
    }
    if (*text == "io_uring") {
        io_uring ring{};
        if (int ret = io_uring_queue_init(1, &ring, 0); ret < 0) {
            return std::unexpected(
                make_errno_error(-ret, "failed to init linux io_uring ring").error().prepend("Unable to use io_uring: "));
        }
        io_uring_queue_exit(&ring);
        return AioMode::IoUring;
    }
    return make_error("invalid parameter value: " + *text);
}

bool file_aio_preadv(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags,
    AioCallback& done)
{
    file_aio_rw(node, ctx, Direction::Read, offset, iov, std::move(done));
    return true;
}

bool file_aio_pwritev(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags,
    AioCallback& done)
{
    file_aio_rw(node, ctx, flags.fua ? Direction::DurableWrite : Direction::Write, offset, iov, std::move(done));
    return true;
}

namespace {

// Waits until `count` drops to zero. On the thread that owns the kernel requests it polls
// their context instead: only this thread completes them, and a worker's own bounce may
// be waiting for them.
void wait_until_none(FileState& s, std::atomic<int>& count)
{
    while (int pending = count.load()) {
        AioContext* ctx = s.async_ctx.load();
        if (ctx && s.async_owner.load() == std::this_thread::get_id()) {
            ctx->poll(true);
        } else {
            count.wait(pending);
        }
    }
}

}  // namespace

void wait_for_workers(FileState& s)
{
    if (AioContext::worker_context()) {
        return;  // part of another request: nothing was issued before it on this thread
    }
    wait_until_none(s, s.worker_in_flight);
}

void quiesce_async(FileState& s)
{
    s.bouncing = true;
    wait_until_none(s, s.async_in_flight);
}

}  // namespace qemu::block::file_posix
