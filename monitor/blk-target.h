// The backend a block command names (QEMU's qmp_get_blk): a -drive by its id (`device`),
// or the backend of a disk device by the device's id (`id`). The removable-media commands
// and block_set_io_throttle find theirs this way, with QEMU's errors.
#pragma once

#include <optional>
#include <string>

#include "block/block-devices.h"
#include "util/error.h"

namespace qemu::monitor {

struct BlkTarget {
    block::Drive* drive = nullptr;  // null for a device on a node (its backend is anonymous)
    block::GuestDisk* disk = nullptr;  // the device holding it, if any
    std::string name;  // device, else id: how the messages call it

    bool attached() const { return disk != nullptr; }
};

Result<BlkTarget> find_blk_target(
    block::BlockDevices& devices, const std::optional<std::string>& device, const std::optional<std::string>& id);

}  // namespace qemu::monitor
