// The job state machine (block/job.h): the states a job passes through and announces,
// when its completion waits for the main loop, and the verbs each state refuses, with
// QEMU's texts.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "block/job.h"

namespace {

using qapi::JobStatus;
using qemu::block::Job;
using qemu::block::JobRegistry;
using qemu::block::JobRunResult;

class JobTest : public ::testing::Test {
protected:
    JobTest()
    {
        jobs.on_status_change = [this](const std::string& id, JobStatus status) {
            events.push_back(id + ":" + std::string(qapi::JobStatus_str(status)));
        };
        jobs.defer = [this](std::function<void()> fn) { deferred.push_back(std::move(fn)); };
    }

    // The main loop's turn: every completion left for it runs.
    void run_deferred()
    {
        auto work = std::move(deferred);
        deferred.clear();
        for (auto& fn : work) {
            fn();
        }
    }

    Job& start(const std::string& id, JobRunResult outcome)
    {
        auto job = jobs.create(id, qapi::JobType::create, {.manual_dismiss = true});
        EXPECT_TRUE(job.has_value());
        jobs.start(**job, [&](Job& j) {
            j.progress_set_remaining(1);
            j.progress_update(1);
            return std::move(outcome);
        });
        return **job;
    }

    static JobRunResult failure(const std::string& text, bool yielded)
    {
        return {std::unexpected(qemu::Error{qemu::ErrorClass::GenericError, text, 0}), yielded};
    }

    template <typename T> std::string error_of(const qemu::Result<T>& result)
    {
        return result ? "" : result.error().desc;
    }

    JobRegistry jobs;
    std::vector<std::string> events;
    std::vector<std::function<void()>> deferred;
};

TEST_F(JobTest, WorkThatYieldedCompletesFromTheMainLoop)
{
    start("j0", {{}, true});
    EXPECT_EQ(events, (std::vector<std::string>{"j0:created", "j0:running"}));
    ASSERT_EQ(deferred.size(), 1u);
    run_deferred();
    EXPECT_EQ(
        events, (std::vector<std::string>{"j0:created", "j0:running", "j0:waiting", "j0:pending", "j0:concluded"}));
    auto info = jobs.query();
    ASSERT_EQ(info.size(), 1u);
    EXPECT_EQ(info[0].status, JobStatus::concluded);
    EXPECT_EQ(info[0].current_progress, 1);
    EXPECT_EQ(info[0].total_progress, 1);
    EXPECT_FALSE(info[0].error.has_value());
}

TEST_F(JobTest, FailureBeforeTheFirstRequestConcludesAtOnce)
{
    start("j0", failure("Cannot find device='x' nor node-name='x'", false));
    EXPECT_TRUE(deferred.empty());
    EXPECT_EQ(events, (std::vector<std::string>{"j0:created", "j0:running", "j0:aborting", "j0:concluded"}));
    EXPECT_EQ(jobs.query()[0].error, "Cannot find device='x' nor node-name='x'");
}

TEST_F(JobTest, FailureAfterTheFirstRequestWaitsForTheMainLoop)
{
    start("j0", failure("Could not resize file: Invalid argument", true));
    EXPECT_EQ(jobs.query()[0].status, JobStatus::running);
    EXPECT_FALSE(jobs.query()[0].error.has_value());
    run_deferred();
    EXPECT_EQ(events.back(), "j0:concluded");
    EXPECT_EQ(events[events.size() - 2], "j0:aborting");
    EXPECT_EQ(jobs.query()[0].error, "Could not resize file: Invalid argument");
}

TEST_F(JobTest, IdsAreCheckedAndUnique)
{
    EXPECT_EQ(error_of(jobs.create("1x", qapi::JobType::create, {})), "Invalid job ID '1x'");
    start("j0", {{}, false});
    EXPECT_EQ(error_of(jobs.create("j0", qapi::JobType::create, {})), "Job ID 'j0' already in use");
    EXPECT_EQ(error_of(jobs.dismiss("nope")), "Job not found");
}

TEST_F(JobTest, AConcludedJobRefusesEveryVerbButDismiss)
{
    start("j0", {{}, false});
    EXPECT_EQ(error_of(jobs.user_cancel("j0")), "Job 'j0' in state 'concluded' cannot accept command verb 'cancel'");
    EXPECT_EQ(error_of(jobs.user_pause("j0")), "Job 'j0' in state 'concluded' cannot accept command verb 'pause'");
    EXPECT_EQ(error_of(jobs.user_resume("j0")), "Can't resume a job that was not paused");
    EXPECT_EQ(error_of(jobs.complete("j0")), "Job 'j0' in state 'concluded' cannot accept command verb 'complete'");
    EXPECT_EQ(error_of(jobs.finalize("j0")), "Job 'j0' in state 'concluded' cannot accept command verb 'finalize'");
    events.clear();
    EXPECT_EQ(error_of(jobs.dismiss("j0")), "");
    EXPECT_EQ(events, (std::vector<std::string>{"j0:null"}));
    EXPECT_TRUE(jobs.query().empty());
}

TEST_F(JobTest, PauseWhileTheCompletionWaitsThenResumeRefused)
{
    start("j0", {{}, true});
    EXPECT_EQ(error_of(jobs.user_pause("j0")), "");
    EXPECT_EQ(error_of(jobs.user_pause("j0")), "Job is already paused");
    EXPECT_EQ(error_of(jobs.complete("j0")), "Job 'j0' in state 'running' cannot accept command verb 'complete'");
    // The work is done: nothing is left to pause, and the job concludes.
    run_deferred();
    EXPECT_EQ(jobs.query()[0].status, JobStatus::concluded);
    EXPECT_EQ(error_of(jobs.user_resume("j0")), "Job 'j0' in state 'concluded' cannot accept command verb 'resume'");
}

TEST_F(JobTest, CancelWhileTheCompletionWaitsConcludesAsCancelled)
{
    start("j0", {{}, true});
    EXPECT_EQ(error_of(jobs.user_cancel("j0")), "");
    EXPECT_EQ(jobs.query()[0].status, JobStatus::concluded);
    EXPECT_EQ(jobs.query()[0].error, "Operation canceled");
    // The completion the main loop still holds finds the job concluded and does nothing.
    events.clear();
    run_deferred();
    EXPECT_TRUE(events.empty());
}

TEST_F(JobTest, CancelAllDismissesNewestFirst)
{
    start("a", {{}, false});
    start("b", {{}, true});
    events.clear();
    jobs.cancel_all();
    EXPECT_EQ(events, (std::vector<std::string>{"b:aborting", "b:concluded", "b:null", "a:null"}));
    EXPECT_TRUE(jobs.query().empty());
    run_deferred();
    EXPECT_EQ(events.size(), 4u);
}

// A background part (a file preallocated in full) runs on a worker: the job stays running,
// and the monitor free, until the main loop reaps it after the worker's wake-up.
class JobBackgroundTest : public JobTest {
protected:
    JobBackgroundTest()
    {
        jobs.wake = [this] { woken.set_value(); };
    }

    Job& start_background()
    {
        auto job = jobs.create("bg", qapi::JobType::create, {.manual_dismiss = true});
        EXPECT_TRUE(job.has_value());
        jobs.start(**job, [this](Job& j) {
            j.progress_set_remaining(1);
            return JobRunResult{
                .result = {},
                .yielded = true,
                .background = [this]() -> qemu::Result<void> {
                    release.get_future().wait();
                    return {};
                },
                .holds = held,
                .background_progress = 1,
            };
        });
        return **job;
    }

    std::promise<void> release;
    std::promise<void> woken;
    std::shared_ptr<int> held = std::make_shared<int>(0);
};

TEST_F(JobBackgroundTest, CompletesWhenReapedAfterTheWorkerReturns)
{
    start_background();
    EXPECT_EQ(jobs.query()[0].status, JobStatus::running);
    EXPECT_EQ(jobs.query()[0].current_progress, 0);
    EXPECT_EQ(held.use_count(), 2);
    jobs.reap();  // nothing has returned yet
    EXPECT_EQ(jobs.query()[0].status, JobStatus::running);
    release.set_value();
    woken.get_future().wait();
    jobs.reap();
    EXPECT_EQ(jobs.query()[0].status, JobStatus::concluded);
    EXPECT_EQ(jobs.query()[0].current_progress, 1);
    EXPECT_FALSE(jobs.query()[0].error.has_value());
    // What the worker used is let go on this thread, after it returned.
    EXPECT_EQ(held.use_count(), 1);
}

TEST_F(JobBackgroundTest, CancelEndsTheJobWhenTheWorkerReturns)
{
    start_background();
    EXPECT_EQ(error_of(jobs.user_cancel("bg")), "");
    EXPECT_EQ(jobs.query()[0].status, JobStatus::running);
    release.set_value();
    woken.get_future().wait();
    jobs.reap();
    EXPECT_EQ(jobs.query()[0].status, JobStatus::concluded);
    EXPECT_EQ(jobs.query()[0].error, "Operation canceled");
    EXPECT_EQ(events[events.size() - 2], "bg:aborting");
}

TEST_F(JobBackgroundTest, CancelAllWaitsForTheWorker)
{
    start_background();
    std::thread releaser([this] { release.set_value(); });
    jobs.cancel_all();
    releaser.join();
    EXPECT_TRUE(jobs.query().empty());
    EXPECT_EQ(events.back(), "bg:null");
    EXPECT_EQ(held.use_count(), 1);
}

TEST_F(JobTest, WithoutAMainLoopTheCompletionRunsAtOnce)
{
    jobs.defer = nullptr;
    start("j0", {{}, true});
    EXPECT_EQ(jobs.query()[0].status, JobStatus::concluded);
}

}  // namespace
