// Matching the current filesystem against the host tree (see commit-plan.h).
#include "block/vvfat/commit/commit-plan.h"

#include <unordered_map>

#include "block/vvfat/commit/fat-table.h"

namespace qemu::block::vvfat {

bool CommitPlan::empty() const
{
    for (size_t i = 1; i < host_id.size(); ++i) {
        if (host_id[i] == HostTree::kNone || moved[i] || data_changed[i]) {
            return false;
        }
    }
    return deleted.empty();
}

bool cluster_needs_write(
    const HostNode* before, const FsNode& now, size_t i, const FatGeometry& geometry, const DirtySectors& dirty)
{
    if (dirty.any_in(cluster_first_sector(geometry, now.chain[i]), geometry.sectors_per_cluster)) {
        return true;
    }
    return before == nullptr || i >= before->chain.size() || before->chain[i] != now.chain[i];
}

CommitPlan plan_commit(
    const HostTree& host, const FsTree& current, const FatGeometry& geometry, const DirtySectors& dirty)
{
    const size_t count = current.nodes.size();
    CommitPlan plan;
    plan.host_id.assign(count, HostTree::kNone);
    plan.moved.assign(count, false);
    plan.data_changed.assign(count, false);
    plan.host_id[0] = HostTree::kRoot;

    std::unordered_map<uint32_t, uint32_t> by_cluster;  // first cluster -> host id
    for (const auto& [id, node] : host.nodes()) {
        if (id != HostTree::kRoot && node.first_cluster != 0) {
            by_cluster.emplace(node.first_cluster, id);
        }
    }
    std::unordered_map<uint32_t, bool> taken;
    for (size_t i = 1; i < count; ++i) {
        const FsNode& now = current.nodes[i];
        if (now.first_cluster == 0) {
            continue;
        }
        auto it = by_cluster.find(now.first_cluster);
        if (it != by_cluster.end() && host.node(it->second).is_directory == now.is_directory) {
            plan.host_id[i] = it->second;
            taken[it->second] = true;
        }
    }
    // Parents come before children, so a parent's match is known when its children look for
    // a host node of the same name beneath it.
    for (size_t i = 1; i < count; ++i) {
        const FsNode& now = current.nodes[i];
        uint32_t parent = plan.host_id[now.parent];
        if (plan.host_id[i] != HostTree::kNone || parent == HostTree::kNone) {
            continue;
        }
        uint32_t id = host.find_child(parent, now.name);
        if (id != HostTree::kNone && !taken.contains(id) && host.node(id).is_directory == now.is_directory) {
            plan.host_id[i] = id;
            taken[id] = true;
        }
    }
    for (size_t i = 1; i < count; ++i) {
        const FsNode& now = current.nodes[i];
        uint32_t id = plan.host_id[i];
        const HostNode* before = id == HostTree::kNone ? nullptr : &host.node(id);
        if (before) {
            plan.moved[i] = before->parent != plan.host_id[now.parent] || before->name != now.name;
        }
        if (now.is_directory) {
            continue;
        }
        bool changed = before == nullptr ? now.size != 0 : before->size != now.size || before->chain != now.chain;
        for (size_t c = 0; !changed && c < now.chain.size(); ++c) {
            changed = cluster_needs_write(before, now, c, geometry, dirty);
        }
        plan.data_changed[i] = changed;
    }
    for (const auto& [id, node] : host.nodes()) {
        if (id != HostTree::kRoot && !taken.contains(id)) {
            plan.deleted.push_back(id);
        }
    }
    return plan;
}

}  // namespace qemu::block::vvfat
