// The asynchronous side of the generic I/O layer (QEMU's blk_aio_* over bdrv_co_*): a
// request goes to the driver's own asynchronous operation where the synchronous path would
// call the driver directly; everything else (padding, zero detection, emulated FUA, drivers
// that only know synchronous I/O, flushes) runs the synchronous path on one of the
// context's worker threads, which the per-driver request locks make safe.
#include <utility>
#include <vector>

#include "block/block.h"
#include "block/iov.h"
#include "util/aio-context.h"

namespace qemu::block {

namespace {

// The synchronous `request` on a worker, its result delivered at a poll of ctx. The iovec
// array is copied: the caller's may be gone by the time the worker starts.
template <typename Request> void run_on_worker(AioContext& ctx, Request request, AioCallback done)
{
    ctx.run_in_worker([request = std::move(request), done = std::move(done)]() mutable {
        Result<void> result = request();
        return std::move_only_function<void()>(
            [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
    });
}

}  // namespace

void BlockNode::aio_preadv(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done)
{
    if (m_driver->aio_preadv && request_alignment() == 1) {
        m_driver->aio_preadv(*this, ctx, offset, iov, flags, std::move(done));
        return;
    }
    run_on_worker(
        ctx,
        [this, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags] { return preadv(offset, iov, flags); },
        std::move(done));
}

void BlockNode::aio_pwritev(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done)
{
    // What pwritev does before it reaches driver_pwritev decides whether the driver's own
    // asynchronous write can stand in for it.
    const bool fua = flags.fua && !m_flags.no_flush;
    const bool direct = m_driver->aio_pwritev && !read_only() && request_alignment() == 1 &&
        m_flags.detect_zeroes == DetectZeroes::Off && (!fua || passes_fua());
    if (!direct) {
        run_on_worker(
            ctx,
            [this, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags] {
                return pwritev(offset, iov, flags);
            },
            std::move(done));
        return;
    }
    flags.fua = fua;
    debug_event(BlkdebugEvent::Pwritev);
    m_driver->aio_pwritev(*this, ctx, offset, iov, flags, [this, fua, done = std::move(done)](Result<void> result) mutable {
        // As finish_write: a write made durable by FUA leaves nothing new for a flush.
        if (result && !fua) {
            note_change();
        }
        debug_event(BlkdebugEvent::PwritevDone);
        done(std::move(result));
    });
}

void BlockNode::aio_flush(AioContext& ctx, AioCallback done)
{
    // fdatasync has no cheaper asynchronous form worth its ordering rules here: the flush
    // waits on a worker while the context keeps completing other requests. It covers every
    // write that completed before it was issued, as QEMU's does.
    run_on_worker(ctx, [this] { return flush(); }, std::move(done));
}

}  // namespace qemu::block
