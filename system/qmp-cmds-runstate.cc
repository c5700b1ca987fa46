// QMP commands about the VM's life: status, stop/cont, quit, name, machines.
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"
#include "system/vm.h"

namespace qapi {

qemu::Result<StatusInfo> qmp_query_status(QmpContext& ctx)
{
    return StatusInfo{.running = ctx.vm.is_running(), .status = ctx.vm.runstate()};
}

qemu::Result<void> qmp_stop(QmpContext& ctx)
{
    ctx.vm.stop();
    return {};
}

qemu::Result<void> qmp_cont(QmpContext& ctx)
{
    if (ctx.vm.runstate() == RunState::shutdown) {
        return qemu::make_error("Resetting the Virtual Machine is required");
    }
    ctx.vm.start();
    return {};
}

qemu::Result<void> qmp_quit(QmpContext& ctx)
{
    ctx.vm.request_shutdown(ShutdownCause::host_qmp_quit);
    return {};
}

qemu::Result<NameInfo> qmp_query_name(QmpContext& ctx)
{
    return NameInfo{.name = ctx.vm.name};
}

}  // namespace qapi
