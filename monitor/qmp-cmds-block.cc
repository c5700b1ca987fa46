// QMP commands of the block layer: blockdev-add, blockdev-del, blockdev-reopen,
// block_resize, query-block, query-named-block-nodes and the (empty) job queries. They
// decode, call the host's BlockDevices and encode; the graph work happens there and in
// block/.
#include <algorithm>
#include <cerrno>
#include <map>
#include <ranges>
#include <string>
#include <vector>

#include "block/blockdev-options.h"
#include "block/drivers.h"
#include "block/reopen.h"
#include "monitor/block-info.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-visit.h"

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

qapi::ImageInfo image_info(block::BlockNode& node)
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
    if (node.driver().get_specific_info) {
        // The driver's JSON goes through the schema's decoder, so what it reports is what
        // the schema says ImageInfoSpecific is; what does not fit is left out.
        if (auto specific = node.driver().get_specific_info(node); specific && *specific) {
            if (auto decoded = qapi::from_json<qapi::ImageInfoSpecific>(**specific, "format-specific")) {
                image.format_specific = std::move(*decoded);
            }
        }
    }
    if (!node.backing_file().empty()) {
        image.backing_filename = node.backing_file();
        if (auto full = block::full_backing_filename(node)) {
            image.full_backing_filename = *full;
        }
        if (!node.backing_format().empty()) {
            image.backing_filename_format = node.backing_format();
        }
    }
    return image;
}

namespace {

// bdrv_block_device_info's throttling part: the averages always, a burst rate (with its
// length) and iops-size only where set.
void add_throttle_info(qapi::BlockDeviceInfo& info, const block::ThrottleGroupMember& throttle)
{
    using block::ThrottleBucket;
    const block::ThrottleConfig config = throttle.config();
    auto avg = [&config](ThrottleBucket b) { return static_cast<int64_t>(config[b].avg); };
    info.bps = avg(ThrottleBucket::BpsTotal);
    info.bps_rd = avg(ThrottleBucket::BpsRead);
    info.bps_wr = avg(ThrottleBucket::BpsWrite);
    info.iops = avg(ThrottleBucket::OpsTotal);
    info.iops_rd = avg(ThrottleBucket::OpsRead);
    info.iops_wr = avg(ThrottleBucket::OpsWrite);
    struct Burst {
        ThrottleBucket bucket;
        std::optional<int64_t>& max;
        std::optional<int64_t>& length;
    };
    const Burst bursts[] = {
        {ThrottleBucket::BpsTotal, info.bps_max, info.bps_max_length},
        {ThrottleBucket::BpsRead, info.bps_rd_max, info.bps_rd_max_length},
        {ThrottleBucket::BpsWrite, info.bps_wr_max, info.bps_wr_max_length},
        {ThrottleBucket::OpsTotal, info.iops_max, info.iops_max_length},
        {ThrottleBucket::OpsRead, info.iops_rd_max, info.iops_rd_max_length},
        {ThrottleBucket::OpsWrite, info.iops_wr_max, info.iops_wr_max_length},
    };
    for (const Burst& burst : bursts) {
        if (config[burst.bucket].max != 0) {
            burst.max = static_cast<int64_t>(config[burst.bucket].max);
            burst.length = static_cast<int64_t>(config[burst.bucket].burst_length);
        }
    }
    if (config.op_size != 0) {
        info.iops_size = static_cast<int64_t>(config.op_size);
    }
    info.group = throttle.group_name();
}

}  // namespace

qapi::BlockDeviceInfo block_device_info(block::BlockNode& node, block::BlockBackend* blk, bool flat)
{
    int64_t depth = 0;
    qapi::ImageInfo image = image_info(node);
    if (!flat) {
        // QEMU nests each backing image's ImageInfo as backing-image and counts the chain.
        qapi::ImageInfo* below = &image;
        for (block::BlockNode* at = node.backing(); at; at = at->backing()) {
            depth++;
            below->backing_image = image_info(*at);
            below = &*below->backing_image;
        }
    }
    qapi::BlockDeviceInfo info{
        .file = node.filename(),
        .node_name = node.node_name(),
        .ro = node.read_only(),
        .drv = std::string(node.driver().format_name),
        // The backing node's name, as QEMU's bdrv_block_device_info reports it; the name the
        // image itself holds is image.backing-filename.
        .backing_file = node.backing() ? std::optional(node.backing()->filename()) : std::nullopt,
        .backing_file_depth = depth,
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
        .write_threshold = static_cast<int64_t>(node.write_threshold()),
    };
    for (const auto& bitmap : node.dirty_bitmaps().list()) {
        if (!info.dirty_bitmaps) {
            info.dirty_bitmaps.emplace();
        }
        info.dirty_bitmaps->push_back(qapi::BlockDirtyInfo{.name = bitmap->name(),
            .count = bitmap->count(),
            .granularity = bitmap->granularity(),
            .recording = bitmap->recording(),
            .busy = bitmap->busy(),
            .persistent = false});
    }
    if (const block::ThrottleGroupMember* throttle = blk ? blk->throttle() : nullptr) {
        add_throttle_info(info, *throttle);
    }
    return info;
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
    qemu::block::BlockNode* node = TRY(ctx.host.block().lookup_bs(device, node_name));
    if (size < 0) {
        return qemu::make_error("Parameter 'size' expects a >0 size");
    }
    // QEMU's qmp_block_resize: the resize permission first (another user may refuse it),
    // then the truncate, which refuses a read-only node ("Image is read-only").
    auto blk = TRY(qemu::block::BlockBackend::attach(
        node->shared_from_this(), qemu::block::perm::kResize, qemu::block::perm::kAll));
    return blk->truncate(size);
}

qemu::Result<void> qmp_change_backing_file(
    QmpContext& ctx, const std::string& device, const std::string& image_node_name, const std::string& backing_file)
{
    qemu::block::BlockDevices& devices = ctx.host.block();
    qemu::block::BlockNode* root = TRY(devices.get_root_bs(device));
    qemu::block::BlockNode* image = TRY(devices.lookup_bs(std::nullopt, image_node_name));
    if (!image->backing()) {
        return qemu::make_error("not allowing backing file change on an image without a backing file");
    }
    // bdrv_chain_contains: down the backing files and through filters.
    bool in_chain = false;
    for (qemu::block::BlockNode* at = root; at && !in_chain; at = at->backing() ? at->backing()
             : at->driver().is_filter                                           ? at->primary_child()
                                                                                : nullptr) {
        in_chain = at == image;
    }
    if (!in_chain) {
        return qemu::make_error("'" + device + "' and image file are not in the same chain");
    }
    // QEMU opens a read-only image read-write for the change and back afterwards.
    bool read_only = image->read_only();
    if (read_only) {
        TRY_VOID(qemu::block::reopen_set_read_only(*image, false));
    }
    // bdrv_change_backing_file: no driver here rewrites its backing file name.
    auto changed = qemu::make_errno_error(ENOTSUP, "Could not change backing file to '" + backing_file + "'");
    if (read_only) {
        (void)qemu::block::reopen_set_read_only(*image, true);
    }
    return changed;
}

qemu::Result<void> qmp_block_set_write_threshold(
    QmpContext& ctx, const std::string& node_name, uint64_t write_threshold)
{
    qemu::block::BlockNode* node = ctx.host.block().graph().find_node(node_name);
    if (!node) {
        return qemu::make_error("Device '" + node_name + "' not found");
    }
    node->set_write_threshold(write_threshold);
    return {};
}

// bdrv_get_xdbg_block_graph: the backends (creation order: -drive ones, then those of
// devices on nodes), then every node in the order it was named; each numbered when first
// met, as an edge's child or in its own turn. QEMU builds both lists by prepending, so
// they come out last first.
qemu::Result<XDbgBlockGraph> qmp_x_debug_query_block_graph(QmpContext& ctx)
{
    qemu::block::BlockDevices& devices = ctx.host.block();
    std::map<const void*, uint64_t> ids;
    auto id_of = [&ids](const void* key) { return ids.try_emplace(key, ids.size() + 1).first->second; };
    auto perms = [](uint64_t bits) {
        std::vector<BlockPermission> out;
        for (int bit = 0; bit < qemu::block::perm::kCount; ++bit) {
            if (bits & (uint64_t{1} << bit)) {
                out.insert(out.begin(), static_cast<BlockPermission>(bit));
            }
        }
        return out;
    };
    XDbgBlockGraph graph;
    auto add_node = [&](const void* key, XDbgBlockGraphNodeType type, std::string name) {
        graph.nodes.insert(
            graph.nodes.begin(), XDbgBlockGraphNode{.id = id_of(key), .type = type, .name = std::move(name)});
    };
    auto add_edge = [&](const void* parent, const qemu::block::BlockNode& child, std::string name,
                        std::pair<uint64_t, uint64_t> held) {
        uint64_t parent_id = id_of(parent);
        graph.edges.insert(graph.edges.begin(),
            XDbgBlockGraphEdge{.parent = parent_id,
                .child = id_of(&child),
                .name = std::move(name),
                .perm = perms(held.first),
                .shared_perm = perms(held.second)});
    };
    auto add_backend = [&](qemu::block::BlockBackend* blk, const void* key, const std::string& name) {
        add_node(key, XDbgBlockGraphNodeType::block_backend, name);
        if (blk) {
            add_edge(key, blk->root(), "root", {blk->perm(), blk->shared_perm()});
        }
    };
    for (qemu::block::Drive& drive : devices.drives()) {
        add_backend(drive.blk.get(), &drive, drive.id);
    }
    for (const qemu::block::GuestDisk& disk : devices.guest_disks()) {
        if (disk.drive.empty()) {
            add_backend(disk.blk.get(), &disk, disk.id.empty() ? disk.path : disk.id);
        }
    }
    std::vector<qemu::block::BlockNode*> nodes = devices.graph().nodes();
    std::ranges::sort(nodes, {}, &qemu::block::BlockNode::serial);
    for (qemu::block::BlockNode* node : nodes) {
        add_node(node, XDbgBlockGraphNodeType::block_driver, node->node_name());
        // bs->children has the newest child first.
        for (const qemu::block::BdrvChild& child : std::views::reverse(node->children())) {
            add_edge(node, *child.node, child.name, child.node->perm_of(node));
        }
    }
    return graph;
}

qemu::Result<std::vector<BlockInfo>> qmp_query_block(QmpContext& ctx)
{
    std::vector<BlockInfo> result;
    qemu::block::BlockDevices& devices = ctx.host.block();
    // A disk device makes its drive non-removable and reports its I/O status, as
    // virtio-blk does in QEMU; qdev is the device's id, or its path without one.
    auto attach = [](BlockInfo& info, const qemu::block::GuestDisk& disk) {
        info.qdev = disk.id.empty() ? disk.path : disk.id;
        info.removable = false;
        info.io_status = BlockDeviceIoStatus::ok;
    };
    for (qemu::block::Drive& drive : devices.drives()) {
        BlockInfo info{.device = drive.id, .type = "unknown", .removable = true, .locked = false};
        if (drive.blk) {
            info.inserted = qemu::monitor::block_device_info(drive.blk->root(), drive.blk.get());
        }
        if (const qemu::block::GuestDisk* disk = devices.guest_disk_on_drive(drive.id)) {
            attach(info, *disk);
        }
        result.push_back(std::move(info));
    }
    // Devices on a node hold an anonymous backend, listed without a device name, as is the
    // empty one a device keeps after drive_del.
    for (const qemu::block::GuestDisk& disk : devices.guest_disks()) {
        if (disk.drive.empty()) {
            BlockInfo info{.device = "", .type = "unknown", .removable = false, .locked = false};
            if (disk.blk) {
                info.inserted = qemu::monitor::block_device_info(disk.blk->root(), disk.blk.get());
            }
            attach(info, disk);
            result.push_back(std::move(info));
        }
    }
    return result;
}

// No block job runs here (blockdev-create's job is no block job): libvirt still asks,
// for instance when it reconnects to a running emulator.
qemu::Result<std::vector<BlockJobInfo>> qmp_query_block_jobs(QmpContext&)
{
    return std::vector<BlockJobInfo>{};
}

qemu::Result<std::vector<BlockDeviceInfo>> qmp_query_named_block_nodes(QmpContext& ctx, const std::optional<bool>& flat)
{
    std::vector<BlockDeviceInfo> result;
    qemu::block::BlockDevices& devices = ctx.host.block();
    // Like QEMU, the node listing knows no backends, so it reports writeback caching.
    for (qemu::block::BlockNode* node : devices.nodes_in_order()) {
        result.push_back(qemu::monitor::block_device_info(*node, nullptr, flat.value_or(false)));
    }
    return result;
}

}  // namespace qapi
