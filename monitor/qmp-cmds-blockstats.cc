// QMP query-blockstats and HMP `info blockstats`: QEMU's I/O accounting. A backend counts
// what its user accounts (block/block-acct.h: qemu-io's aio_* commands; no device here
// does I/O). Every node reports the end of the highest write it got, and the file
// protocols count their discards.
#include <string>

#include "monitor/blk-target.h"
#include "monitor/block-info.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qemu::monitor {

namespace {

// bdrv_query_bds_stats: the child whose statistics are reported as `parent` is the
// primary child when it holds data (or is filtered), else the only child that does.
block::BlockNode* data_child(block::BlockNode& node)
{
    constexpr unsigned kHoldsData = block::child_role::kData | block::child_role::kFiltered;
    for (const block::BdrvChild& child : node.children()) {
        if ((child.role & block::child_role::kPrimary) && (child.role & kHoldsData)) {
            return child.node.get();
        }
    }
    block::BlockNode* only = nullptr;
    for (const block::BdrvChild& child : node.children()) {
        if (child.role & kHoldsData) {
            if (only) {
                return nullptr;
            }
            only = child.node.get();
        }
    }
    return only;
}

std::optional<qapi::BlockStatsSpecific> driver_stats(block::BlockNode& node)
{
    if (!node.driver().discard_stats) {
        return std::nullopt;
    }
    auto driver = qapi::BlockdevDriver_parse(node.driver().format_name);
    if (!driver) {
        return std::nullopt;
    }
    block::DiscardStats counted = node.driver().discard_stats(node);
    qapi::BlockStatsSpecificFile file{
        .discard_nb_ok = counted.nb_ok, .discard_nb_failed = counted.nb_failed, .discard_bytes_ok = counted.bytes_ok};
    qapi::BlockStatsSpecific specific{.driver = *driver};
    if (*driver == qapi::BlockdevDriver::host_device) {
        specific.u.host_device = file;
    } else {
        specific.u.file = file;
    }
    return specific;
}

// bdrv_query_bds_stats: a node's own figures, its data child's as `parent` and, for a
// backend's tree, its backing file's as `backing`.
qapi::BlockStats node_stats(block::BlockNode* node, bool blk_level)
{
    qapi::BlockStats stats;
    if (!node) {
        return stats;
    }
    stats.node_name = node->node_name();
    stats.stats.wr_highest_offset = node->wr_highest_offset();
    stats.driver_specific = driver_stats(*node);
    if (block::BlockNode* below = data_child(*node)) {
        stats.parent = node_stats(below, blk_level);
    }
    if (blk_level && node->backing()) {
        stats.backing = node_stats(node->backing(), blk_level);
    }
    return stats;
}

// bdrv_query_blk_stats: a backend's entry, its node's figures under what the backend's
// user accounted.
// A drive's accounting outlives its media, so one without a medium still reports it.
qapi::BlockStats backend_stats(
    block::BlockNode* root, block::BlockAcctStats& acct, std::string device, std::optional<std::string> qdev)
{
    qapi::BlockStats stats = node_stats(root, true);
    stats.device = std::move(device);
    stats.qdev = std::move(qdev);
    qapi::BlockDeviceStats& s = stats.stats;
    s.account_invalid = acct.account_invalid();
    s.account_failed = acct.account_failed();
    auto read = acct.counts(block::AcctType::Read);
    auto write = acct.counts(block::AcctType::Write);
    auto flush = acct.counts(block::AcctType::Flush);
    auto unmap = acct.counts(block::AcctType::Unmap);
    s.rd_bytes = read.bytes;
    s.wr_bytes = write.bytes;
    s.unmap_bytes = unmap.bytes;
    s.rd_operations = read.ops;
    s.wr_operations = write.ops;
    s.flush_operations = flush.ops;
    s.unmap_operations = unmap.ops;
    s.rd_total_time_ns = read.total_time_ns;
    s.wr_total_time_ns = write.total_time_ns;
    s.flush_total_time_ns = flush.total_time_ns;
    s.unmap_total_time_ns = unmap.total_time_ns;
    // rd_merged, wr_merged and unmap_merged stay 0: only a device merges requests.
    s.idle_time_ns = acct.idle_time_ns();
    s.failed_rd_operations = read.failed;
    s.failed_wr_operations = write.failed;
    s.failed_flush_operations = flush.failed;
    s.failed_unmap_operations = unmap.failed;
    s.invalid_rd_operations = read.invalid;
    s.invalid_wr_operations = write.invalid;
    s.invalid_flush_operations = flush.invalid;
    s.invalid_unmap_operations = unmap.invalid;
    using Kind = block::BlockAcctStats::HistogramKind;
    auto histogram = [&acct](Kind kind) -> std::optional<qapi::BlockLatencyHistogramInfo> {
        auto h = acct.histogram(kind);
        if (!h) {
            return std::nullopt;
        }
        return qapi::BlockLatencyHistogramInfo{.boundaries = std::move(h->boundaries), .bins = std::move(h->bins)};
    };
    s.x_rd_latency_histogram = histogram(Kind::Read);
    s.x_wr_latency_histogram = histogram(Kind::Write);
    s.x_zone_append_latency_histogram = histogram(Kind::ZoneAppend);
    s.x_flush_latency_histogram = histogram(Kind::Flush);
    // Zone appends never happen here, so their figures stay 0.
    for (const block::BlockAcctStats::Interval& interval : acct.intervals()) {
        auto ns = [](uint64_t value) { return static_cast<int64_t>(value); };
        s.timed_stats.push_back(qapi::BlockDeviceTimedStats{.interval_length = ns(interval.length_s),
            .min_rd_latency_ns = ns(interval.min_ns[0]),
            .max_rd_latency_ns = ns(interval.max_ns[0]),
            .avg_rd_latency_ns = ns(interval.avg_ns[0]),
            .min_wr_latency_ns = ns(interval.min_ns[1]),
            .max_wr_latency_ns = ns(interval.max_ns[1]),
            .avg_wr_latency_ns = ns(interval.avg_ns[1]),
            .min_flush_latency_ns = ns(interval.min_ns[2]),
            .max_flush_latency_ns = ns(interval.max_ns[2]),
            .avg_flush_latency_ns = ns(interval.avg_ns[2]),
            .avg_rd_queue_depth = interval.avg_rd_queue_depth,
            .avg_wr_queue_depth = interval.avg_wr_queue_depth});
    }
    return stats;
}

std::vector<qapi::BlockStats> query_blockstats(qapi::QmpContext& ctx, bool query_nodes)
{
    std::vector<qapi::BlockStats> result;
    block::BlockDevices& devices = ctx.host.block();
    if (query_nodes) {
        // bdrv_next_node walks the nodes oldest first, the other way round from
        // query-named-block-nodes.
        auto nodes = devices.nodes_in_order();
        for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
            result.push_back(node_stats(*it, false));
        }
        return result;
    }
    auto qdev_of = [](const block::GuestDisk* disk) -> std::optional<std::string> {
        if (!disk) {
            return std::nullopt;
        }
        return disk->id.empty() ? disk->path : disk->id;
    };
    for (block::Drive& drive : devices.drives()) {
        result.push_back(backend_stats(drive.blk ? &drive.blk->root() : nullptr, *drive.acct, drive.id,
            qdev_of(devices.guest_disk_on_drive(drive.id))));
    }
    for (const block::GuestDisk& disk : devices.guest_disks()) {
        if (disk.blk) {
            result.push_back(backend_stats(&disk.blk->root(), disk.blk->acct_stats(), "", qdev_of(&disk)));
        } else if (disk.drive.empty() && disk.acct) {
            result.push_back(backend_stats(nullptr, *disk.acct, "", qdev_of(&disk)));
        }
    }
    return result;
}

}  // namespace

std::string hmp_info_blockstats(qapi::QmpContext& ctx)
{
    std::string out;
    for (const qapi::BlockStats& entry : query_blockstats(ctx, false)) {
        if (!entry.device) {
            continue;
        }
        const qapi::BlockDeviceStats& s = entry.stats;
        const std::pair<const char*, int64_t> fields[] = {{"rd_bytes", s.rd_bytes}, {"wr_bytes", s.wr_bytes},
            {"rd_operations", s.rd_operations}, {"wr_operations", s.wr_operations},
            {"flush_operations", s.flush_operations}, {"wr_total_time_ns", s.wr_total_time_ns},
            {"rd_total_time_ns", s.rd_total_time_ns}, {"flush_total_time_ns", s.flush_total_time_ns},
            {"rd_merged", s.rd_merged}, {"wr_merged", s.wr_merged}, {"idle_time_ns", s.idle_time_ns.value_or(0)}};
        out += *entry.device + ":";
        for (const auto& [name, value] : fields) {
            out += std::string(" ") + name + "=" + std::to_string(value);
        }
        out += "\n";
    }
    return out;
}

}  // namespace qemu::monitor

namespace qapi {

qemu::Result<std::vector<BlockStats>> qmp_query_blockstats(QmpContext& ctx, const std::optional<bool>& query_nodes)
{
    return qemu::monitor::query_blockstats(ctx, query_nodes.value_or(false));
}

qemu::Result<void> qmp_block_latency_histogram_set(QmpContext& ctx, const std::string& id,
    const std::optional<std::vector<uint64_t>>& boundaries, const std::optional<std::vector<uint64_t>>& boundaries_read,
    const std::optional<std::vector<uint64_t>>& boundaries_write,
    const std::optional<std::vector<uint64_t>>& boundaries_zap,
    const std::optional<std::vector<uint64_t>>& boundaries_flush)
{
    // qmp_get_blk(NULL, id): a device only.
    qemu::monitor::BlkTarget target = TRY(qemu::monitor::find_blk_target(ctx.host.block(), std::nullopt, id));
    qemu::block::BlockAcctStats& stats = target.drive ? *target.drive->acct
        : target.disk->blk                            ? target.disk->blk->acct_stats()
                                                      : *target.disk->acct;
    if (!boundaries && !boundaries_read && !boundaries_write && !boundaries_zap && !boundaries_flush) {
        stats.clear_histograms();
        return {};
    }
    using Kind = qemu::block::BlockAcctStats::HistogramKind;
    struct Which {
        Kind kind;
        const std::optional<std::vector<uint64_t>>& own;
        const char* what;
    };
    for (const Which& which :
        {Which{Kind::Read, boundaries_read, "read"}, Which{Kind::Write, boundaries_write, "write"},
            Which{Kind::ZoneAppend, boundaries_zap, "zone append write"},
            Which{Kind::Flush, boundaries_flush, "flush"}}) {
        if (!boundaries && !which.own) {
            continue;
        }
        if (!stats.set_histogram(which.kind, which.own ? *which.own : *boundaries)) {
            return qemu::make_error("Device '" + id + "' set " + which.what + " boundaries fail");
        }
    }
    return {};
}

}  // namespace qapi
