// block_set_io_throttle (qapi/block.json), as QEMU's block/qapi-sysemu.c has it: the
// limits go to the backend of a -drive or of a disk device, and stay with the drive across
// its media. Limits that are all 0 take the backend out of its group.
#include <optional>
#include <string>

#include "block/block-devices.h"
#include "block/throttle.h"
#include "monitor/blk-target.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace {

using qemu::block::ThrottleBucket;
using qemu::block::ThrottleConfig;

ThrottleConfig config_of(const qapi::BlockIOThrottle& arg)
{
    ThrottleConfig config;
    struct Limits {
        ThrottleBucket bucket;
        int64_t avg;
        std::optional<int64_t> max;
        std::optional<int64_t> max_length;
    };
    const Limits limits[] = {
        {ThrottleBucket::BpsTotal, arg.bps, arg.bps_max, arg.bps_max_length},
        {ThrottleBucket::BpsRead, arg.bps_rd, arg.bps_rd_max, arg.bps_rd_max_length},
        {ThrottleBucket::BpsWrite, arg.bps_wr, arg.bps_wr_max, arg.bps_wr_max_length},
        {ThrottleBucket::OpsTotal, arg.iops, arg.iops_max, arg.iops_max_length},
        {ThrottleBucket::OpsRead, arg.iops_rd, arg.iops_rd_max, arg.iops_rd_max_length},
        {ThrottleBucket::OpsWrite, arg.iops_wr, arg.iops_wr_max, arg.iops_wr_max_length},
    };
    for (const Limits& l : limits) {
        qemu::block::LeakyBucket& bucket = config[l.bucket];
        bucket.avg = static_cast<double>(l.avg);
        bucket.max = static_cast<double>(l.max.value_or(0));
        // QEMU stores the int in an unsigned field: -1 is a very long burst.
        bucket.burst_length = static_cast<uint64_t>(l.max_length.value_or(1));
    }
    config.op_size = static_cast<uint64_t>(arg.iops_size.value_or(0));
    return config;
}

}  // namespace

namespace qapi {

qemu::Result<void> qmp_block_set_io_throttle(QmpContext& ctx, const BlockIOThrottle& arg)
{
    qemu::block::BlockDevices& devices = ctx.host.block();
    qemu::monitor::BlkTarget target = TRY(qemu::monitor::find_blk_target(devices, arg.device, arg.id));
    // A device on a node holds its own backend; a drive's goes with each medium.
    auto& member = target.drive ? target.drive->throttle : target.disk->throttle;
    qemu::block::BlockBackend* blk = target.drive ? target.drive->blk.get() : target.disk->blk.get();
    if (!blk) {
        return qemu::make_error("Device has no medium");
    }
    const ThrottleConfig config = config_of(arg);
    TRY_VOID(config.validate());
    return devices.set_io_limits(qemu::block::ThrottleTarget{member, blk}, config, arg.group, target.name);
}

}  // namespace qapi
