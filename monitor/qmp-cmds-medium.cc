// The removable-media commands (qapi/block.json), as QEMU's block/qapi-sysemu.c has them.
// A -drive here has no guest device, so, as QEMU does for such a backend, it has no tray:
// its medium may be taken out and put in at will, and no DEVICE_TRAY_MOVED is sent. A disk
// device (virtio-blk) holds its medium fast: its media are not removable.
#include <optional>
#include <string>

#include "block/block-devices.h"
#include "monitor/blk-target.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace {

using qemu::block::BlockDevices;
using qemu::block::Drive;

using Target = qemu::monitor::BlkTarget;
using qemu::monitor::find_blk_target;

qemu::Result<void> refuse_fixed_medium(const Target& target)
{
    if (target.attached()) {
        return qemu::make_error("Device '" + target.name + "' is not removable");
    }
    return {};
}

// blockdev_remove_medium.
qemu::Result<void> remove_medium(BlockDevices& devices, const Target& target)
{
    TRY_VOID(refuse_fixed_medium(target));
    devices.remove_medium(*target.drive);
    return {};
}

// qmp_blockdev_insert_anon_medium.
qemu::Result<void> insert_medium(BlockDevices& devices, const Target& target, qemu::block::BlockNode& node)
{
    if (target.attached()) {
        return qemu::make_error("Device is not removable");
    }
    if (target.drive->blk) {
        return qemu::make_error("There already is a medium in the device");
    }
    return devices.insert_medium(*target.drive, node.shared_from_this());
}

}  // namespace

namespace qapi {

// do_open_tray then blockdev_remove_medium. Without a tray there is nothing to force.
qemu::Result<void> qmp_eject(QmpContext& ctx, const std::optional<std::string>& device,
    const std::optional<std::string>& id, const std::optional<bool>&)
{
    BlockDevices& devices = ctx.host.block();
    Target target = TRY(find_blk_target(devices, device, id));
    TRY_VOID(refuse_fixed_medium(target));
    return remove_medium(devices, target);
}

qemu::Result<void> qmp_blockdev_open_tray(QmpContext& ctx, const std::optional<std::string>& device,
    const std::optional<std::string>& id, const std::optional<bool>&)
{
    Target target = TRY(find_blk_target(ctx.host.block(), device, id));
    return refuse_fixed_medium(target);
}

qemu::Result<void> qmp_blockdev_close_tray(
    QmpContext& ctx, const std::optional<std::string>& device, const std::optional<std::string>& id)
{
    Target target = TRY(find_blk_target(ctx.host.block(), device, id));
    return refuse_fixed_medium(target);
}

qemu::Result<void> qmp_blockdev_remove_medium(QmpContext& ctx, const std::string& id)
{
    BlockDevices& devices = ctx.host.block();
    Target target = TRY(find_blk_target(devices, std::nullopt, id));
    return remove_medium(devices, target);
}

qemu::Result<void> qmp_blockdev_insert_medium(QmpContext& ctx, const std::string& id, const std::string& node_name)
{
    BlockDevices& devices = ctx.host.block();
    Target target = TRY(find_blk_target(devices, std::nullopt, id));
    qemu::block::BlockNode* node = devices.graph().find_node(node_name);
    if (!node) {
        return qemu::make_error("Node '" + node_name + "' not found");
    }
    if (devices.has_backend(*node)) {
        return qemu::make_error("Node '" + node_name + "' is already in use");
    }
    return insert_medium(devices, target, *node);
}

// The new medium opens first, with the flags of the one it replaces (or that the drive
// last had); a failure anywhere leaves the drive as it was, and the new medium closes.
qemu::Result<void> qmp_blockdev_change_medium(QmpContext& ctx, const std::optional<std::string>& device,
    const std::optional<std::string>& id, const std::string& filename, const std::optional<std::string>& format,
    const std::optional<bool>&, const std::optional<BlockdevChangeReadOnlyMode>& read_only_mode)
{
    BlockDevices& devices = ctx.host.block();
    Target target = TRY(find_blk_target(devices, device, id));
    qemu::block::MediumFlags medium;
    if (target.drive) {
        medium = target.drive->blk ? qemu::block::medium_flags_of(target.drive->blk->root()) : target.drive->medium;
    } else if (const qemu::block::GuestDisk* disk = devices.find_guest_disk(target.name); disk && disk->blk) {
        medium = qemu::block::medium_flags_of(disk->blk->root());
    }
    std::optional<bool> read_write;
    if (read_only_mode == BlockdevChangeReadOnlyMode::read_only) {
        read_write = false;
    } else if (read_only_mode == BlockdevChangeReadOnlyMode::read_write) {
        read_write = true;
    }
    auto node = TRY(devices.open_medium(medium, filename, format, read_write));
    TRY_VOID(refuse_fixed_medium(target));
    TRY_VOID(remove_medium(devices, target));
    return insert_medium(devices, target, *node);
}

}  // namespace qapi
