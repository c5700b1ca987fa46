// The job commands (qapi/job.json, QEMU's job-qmp.c) and blockdev-create, which starts
// the only job there is here. Each decodes, calls the job registry and encodes.
#include "block/block-devices.h"
#include "block/blockdev-create.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qapi {

qemu::Result<void> qmp_blockdev_create(QmpContext& ctx, const std::string& job_id, const BlockdevCreateOptions& options)
{
    qemu::block::BlockDevices& devices = ctx.host.block();
    auto work = TRY(qemu::block::prepare_blockdev_create(devices, options));
    qemu::block::Job* job = TRY(devices.jobs().create(job_id, JobType::create, {.manual_dismiss = true}));
    devices.jobs().start(*job, work);
    return {};
}

qemu::Result<void> qmp_job_pause(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().user_pause(id);
}

qemu::Result<void> qmp_job_resume(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().user_resume(id);
}

qemu::Result<void> qmp_job_cancel(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().user_cancel(id);
}

qemu::Result<void> qmp_job_complete(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().complete(id);
}

qemu::Result<void> qmp_job_dismiss(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().dismiss(id);
}

qemu::Result<void> qmp_job_finalize(QmpContext& ctx, const std::string& id)
{
    return ctx.host.block().jobs().finalize(id);
}

qemu::Result<std::vector<JobInfo>> qmp_query_jobs(QmpContext& ctx)
{
    return ctx.host.block().jobs().query();
}

}  // namespace qapi
