// QMP commands of the block layer: blockdev-add, blockdev-del, blockdev-reopen,
// block_resize, query-block and query-named-block-nodes. They decode, call the host's
// BlockDevices and encode; the graph work happens there and in block/.
#include "block/blockdev-options.h"
#include "block/drivers.h"
#include "block/reopen.h"
#include "monitor/block-info.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qemu::monitor {

namespace {

qapi::BlockdevDetectZeroesOptions detect_zeroes_of(const block::BlockNode& node)
{
    switch (node.flags().detect_zeroes) {
    case block::DetectZeroes::On:
        return qapi::BlockdevDetectZeroesOptions::on;
    case block::DetectZeroes::Unmap:
        return qapi::BlockdevDetectZeroesOptions::unmap;
    case block::DetectZeroes::Off:
        break;
    }
    return qapi::BlockdevDetectZeroesOptions::off;
}

}  // namespace

qapi::BlockDeviceInfo block_device_info(block::BlockNode& node, block::BlockBackend* blk)
{
    qapi::ImageInfo image{.filename = node.filename(), .format = std::string(node.driver().format_name)};
    if (auto size = node.allocated_file_size()) {
        image.actual_size = *size;
    }
    image.virtual_size = node.length().value_or(0);
    // Only a node that answers bdrv_get_info (not null-co) reports whether it is dirty.
    if (auto info = node.info()) {
        image.dirty_flag = false;
        if (info->cluster_size > 0) {
            image.cluster_size = info->cluster_size;
        }
    }
    return qapi::BlockDeviceInfo{
        .file = node.filename(),
        .node_name = node.node_name(),
        .ro = node.read_only(),
        .drv = std::string(node.driver().format_name),
        .backing_file = std::nullopt,
        .backing_file_depth = 0,
        .encrypted = false,
        .detect_zeroes = detect_zeroes_of(node),
        .bps = 0,
        .bps_rd = 0,
        .bps_wr = 0,
        .iops = 0,
        .iops_rd = 0,
        .iops_wr = 0,
        .image = std::move(image),
        .cache = qapi::BlockdevCacheInfo{.writeback = blk ? blk->write_cache_enabled() : true,
            .direct = node.flags().cache_direct,
            .no_flush = node.flags().no_flush},
        .write_threshold = 0,
    };
}

}  // namespace qemu::monitor

namespace qapi {

qemu::Result<void> qmp_blockdev_add(QmpContext& ctx, const BlockdevOptions& arg)
{
    auto options = TRY(qemu::block::flatten_blockdev_options(arg));
    return ctx.host.block().add_node(std::move(options));
}

qemu::Result<void> qmp_blockdev_del(QmpContext& ctx, const std::string& node_name)
{
    return ctx.host.block().del_node(node_name);
}

qemu::Result<void> qmp_blockdev_reopen(QmpContext& ctx, const std::vector<BlockdevOptions>& options)
{
    for (const BlockdevOptions& one : options) {
        if (!one.node_name) {
            return qemu::make_error("node-name not specified");
        }
        auto flat = TRY(qemu::block::flatten_blockdev_options(one));
        TRY_VOID(ctx.host.block().reopen_node(std::move(flat)));
    }
    return {};
}

qemu::Result<void> qmp_block_resize(QmpContext& ctx, const std::optional<std::string>& device,
    const std::optional<std::string>& node_name, int64_t size)
{
    qemu::block::BlockDevices& devices = ctx.host.block();
    qemu::block::BlockNode* node = nullptr;
    if (device) {
        if (qemu::block::Drive* drive = devices.find_drive(*device)) {
            if (!drive->blk) {
                return qemu::make_error("Device '" + *device + "' has no medium");
            }
            node = &drive->blk->root();
        }
    }
    if (!node && node_name) {
        node = devices.graph().find_node(*node_name);
    }
    if (!node) {
        return qemu::make_error(
            "Cannot find device='" + device.value_or("") + "' nor node-name='" + node_name.value_or("") + "'");
    }
    if (size < 0) {
        return qemu::make_error("Parameter 'size' expects a >0 size");
    }
    if (node->read_only()) {
        return qemu::make_error("Image is read-only");
    }
    // An auto-read-only image asks its fd set for write access now.
    if (!qemu::block::has_write_access(*node)) {
        TRY_VOID(qemu::block::reopen_file_access(*node, true));
    }
    auto blk = TRY(qemu::block::BlockBackend::attach(
        node->shared_from_this(), qemu::block::perm::kResize, qemu::block::perm::kAll));
    return blk->truncate(size);
}

qemu::Result<std::vector<BlockInfo>> qmp_query_block(QmpContext& ctx)
{
    std::vector<BlockInfo> result;
    for (qemu::block::Drive& drive : ctx.host.block().drives()) {
        BlockInfo info{.device = drive.id, .type = "unknown", .removable = true, .locked = false};
        if (drive.blk) {
            info.inserted = qemu::monitor::block_device_info(drive.blk->root(), drive.blk.get());
        }
        result.push_back(std::move(info));
    }
    return result;
}

qemu::Result<std::vector<BlockDeviceInfo>> qmp_query_named_block_nodes(QmpContext& ctx, const std::optional<bool>&)
{
    // Without backing chains, flat and nested listings are the same.
    std::vector<BlockDeviceInfo> result;
    qemu::block::BlockDevices& devices = ctx.host.block();
    // Like QEMU, the node listing knows no backends, so it reports writeback caching.
    for (qemu::block::BlockNode* node : devices.nodes_in_order()) {
        result.push_back(qemu::monitor::block_device_info(*node, nullptr));
    }
    return result;
}

}  // namespace qapi
