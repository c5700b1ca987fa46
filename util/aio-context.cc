#include "util/aio-context.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace qemu {

namespace {

// Enough entries for QEMU's deepest queues (qemu-img bench -d 64, convert -m 16 with
// splits); a fuller queue is submitted early instead.
constexpr unsigned kRingEntries = 256;
// Linux AIO's queue (QEMU asks for 128 too); a request beyond it waits for a free slot.
constexpr unsigned kLinuxAioEvents = 128;
// QEMU's thread pool: at most 64 workers.
constexpr unsigned kWorkerThreads = 64;

thread_local AioContext* t_worker_of = nullptr;

}  // namespace

AioContext* AioContext::worker_context()
{
    return t_worker_of;
}

void AioContext::wake()
{
    begin_external();
    post([] { });
}

AioContext::AioContext() : m_event(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { }

AioContext::~AioContext()
{
    while (busy()) {
        poll(true);
    }
    m_workers.reset();
    if (m_ring) {
        io_uring_queue_exit(&*m_ring);
    }
    if (m_linux_aio) {
        syscall(SYS_io_destroy, m_linux_aio);
    }
}

io_uring_sqe* AioContext::uring_sqe()
{
    if (!m_ring && !m_ring_failed) {
        m_ring.emplace();
        if (io_uring_queue_init(kRingEntries, &*m_ring, 0) < 0) {
            m_ring.reset();
            m_ring_failed = true;
        } else if (m_notify_wanted && m_event) {
            m_ring_notifies = io_uring_register_eventfd(&*m_ring, m_event.get()) == 0;
        }
    }
    if (!m_ring) {
        return nullptr;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&*m_ring);
    if (!sqe) {
        // The submission queue is full: hand it to the kernel and take a fresh entry.
        submit_queued();
        sqe = io_uring_get_sqe(&*m_ring);
    }
    return sqe;
}

void AioContext::uring_queue(io_uring_sqe* sqe, Completion* done)
{
    io_uring_sqe_set_data(sqe, done);
    ++m_uring_queued;
}

void AioContext::submit_queued()
{
    while (m_uring_queued > 0) {
        int ret = io_uring_submit(&*m_ring);
        if (ret > 0) {
            m_uring_queued -= std::min<unsigned>(ret, m_uring_queued);
            m_uring_in_flight += ret;
            continue;
        }
        if (ret == -EINTR) {
            continue;
        }
        if ((ret == -EAGAIN || ret == -EBUSY) && m_uring_in_flight > 0) {
            // The kernel wants completions taken first; they run at this poll.
            io_uring_cqe* cqe = nullptr;
            io_uring_wait_cqe(&*m_ring, &cqe);
            return;
        }
        // Nothing more can go now; the entries stay queued for the next poll.
        return;
    }
}

Result<void> AioContext::linux_aio_submit(iocb& cb, Completion* done)
{
    if (!m_linux_aio && syscall(SYS_io_setup, kLinuxAioEvents, &m_linux_aio) < 0) {
        int err = errno;
        m_linux_aio = 0;
        return make_errno_error(err);
    }
    while (m_linux_aio_in_flight >= kLinuxAioEvents) {
        poll(true);
    }
    cb.aio_data = reinterpret_cast<uintptr_t>(done);
    if (m_event) {
        cb.aio_flags |= IOCB_FLAG_RESFD;
        cb.aio_resfd = static_cast<uint32_t>(m_event.get());
    }
    iocb* list[1] = {&cb};
    for (;;) {
        long ret = syscall(SYS_io_submit, m_linux_aio, 1, list);
        if (ret == 1) {
            ++m_linux_aio_in_flight;
            return {};
        }
        if (ret < 0 && errno == EINTR) {
            continue;
        }
        if (ret < 0 && errno == EAGAIN && m_linux_aio_in_flight > 0) {
            poll(true);
            continue;
        }
        return make_errno_error(ret < 0 ? errno : EAGAIN);
    }
}

void AioContext::run_in_worker(std::move_only_function<std::move_only_function<void()>()> work)
{
    if (!m_workers) {
        m_workers.emplace(kWorkerThreads);
    }
    begin_external();
    {
        std::lock_guard lock(m_settle_lock);
        ++m_working;
    }
    m_workers->run_detached([this, work = std::move(work)]() mutable {
        t_worker_of = this;
        auto done = work();
        t_worker_of = nullptr;
        {
            std::lock_guard lock(m_settle_lock);
            --m_working;
        }
        m_settled.notify_all();
        post(std::move(done));
    });
}

void AioContext::park_begin()
{
    {
        std::lock_guard lock(m_settle_lock);
        ++m_parked;
    }
    m_settled.notify_all();
    wake();
}

void AioContext::park_end()
{
    std::lock_guard lock(m_settle_lock);
    --m_parked;
}

void AioContext::settle_workers()
{
    // A task blocked behind a parked request (on a driver's lock) gets no further until
    // that one is resumed, which this caller's next command may do: the wait is bounded.
    std::unique_lock lock(m_settle_lock);
    m_settled.wait_for(lock, std::chrono::seconds(10), [this] { return m_working == m_parked; });
}

void AioContext::defer(std::move_only_function<void()> fn)
{
    m_deferred.push_back(std::move(fn));
    if (m_notify_wanted && m_event) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(m_event.get(), &one, sizeof one);
    }
}

void AioContext::post(std::move_only_function<void()> fn)
{
    // The signal goes under the lock: once a poll has taken fn, this thread is done with
    // the context, which may then go away (and a spent signal cannot come after its poll).
    std::lock_guard lock(m_posted_lock);
    m_posted.push_back(std::move(fn));
    if (m_event) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(m_event.get(), &one, sizeof one);
    }
}

bool AioContext::reap_uring()
{
    if (!m_ring) {
        return false;
    }
    bool ran = false;
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&*m_ring, &cqe) == 0 && cqe) {
        auto* done = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
        int64_t result = cqe->res;
        io_uring_cqe_seen(&*m_ring, cqe);
        --m_uring_in_flight;
        if (done) {
            done->complete(result);
        }
        ran = true;
    }
    return ran;
}

bool AioContext::reap_linux_aio()
{
    if (m_linux_aio_in_flight == 0) {
        return false;
    }
    io_event events[32];
    timespec none{};
    long got = syscall(SYS_io_getevents, m_linux_aio, 0, 32, events, &none);
    if (got <= 0) {
        return false;
    }
    m_linux_aio_in_flight -= static_cast<unsigned>(got);
    for (long i = 0; i < got; ++i) {
        reinterpret_cast<Completion*>(static_cast<uintptr_t>(events[i].data))->complete(events[i].res);
    }
    return true;
}

bool AioContext::run_ready()
{
    bool ran = false;
    if (!m_deferred.empty()) {
        // Completions deferred by these run at the next round, so a chain of requests that
        // complete at once cannot keep this one going forever.
        auto ready = std::exchange(m_deferred, {});
        for (auto& fn : ready) {
            fn();
        }
        ran = true;
    }
    std::vector<std::move_only_function<void()>> posted;
    {
        std::lock_guard lock(m_posted_lock);
        posted.swap(m_posted);
    }
    for (auto& fn : posted) {
        --m_external;
        fn();
        ran = true;
    }
    ran |= reap_uring();
    ran |= reap_linux_aio();
    return ran;
}

void AioContext::wait_for_event()
{
    bool only_uring = m_external == 0 && m_linux_aio_in_flight == 0 && m_deferred.empty();
    if (only_uring && m_ring && (m_uring_in_flight > 0 || m_uring_queued > 0)) {
        // Submission and the wait in one system call.
        int ret = io_uring_submit_and_wait(&*m_ring, 1);
        if (ret >= 0) {
            m_uring_in_flight += m_uring_queued;
            m_uring_queued = 0;
        }
        return;
    }
    submit_queued();
    if (!m_event) {
        // No eventfd (descriptors exhausted at construction): wait by yielding.
        usleep(100);
        return;
    }
    if (m_ring && !m_ring_notifies && m_uring_in_flight > 0) {
        m_ring_notifies = io_uring_register_eventfd(&*m_ring, m_event.get()) == 0;
        if (!m_ring_notifies) {
            // Without a wakeup from the ring, wait for it alone this time.
            io_uring_cqe* cqe = nullptr;
            io_uring_wait_cqe(&*m_ring, &cqe);
            return;
        }
        if (io_uring_cq_ready(&*m_ring) > 0) {
            return;  // completions that came before the ring could signal
        }
    }
    pollfd pfd{m_event.get(), POLLIN, 0};
    while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(m_event.get(), &count, sizeof count);
}

// Requests started since the last poll reach the kernel here: a poll that does not wait
// sends them before it returns, one that waits sends them with its wait.
bool AioContext::poll(bool wait)
{
    bool ran = false;
    for (;;) {
        ran |= run_ready();
        if (ran && wait) {
            // What the completions started goes with the next poll's wait: one system call
            // per round, not two.
            return true;
        }
        if (ran || !wait || !busy()) {
            submit_queued();
            return ran;
        }
        wait_for_event();
    }
}

bool AioContext::busy() const
{
    return !m_deferred.empty() || m_uring_queued > 0 || m_uring_in_flight > 0 || m_linux_aio_in_flight > 0 ||
        m_external > 0;
}

bool AioContext::poll_notified()
{
    uint64_t count;
    if (m_event) {
        // Non-blocking: a count taken by a poll that waited leaves nothing to read.
        [[maybe_unused]] ssize_t n = ::read(m_event.get(), &count, sizeof count);
    }
    return poll(false);
}

int AioContext::notify_fd()
{
    m_notify_wanted = true;
    if (m_ring && !m_ring_notifies && m_event) {
        m_ring_notifies = io_uring_register_eventfd(&*m_ring, m_event.get()) == 0;
    }
    return m_event.get();
}

}  // namespace qemu
