// FatCommitter: parses the guest's view, matches it against what the host holds, applies the
// difference (see fat-commit.h for the contract with the driver).
#include "block/vvfat/commit/fat-commit.h"

#include <algorithm>

#include "block/vvfat/commit/commit-apply.h"
#include "block/vvfat/commit/commit-plan.h"
#include "block/vvfat/commit/fat-table.h"
#include "block/vvfat/commit/fat-tree.h"
#include "block/vvfat/commit/host-syscalls.h"
#include "block/vvfat/commit/host-tree.h"

namespace qemu::block::vvfat {

struct FatCommitter::State {
    FatGeometry geometry;
    UniqueFd root;  // our duplicate of the driver's directory fd
    HostTree host;
};

FatCommitter::FatCommitter(std::unique_ptr<State> state) : m_state(std::move(state))
{
}
FatCommitter::FatCommitter(FatCommitter&&) noexcept = default;
FatCommitter& FatCommitter::operator=(FatCommitter&&) noexcept = default;
FatCommitter::~FatCommitter() = default;

Result<FatCommitter> FatCommitter::create(const FatGeometry& geometry, int dir_fd, const SectorSource& baseline)
{
    TRY_VOID(validate_geometry(geometry));
    auto state = std::make_unique<State>();
    state->geometry = geometry;
    state->root = TRY(duplicate_directory_fd(dir_fd));
    ParsedFs parsed = TRY(parse_fat_filesystem(geometry, baseline));
    if (!parsed.tree) {
        return make_error("vvfat commit: the disk as presented is not a consistent FAT: " + parsed.inconsistency);
    }
    const FsTree& tree = *parsed.tree;
    std::vector<uint32_t> ids(tree.nodes.size(), HostTree::kRoot);
    for (size_t i = 1; i < tree.nodes.size(); ++i) {
        const FsNode& node = tree.nodes[i];
        ids[i] = state->host.insert(HostNode{.parent = ids[node.parent],
            .name = node.name,
            .is_directory = node.is_directory,
            .first_cluster = node.first_cluster,
            .size = node.size,
            .chain = node.chain});
    }
    return FatCommitter(std::move(state));
}

Result<CommitOutcome> FatCommitter::try_commit(const SectorSource& current, const DirtySectors& dirty)
{
    State& s = *m_state;
    ParsedFs parsed = TRY(parse_fat_filesystem(s.geometry, current));
    if (!parsed.tree) {
        return CommitOutcome{.kind = CommitOutcome::Kind::NotConsistent, .reason = std::move(parsed.inconsistency)};
    }
    CommitPlan plan = plan_commit(s.host, *parsed.tree, s.geometry, dirty);
    ApplyInputs inputs{.geometry = s.geometry, .root_fd = s.root.get(), .source = current, .dirty = dirty};
    uint32_t changes = TRY(apply_commit(s.host, *parsed.tree, plan, inputs));
    return CommitOutcome{.kind = CommitOutcome::Kind::Committed, .host_changes = changes};
}

std::vector<CommittedEntry> FatCommitter::committed_entries() const
{
    const HostTree& host = m_state->host;
    std::vector<std::pair<uint32_t, uint32_t>> order;  // depth, id
    for (const auto& [id, node] : host.nodes()) {
        if (id != HostTree::kRoot) {
            order.emplace_back(host.depth(id), id);
        }
    }
    std::sort(order.begin(), order.end());
    std::vector<CommittedEntry> entries;
    for (const auto& [depth, id] : order) {
        const HostNode& node = host.node(id);
        entries.push_back(CommittedEntry{.path = host.path(id),
            .is_directory = node.is_directory,
            .first_cluster = node.first_cluster,
            .size = node.size,
            .chain = node.chain});
    }
    return entries;
}

}  // namespace qemu::block::vvfat
