// Background jobs, as QEMU's job.c: a job has an id, a type and a state that moves along
// QEMU's transition table (created, running, waiting, pending, concluded, ...), each move
// announced as JOB_STATUS_CHANGE; the QMP verbs (cancel, pause, resume, complete,
// finalize, dismiss) are accepted only in the states QEMU's verb table allows, with its
// error texts.
//
// A job's work runs at once, in the main loop, when it starts. QEMU runs it in a coroutine
// that first yields at its first request; whatever follows that point (its completion,
// success or failure) then waits for a later main-loop iteration, after the reply to the
// command that started it. The work says whether it got that far, and the registry defers
// the completion through `defer` exactly then, so the events and the reply come in QEMU's
// order. Work that may take long without the graph (a file preallocated in full) hands a
// background part to a worker thread, as QEMU's thread pool runs it, and the job completes
// from the main loop when that returns.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "qapi/qapi-types.h"
#include "util/error.h"

namespace qemu::block {

// What a job's work returns: its outcome, and whether it reached the point where QEMU's
// job would have yielded (its first request to a node).
struct JobRunResult {
    Result<void> result;
    bool yielded = false;
    // What continues on a worker thread once `result` is a success. It may only use what
    // `holds` keeps alive, which the main thread releases after it has returned.
    std::move_only_function<Result<void>()> background;
    std::shared_ptr<void> holds;
    // Progress made when the background part returns.
    int64_t background_progress = 0;
};

struct JobFlags {
    bool manual_finalize = false;
    bool manual_dismiss = false;
};

class Job {
public:
    const std::string& id() const { return m_id; }
    qapi::JobType type() const { return m_type; }
    qapi::JobStatus status() const { return m_status; }
    // job_progress_set_remaining / job_progress_update.
    void progress_set_remaining(int64_t remaining) { m_progress_total = m_progress_current + remaining; }
    void progress_update(int64_t done) { m_progress_current += done; }

private:
    friend class JobRegistry;
    Job(std::string id, qapi::JobType type, JobFlags flags, uint64_t serial)
        : m_id(std::move(id)),
          m_type(type),
          m_auto_finalize(!flags.manual_finalize),
          m_auto_dismiss(!flags.manual_dismiss),
          m_serial(serial)
    {
    }

    std::string m_id;
    qapi::JobType m_type;
    qapi::JobStatus m_status = qapi::JobStatus::undefined;
    bool m_auto_finalize;
    bool m_auto_dismiss;
    // Tells a deferred completion whether its job is still the one it was made for.
    uint64_t m_serial;
    int64_t m_progress_current = 0;
    int64_t m_progress_total = 0;
    // A job is created paused, and job_start lets it go.
    int m_pause_count = 1;
    bool m_user_paused = false;
    bool m_cancelled = false;
    bool m_started = false;
    Result<void> m_ret;
    std::optional<std::string> m_error;
    // The background part while it runs. Members go in reverse order: the worker is joined
    // before what it uses (m_holds) is released, on the thread that destroys the job.
    std::shared_ptr<void> m_holds;
    int64_t m_background_progress = 0;
    std::future<Result<void>> m_background;
    std::jthread m_worker;
};

class JobRegistry {
public:
    JobRegistry() = default;
    JobRegistry(const JobRegistry&) = delete;
    JobRegistry& operator=(const JobRegistry&) = delete;

    // Every state change of a job with an id.
    std::function<void(const std::string& id, qapi::JobStatus status)> on_status_change;
    // Runs `fn` from the main loop once the current command is done (QEMU's bottom half);
    // unset, the completion runs at once.
    std::function<void(std::function<void()> fn)> defer;
    // Called on a worker thread when a background part has returned: the main loop should
    // then call reap(). Unset, start() runs the background part itself.
    std::function<void()> wake;
    // Completes every job whose background part has returned.
    void reap();

    // job_create: checks the id, and announces the job as created.
    Result<Job*> create(const std::string& id, qapi::JobType type, JobFlags flags);
    // job_start: running, then the work; completes now or, if the work yielded, deferred.
    void start(Job& job, const std::function<JobRunResult(Job&)>& run);

    Job* find(std::string_view id);
    // The QMP verbs on a job found by id ("Job not found" otherwise).
    Result<void> user_cancel(std::string_view id);
    Result<void> user_pause(std::string_view id);
    Result<void> user_resume(std::string_view id);
    Result<void> complete(std::string_view id);
    Result<void> finalize(std::string_view id);
    Result<void> dismiss(std::string_view id);

    // query-jobs: newest first, as QEMU lists them.
    std::vector<qapi::JobInfo> query() const;
    // job_cancel_sync_all, at shutdown: every job cancelled and dismissed, newest first;
    // background parts are waited for.
    void cancel_all();

private:
    void transition(Job& job, qapi::JobStatus status);
    Result<void> apply_verb(const Job& job, qapi::JobVerb verb) const;
    Result<Job*> lookup(std::string_view id);
    void completed(Job& job);
    void update_rc(Job& job);
    void finalize_single(Job& job);
    void do_finalize(Job& job);
    void do_dismiss(Job& job);
    void cancel(Job& job);
    // Takes a returned background part's result and completes the job.
    void finish_background(Job& job);

    std::list<std::unique_ptr<Job>> m_jobs;
    uint64_t m_next_serial = 1;
};

}  // namespace qemu::block
