// Where asynchronous requests complete (QEMU's AioContext): an object owned by the thread
// that runs it, which starts I/O through io_uring, Linux AIO or worker threads and later,
// when that thread polls, runs the completion of each. Completions never run inside the
// call that started the request, so a completion that starts the next request cannot
// recurse. The tools poll it from their own loops; the emulator's GLib loop watches
// notify_fd().
#pragma once

#include <liburing.h>
#include <linux/aio_abi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "util/error.h"
#include "util/thread-pool.h"
#include "util/unique_fd.h"

namespace qemu {

class AioContext {
public:
    // What an io_uring or Linux AIO request does when its result (bytes or -errno) comes.
    class Completion {
    public:
        virtual ~Completion() = default;
        virtual void complete(int64_t result) = 0;
    };

    AioContext();
    // Waits for what is still in flight and runs its completions: its owner should have
    // drained first, but the kernel and the workers must be done with it before it goes.
    ~AioContext();
    AioContext(const AioContext&) = delete;
    AioContext& operator=(const AioContext&) = delete;

    // The io_uring submission entry for one request, or nullptr where io_uring cannot be
    // had (an old kernel, a seccomp filter that refuses it). Fill it, then hand it to
    // uring_queue with what completes it; it reaches the kernel at the next poll.
    io_uring_sqe* uring_sqe();
    void uring_queue(io_uring_sqe* sqe, Completion* done);

    // Submits one Linux AIO control block (aio=native); its completion runs at a poll.
    // Fails with the errno io_setup or io_submit gave.
    Result<void> linux_aio_submit(iocb& cb, Completion* done);

    // Runs work on one of the context's worker threads (aio=threads, and the requests of
    // drivers that only know synchronous I/O); what it returns runs here at a later poll.
    void run_in_worker(std::move_only_function<std::move_only_function<void()>()> work);

    // Runs fn at the next poll on this context's thread (a completion known at once).
    void defer(std::move_only_function<void()> fn);
    // Work handed to another thread: counts as in flight until that thread calls post().
    void begin_external() { ++m_external; }
    // Makes a poll that is waiting return (from any thread), after its caller's state
    // changed without a completion: a worker's request parked at a breakpoint.
    void wake();

    // The context whose worker runs the calling thread's task, or nullptr.
    static AioContext* worker_context();
    // Whether a request on this context's workers may wait at a blkdebug breakpoint until
    // it is resumed (qemu-io's break/resume): only an owner that can resume it says so.
    void set_parking(bool allowed) { m_parking = allowed; }
    bool parking() const { return m_parking; }
    // A worker's request waits at a breakpoint (between these two calls, on that worker).
    void park_begin();
    void park_end();
    // Waits until every task given to the workers has returned or waits parked. A request
    // that may meet a breakpoint has then reached it, as QEMU's coroutine has by the time
    // the call that started it returns. Runs no completion. A task stuck behind a parked
    // request cannot get there: the wait gives up after ten seconds.
    void settle_workers();
    // Runs fn at the next poll; any thread may call it, once per begin_external().
    void post(std::move_only_function<void()> fn);

    // Runs every completion that is ready; with `wait`, first sleeps until one is, unless
    // nothing is in flight. Returns whether anything ran.
    bool poll(bool wait);
    // Whether anything started here has not completed yet.
    bool busy() const;
    // Readable whenever poll has work: a GLib watch on it calls poll_notified(). -1 when
    // the context has no eventfd (descriptors exhausted): its owner must poll instead.
    int notify_fd();
    // For that watch: takes the notification, runs what is ready and sends what it
    // started. Returns whether anything ran.
    bool poll_notified();
    // Hands the requests queued since the last poll to the kernel without running any
    // completion (an owner whose loop will poll when notify_fd() says so).
    void submit() { submit_queued(); }

private:
    void submit_queued();
    bool run_ready();
    bool reap_uring();
    bool reap_linux_aio();
    void wait_for_event();

    std::optional<io_uring> m_ring;
    bool m_ring_failed = false;
    unsigned m_uring_queued = 0;
    unsigned m_uring_in_flight = 0;
    bool m_notify_wanted = false;  // a watcher needs m_event signalled for every event
    bool m_ring_notifies = false;  // m_event is registered with the ring

    aio_context_t m_linux_aio = 0;
    unsigned m_linux_aio_in_flight = 0;

    UniqueFd m_event;  // eventfd: posts, ring and Linux AIO completions
    std::deque<std::move_only_function<void()>> m_deferred;
    std::mutex m_posted_lock;
    std::vector<std::move_only_function<void()>> m_posted;
    std::atomic<unsigned> m_external{0};
    bool m_parking = false;
    std::mutex m_settle_lock;
    std::condition_variable m_settled;
    unsigned m_working = 0;  // worker tasks whose work has not returned
    unsigned m_parked = 0;  // of those, the ones waiting at a breakpoint
    // QEMU's pool has 64 workers per context; made at first use, gone before the rest.
    std::optional<ThreadPool> m_workers;
};

}  // namespace qemu
