// The job state machine: QEMU's transition and verb tables, and the way a job concludes.
// Every job here is a transaction of its own (QEMU's single-job JobTxn), so "the other
// jobs of the transaction" never exist.
#include "block/job.h"

#include <cassert>
#include <cerrno>
#include <cstring>

#include "util/qemu-option.h"

namespace qemu::block {

namespace {

using qapi::JobStatus;
using qapi::JobVerb;

constexpr size_t kStatuses = 11;

// QEMU's JobSTT: which state may follow which (U C R P Y S W D X E N).
constexpr bool kTransitions[kStatuses][kStatuses] = {
    /* U */ {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* C */ {0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1},
    /* R */ {0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0},
    /* P */ {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
    /* Y */ {0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0},
    /* S */ {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    /* W */ {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0},
    /* D */ {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0},
    /* X */ {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0},
    /* E */ {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    /* N */ {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

// QEMU's JobVerbTable: in which states each verb is accepted.
constexpr bool kVerbs[7][kStatuses] = {
    /* cancel */ {0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
    /* pause */ {0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    /* resume */ {0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    /* set-speed */ {0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    /* complete */ {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    /* dismiss */ {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    /* finalize */ {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
};

bool is_completed(JobStatus status)
{
    switch (status) {
    case JobStatus::waiting:
    case JobStatus::pending:
    case JobStatus::aborting:
    case JobStatus::concluded:
    case JobStatus::null:
        return true;
    default:
        return false;
    }
}

}  // namespace

void JobRegistry::transition(Job& job, JobStatus status)
{
    JobStatus from = job.m_status;
    assert(kTransitions[static_cast<size_t>(from)][static_cast<size_t>(status)]);
    job.m_status = status;
    if (status != from && on_status_change) {
        on_status_change(job.m_id, status);
    }
}

Result<void> JobRegistry::apply_verb(const Job& job, JobVerb verb) const
{
    if (kVerbs[static_cast<size_t>(verb)][static_cast<size_t>(job.m_status)]) {
        return {};
    }
    return make_error("Job '" + job.m_id + "' in state '" + std::string(qapi::JobStatus_str(job.m_status)) +
        "' cannot accept command verb '" + std::string(qapi::JobVerb_str(verb)) + "'");
}

Result<Job*> JobRegistry::create(const std::string& id, qapi::JobType type, JobFlags flags)
{
    if (!id_wellformed(id)) {
        return make_error("Invalid job ID '" + id + "'");
    }
    if (find(id)) {
        return make_error("Job ID '" + id + "' already in use");
    }
    m_jobs.push_front(std::unique_ptr<Job>(new Job(id, type, flags, m_next_serial++)));
    Job& job = *m_jobs.front();
    transition(job, JobStatus::created);
    return &job;
}

void JobRegistry::start(Job& job, const std::function<JobRunResult(Job&)>& run)
{
    assert(!job.m_started);
    job.m_started = true;
    --job.m_pause_count;
    transition(job, JobStatus::running);
    JobRunResult outcome = run(job);
    if (outcome.result && outcome.background) {
        if (!wake) {
            outcome.result = outcome.background();
            job.progress_update(outcome.background_progress);
        } else {
            std::promise<Result<void>> promise;
            job.m_background = promise.get_future();
            job.m_holds = std::move(outcome.holds);
            job.m_background_progress = outcome.background_progress;
            job.m_worker = std::jthread(
                [work = std::move(outcome.background), promise = std::move(promise), wake = wake]() mutable {
                    promise.set_value(work());
                    wake();
                });
            return;
        }
    }
    job.m_ret = std::move(outcome.result);
    if (!outcome.yielded || !defer) {
        completed(job);
        return;
    }
    defer([this, serial = job.m_serial] {
        for (auto& candidate : m_jobs) {
            // A cancel may have concluded the job (or a dismiss removed it) meanwhile.
            if (candidate->m_serial == serial && !is_completed(candidate->m_status)) {
                completed(*candidate);
                return;
            }
        }
    });
}

void JobRegistry::finish_background(Job& job)
{
    job.m_ret = job.m_background.get();
    job.m_worker.join();
    job.m_holds.reset();
    job.progress_update(job.m_background_progress);
    completed(job);
}

void JobRegistry::reap()
{
    // Completing a job may dismiss it: look again from the start after each one.
    for (bool again = true; again;) {
        again = false;
        for (auto& job : m_jobs) {
            if (job->m_background.valid() &&
                job->m_background.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
                finish_background(*job);
                again = true;
                break;
            }
        }
    }
}

Job* JobRegistry::find(std::string_view id)
{
    for (auto& job : m_jobs) {
        if (job->m_id == id) {
            return job.get();
        }
    }
    return nullptr;
}

Result<Job*> JobRegistry::lookup(std::string_view id)
{
    if (Job* job = find(id)) {
        return job;
    }
    return make_error("Job not found");
}

// job_update_rc: a cancelled job that did not fail fails as cancelled.
void JobRegistry::update_rc(Job& job)
{
    if (job.m_ret && job.m_cancelled) {
        job.m_ret = std::unexpected(Error{ErrorClass::GenericError, std::strerror(ECANCELED), ECANCELED});
    }
    if (!job.m_ret) {
        if (!job.m_error) {
            job.m_error = job.m_ret.error().desc;
        }
        transition(job, JobStatus::aborting);
    }
}

void JobRegistry::completed(Job& job)
{
    update_rc(job);
    if (!job.m_ret) {
        // job_completed_txn_abort: with no other job in the transaction, it finalizes
        // this one as failed.
        finalize_single(job);
        return;
    }
    transition(job, JobStatus::waiting);
    transition(job, JobStatus::pending);
    if (job.m_auto_finalize) {
        do_finalize(job);
    }
}

void JobRegistry::do_finalize(Job& job)
{
    // There is no driver prepare step that could fail here.
    finalize_single(job);
}

void JobRegistry::finalize_single(Job& job)
{
    update_rc(job);
    transition(job, JobStatus::concluded);
    if (job.m_auto_dismiss || !job.m_started) {
        do_dismiss(job);
    }
}

void JobRegistry::do_dismiss(Job& job)
{
    transition(job, JobStatus::null);
    m_jobs.remove_if([&](const std::unique_ptr<Job>& candidate) { return candidate.get() == &job; });
}

void JobRegistry::cancel(Job& job)
{
    if (job.m_status == JobStatus::concluded) {
        do_dismiss(job);
        return;
    }
    // job_cancel_async: a user pause ends with the cancel.
    if (job.m_user_paused) {
        job.m_user_paused = false;
        --job.m_pause_count;
    }
    job.m_cancelled = true;
    if (job.m_background.valid()) {
        // QEMU's cancel cannot stop a request in its thread pool either: the job ends, as
        // cancelled, when the background part returns.
        return;
    }
    if (!job.m_started) {
        job.m_ret = {};
        completed(job);
    } else {
        // The work itself never waits here: it has run, and only its completion may be
        // waiting for the main loop. Cancelling concludes it now, as QEMU's does for a
        // job deferred to the main loop.
        finalize_single(job);
    }
}

Result<void> JobRegistry::user_cancel(std::string_view id)
{
    Job* job = TRY(lookup(id));
    TRY_VOID(apply_verb(*job, JobVerb::cancel));
    cancel(*job);
    return {};
}

Result<void> JobRegistry::user_pause(std::string_view id)
{
    Job* job = TRY(lookup(id));
    TRY_VOID(apply_verb(*job, JobVerb::pause));
    if (job->m_user_paused) {
        return make_error("Job is already paused");
    }
    job->m_user_paused = true;
    ++job->m_pause_count;
    return {};
}

Result<void> JobRegistry::user_resume(std::string_view id)
{
    Job* job = TRY(lookup(id));
    if (!job->m_user_paused || job->m_pause_count <= 0) {
        return make_error("Can't resume a job that was not paused");
    }
    TRY_VOID(apply_verb(*job, JobVerb::resume));
    job->m_user_paused = false;
    --job->m_pause_count;
    return {};
}

Result<void> JobRegistry::complete(std::string_view id)
{
    Job* job = TRY(lookup(id));
    TRY_VOID(apply_verb(*job, JobVerb::complete));
    // No job here has a completion of its own (only mirror-like jobs do in QEMU).
    return make_error("The active block job '" + job->m_id + "' cannot be completed");
}

Result<void> JobRegistry::finalize(std::string_view id)
{
    Job* job = TRY(lookup(id));
    TRY_VOID(apply_verb(*job, JobVerb::finalize));
    do_finalize(*job);
    return {};
}

Result<void> JobRegistry::dismiss(std::string_view id)
{
    Job* job = TRY(lookup(id));
    TRY_VOID(apply_verb(*job, JobVerb::dismiss));
    do_dismiss(*job);
    return {};
}

std::vector<qapi::JobInfo> JobRegistry::query() const
{
    std::vector<qapi::JobInfo> list;
    for (const auto& job : m_jobs) {
        list.push_back(qapi::JobInfo{
            .id = job->m_id,
            .type = job->m_type,
            .status = job->m_status,
            .current_progress = job->m_progress_current,
            .total_progress = job->m_progress_total,
            .error = job->m_error,
        });
    }
    return list;
}

void JobRegistry::cancel_all()
{
    // A job that is not concluded yet concludes on the first cancel and is dismissed by
    // the second, as QEMU's loop over the list does.
    while (!m_jobs.empty()) {
        Job& job = *m_jobs.front();
        bool working = job.m_background.valid();
        cancel(job);
        // (A concluded job is gone now; one with a background part stays until it returns.)
        if (working) {
            job.m_background.wait();
            finish_background(job);
        }
    }
}

}  // namespace qemu::block
