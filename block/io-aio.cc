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

void complete_later(AioContext& ctx, AioCallback& done, Result<void> result)
{
    ctx.defer([done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

void BlockNode::retry_when_unlocked(AioContext& ctx, std::move_only_function<void()> retry)
{
    // A worker waits for the request that holds the lock, then the request starts again
    // here. Running it whole on the worker instead would hold the lock in turn and send
    // every request behind it the same way, one at a time.
    ctx.run_in_worker([this, retry = std::move(retry)]() mutable {
        {
            std::shared_lock wait(m_request_lock);
        }
        return std::move(retry);
    });
}

void BlockNode::aio_preadv(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done)
{
    if (m_driver->aio_preadv && request_alignment() == 1) {
        // Never wait for the lock here: the request that holds it may be waiting for this
        // thread to complete requests (an O_DIRECT bounce below).
        auto guard = try_guard_request(false);
        if (!guard) {
            retry_when_unlocked(ctx, [this, &ctx, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags,
                                         done = std::move(done)]() mutable {
                aio_preadv(ctx, offset, iov, flags, std::move(done));
            });
            return;
        }
        if (m_driver->aio_preadv(*this, ctx, offset, iov, flags, done)) {
            return;
        }
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
    std::optional<RequestGuard> guard;
    if (direct) {
        guard = try_guard_request(false);
        if (!guard) {
            retry_when_unlocked(ctx, [this, &ctx, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags,
                                         done = std::move(done)]() mutable {
                aio_pwritev(ctx, offset, iov, flags, std::move(done));
            });
            return;
        }
    }
    if (!guard) {
        run_on_worker(
            ctx,
            [this, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags] {
                return pwritev(offset, iov, flags);
            },
            std::move(done));
        return;
    }
    RequestFlags passed = flags;
    passed.fua = fua;
    note_write(offset, static_cast<int64_t>(iov_size(iov)));
    AioCallback finish = [this, fua, done = std::move(done)](Result<void> result) mutable {
        // As finish_write: a write made durable by FUA leaves nothing new for a flush.
        if (result && !fua) {
            note_change();
        }
        debug_event(BlkdebugEvent::PwritevDone);
        done(std::move(result));
    };
    debug_event(BlkdebugEvent::Pwritev);
    if (m_driver->aio_pwritev(*this, ctx, offset, iov, passed, finish)) {
        return;
    }
    // The driver must allocate or update metadata first: the whole write runs the
    // synchronous path on a worker. The change is then counted twice, which only means
    // "changed"; the events of a node with asynchronous hooks reach no blkdebug.
    guard.reset();
    run_on_worker(
        ctx,
        [this, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags] { return pwritev(offset, iov, flags); },
        std::move(finish));
}

void BlockNode::aio_flush(AioContext& ctx, AioCallback done)
{
    // fdatasync has no cheaper asynchronous form worth its ordering rules here: the flush
    // waits on a worker while the context keeps completing other requests. It covers every
    // write that completed before it was issued, as QEMU's does.
    run_on_worker(ctx, [this] { return flush(); }, std::move(done));
}

}  // namespace qemu::block
