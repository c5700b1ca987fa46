// What a commit has to do: the consistent current filesystem matched against the host tree.
// Nodes are matched as QEMU does, by first cluster (same cluster, other place or name: a
// rename or move), then, for what is left, by place and name (an empty file, or a file the
// guest rewrote into new clusters, keeps its host file). Unmatched current nodes are new;
// unmatched host nodes are deleted. A file's data must be written where its chain or size
// changed or the guest wrote one of its clusters.
#pragma once

#include <cstdint>
#include <vector>

#include "block/vvfat/commit/fat-tree.h"
#include "block/vvfat/commit/host-tree.h"

namespace qemu::block::vvfat {

struct CommitPlan {
    // Per current node: its host id, or HostTree::kNone if it is new.
    std::vector<uint32_t> host_id;
    // Per current node: matched, and its parent or name differs on the host.
    std::vector<bool> moved;
    // Per current node (files only): data to write or a size to set.
    std::vector<bool> data_changed;
    // Host ids with no current node, to delete.
    std::vector<uint32_t> deleted;

    bool empty() const;
};

CommitPlan plan_commit(
    const HostTree& host, const FsTree& current, const FatGeometry& geometry, const DirtySectors& dirty);

// Whether chain position i of file `now` must be written to the host file: the guest wrote
// that cluster, or the host file (`before`, nullptr for a new file) did not have this
// cluster at this position.
bool cluster_needs_write(
    const HostNode* before, const FsNode& now, size_t i, const FatGeometry& geometry, const DirtySectors& dirty);

}  // namespace qemu::block::vvfat
