// The events a format driver (or the generic I/O layer) raises on a node as it works, QEMU's
// BlkdebugEvent: blkdebug's rules fire on them, and qemu-io's `break` stops a request at
// one. Any other driver ignores them. The names are QEMU's, in its schema's order.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace qemu::block {

enum class BlkdebugEvent {
    L1Update,
    L1GrowAllocTable,
    L1GrowWriteTable,
    L1GrowActivateTable,
    L2Load,
    L2Update,
    L2UpdateCompressed,
    L2AllocCowRead,
    L2AllocWrite,
    ReadAio,
    ReadBackingAio,
    ReadCompressed,
    WriteAio,
    WriteCompressed,
    VmstateLoad,
    VmstateSave,
    CowRead,
    CowWrite,
    ReftableLoad,
    ReftableGrow,
    ReftableUpdate,
    RefblockLoad,
    RefblockUpdate,
    RefblockUpdatePart,
    RefblockAlloc,
    RefblockAllocHookup,
    RefblockAllocWrite,
    RefblockAllocWriteBlocks,
    RefblockAllocWriteTable,
    RefblockAllocSwitchTable,
    ClusterAlloc,
    ClusterAllocBytes,
    ClusterFree,
    FlushToOs,
    FlushToDisk,
    PwritevRmwHead,
    PwritevRmwAfterHead,
    PwritevRmwTail,
    PwritevRmwAfterTail,
    Pwritev,
    PwritevZero,
    PwritevDone,
    EmptyImagePrepare,
    L1ShrinkWriteTable,
    L1ShrinkFreeL2Clusters,
    CorWrite,
    ClusterAllocSpace,
    None,
};

constexpr size_t kBlkdebugEventCount = static_cast<size_t>(BlkdebugEvent::None) + 1;

std::string_view blkdebug_event_name(BlkdebugEvent event);
// The event a name stands for, as QEMU's enum lookup: exact and case-sensitive.
std::optional<BlkdebugEvent> parse_blkdebug_event(std::string_view name);

}  // namespace qemu::block
