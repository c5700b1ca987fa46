// QMP commands describing the machine: there is one, "none", with no CPUs, in the
// x86_64 binary.
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qapi {

qemu::Result<std::vector<MachineInfo>> qmp_query_machines(QmpContext&, const std::optional<bool>&)
{
    MachineInfo none;
    none.name = "none";
    none.is_default = true;
    none.cpu_max = 1;
    none.hotpluggable_cpus = false;
    none.numa_mem_supported = false;
    none.deprecated = false;
    none.acpi = false;
    // The same machine under a second name: libvirt will not start a domain on "none".
    MachineInfo empty = none;
    empty.name = "empty";
    empty.is_default = {};
    return std::vector<MachineInfo>{none, empty};
}

qemu::Result<TargetInfo> qmp_query_target(QmpContext&)
{
    return TargetInfo{.arch = SysEmuTarget::x86_64};
}

qemu::Result<std::vector<CpuInfoFast>> qmp_query_cpus_fast(QmpContext&)
{
    return std::vector<CpuInfoFast>{};
}

// No -object iothread: every device runs in the main loop.
qemu::Result<std::vector<IOThreadInfo>> qmp_query_iothreads(QmpContext&)
{
    return std::vector<IOThreadInfo>{};
}

}  // namespace qapi
