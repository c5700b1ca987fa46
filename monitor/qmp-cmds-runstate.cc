// QMP commands about the VM's life: status, stop/cont, quit, system_reset, name. The host keeps the run
// state and emits the events that go with its changes.
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qapi {

qemu::Result<StatusInfo> qmp_query_status(QmpContext& ctx)
{
    return StatusInfo{.running = ctx.host.is_running(), .status = ctx.host.runstate()};
}

qemu::Result<void> qmp_stop(QmpContext& ctx)
{
    ctx.host.stop();
    return {};
}

qemu::Result<void> qmp_cont(QmpContext& ctx)
{
    if (ctx.host.runstate() == RunState::shutdown) {
        return qemu::make_error("Resetting the Virtual Machine is required");
    }
    ctx.host.start();
    return {};
}

qemu::Result<void> qmp_quit(QmpContext& ctx)
{
    ctx.host.request_shutdown(ShutdownCause::host_qmp_quit);
    return {};
}

qemu::Result<void> qmp_system_reset(QmpContext& ctx)
{
    ctx.host.reset(ShutdownCause::host_qmp_system_reset);
    return {};
}

qemu::Result<NameInfo> qmp_query_name(QmpContext& ctx)
{
    return NameInfo{.name = ctx.host.name()};
}

}  // namespace qapi
