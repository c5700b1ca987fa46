// Applying a commit plan to the host directory (see commit-apply.h).
#include "block/vvfat/commit/commit-apply.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "block/vvfat/commit/fat-table.h"
#include "block/vvfat/commit/host-syscalls.h"

namespace qemu::block::vvfat {

namespace {

class Applier {
public:
    Applier(HostTree& host, const FsTree& current, const CommitPlan& plan, const ApplyInputs& in)
        : m_host(host),
          m_current(current),
          m_plan(plan),
          m_in(in),
          m_ids(plan.host_id),
          m_deleted(plan.deleted.begin(), plan.deleted.end())
    {
        for (const FsNode& node : current.nodes) {
            m_current_names.insert(node.name);
        }
    }

    Result<uint32_t> run();

private:
    Result<void> prepare();
    Result<void> park(uint32_t id);
    Result<void> clear_target(uint32_t parent, const std::string& name);
    Result<void> place(size_t index);
    Result<void> write_data(size_t index);
    Result<void> delete_node(uint32_t id);

    HostTree& m_host;
    const FsTree& m_current;
    const CommitPlan& m_plan;
    const ApplyInputs& m_in;
    std::vector<uint32_t> m_ids;  // host id per current node, filled in as nodes are created
    std::set<uint32_t> m_deleted;
    std::set<std::string> m_current_names;
    std::unordered_map<uint32_t, std::vector<uint8_t>> m_clean_copies;  // cluster -> bytes
    uint32_t m_parked = 0;
    uint32_t m_changes = 0;
};

Result<void> Applier::prepare()
{
    const FatGeometry& g = m_in.geometry;
    for (size_t i = 1; i < m_current.nodes.size(); ++i) {
        if (!m_plan.data_changed[i]) {
            continue;
        }
        const FsNode& now = m_current.nodes[i];
        uint32_t id = m_plan.host_id[i];
        const HostNode* before = id == HostTree::kNone ? nullptr : &m_host.node(id);
        if (before) {
            UniqueFd dir = TRY(m_host.open_directory(m_in.root_fd, before->parent));
            struct stat st = TRY(stat_entry(dir.get(), before->name));
            if (!S_ISREG(st.st_mode)) {
                // Swapped on the host since the last commit (a symlink, a FIFO): never opened.
                return make_errno_error(EINVAL, "vvfat commit: '" + m_host.path(id) + "' is not a regular file");
            }
            if (!(st.st_mode & S_IWUSR)) {
                // QEMU's text, without a strerror: QEMU prints it as it stands.
                return std::unexpected(Error{
                    ErrorClass::GenericError, "Tried to write to write-protected file " + m_host.path(id), EACCES});
            }
        }
        for (size_t c = 0; c < now.chain.size(); ++c) {
            uint32_t cluster = now.chain[c];
            if (!cluster_needs_write(before, now, c, g, m_in.dirty) ||
                m_in.dirty.any_in(cluster_first_sector(g, cluster), g.sectors_per_cluster)) {
                continue;
            }
            std::vector<uint8_t> bytes(cluster_bytes(g));
            TRY_VOID(m_in.source.read_sectors(
                static_cast<uint32_t>(cluster_first_sector(g, cluster)), g.sectors_per_cluster, bytes));
            m_clean_copies.emplace(cluster, std::move(bytes));
        }
    }
    return {};
}

// Renames node id to a fresh name in its own directory; no current node wants that name.
Result<void> Applier::park(uint32_t id)
{
    const HostNode& node = m_host.node(id);
    uint32_t parent = node.parent;
    UniqueFd dir = TRY(m_host.open_directory(m_in.root_fd, parent));
    for (int attempt = 0; attempt < 1000; ++attempt) {
        std::string temp = ".vvfat-commit-" + std::to_string(m_parked++);
        if (m_current_names.contains(temp) || m_host.find_child(parent, temp) != HostTree::kNone) {
            continue;
        }
        auto renamed = rename_entry(dir.get(), node.name, dir.get(), temp);
        if (!renamed && renamed.error().errno_value == EEXIST) {
            continue;  // a host entry the guest never saw
        }
        TRY_VOID(std::move(renamed));
        m_host.move(id, parent, temp);
        ++m_changes;
        return {};
    }
    return make_errno_error(EEXIST, "vvfat commit: no free temporary name in " + m_host.path(parent));
}

Result<void> Applier::clear_target(uint32_t parent, const std::string& name)
{
    uint32_t in_the_way = m_host.find_child(parent, name);
    if (in_the_way == HostTree::kNone) {
        return {};
    }
    if (!m_deleted.contains(in_the_way)) {
        return make_errno_error(EEXIST, "vvfat commit: '" + m_host.path(in_the_way) + "' is in the way");
    }
    return park(in_the_way);
}

Result<void> Applier::place(size_t index)
{
    const FsNode& now = m_current.nodes[index];
    uint32_t parent = m_ids[now.parent];
    uint32_t id = m_ids[index];
    if (id != HostTree::kNone && !m_plan.moved[index]) {
        return {};
    }
    TRY_VOID(clear_target(parent, now.name));
    UniqueFd to = TRY(m_host.open_directory(m_in.root_fd, parent));
    if (id != HostTree::kNone) {
        const HostNode& node = m_host.node(id);
        UniqueFd from = TRY(m_host.open_directory(m_in.root_fd, node.parent));
        TRY_VOID(rename_entry(from.get(), node.name, to.get(), now.name));
        m_host.move(id, parent, now.name);
        ++m_changes;
        return {};
    }
    HostNode created;
    created.parent = parent;
    created.name = now.name;
    created.is_directory = now.is_directory;
    created.first_cluster = now.first_cluster;
    if (now.is_directory) {
        TRY_VOID(make_directory(to.get(), now.name));
        created.chain = now.chain;
    } else {
        UniqueFd file = TRY(create_file(to.get(), now.name));
    }
    m_ids[index] = m_host.insert(std::move(created));
    ++m_changes;
    return {};
}

Result<void> Applier::write_data(size_t index)
{
    const FatGeometry& g = m_in.geometry;
    const FsNode& now = m_current.nodes[index];
    HostNode& node = m_host.node(m_ids[index]);
    UniqueFd dir = TRY(m_host.open_directory(m_in.root_fd, node.parent));
    UniqueFd file = TRY(open_file_for_writing(dir.get(), node.name));
    std::vector<uint8_t> buffer(cluster_bytes(g));
    for (size_t c = 0; c < now.chain.size(); ++c) {
        if (!cluster_needs_write(&node, now, c, g, m_in.dirty)) {
            continue;
        }
        uint64_t offset = uint64_t{c} * cluster_bytes(g);
        size_t length = static_cast<size_t>(std::min<uint64_t>(cluster_bytes(g), now.size - offset));
        auto copy = m_clean_copies.find(now.chain[c]);
        if (copy != m_clean_copies.end()) {
            std::copy_n(copy->second.begin(), length, buffer.begin());
        } else {
            TRY_VOID(m_in.source.read_sectors(
                static_cast<uint32_t>(cluster_first_sector(g, now.chain[c])), g.sectors_per_cluster, buffer));
        }
        TRY_VOID(write_all_at(file.get(), std::span<const uint8_t>(buffer).first(length), offset));
    }
    TRY_VOID(truncate_file(file.get(), now.size));
    node.first_cluster = now.first_cluster;
    node.size = now.size;
    node.chain = now.chain;
    ++m_changes;
    return {};
}

Result<void> Applier::delete_node(uint32_t id)
{
    const HostNode& node = m_host.node(id);
    UniqueFd dir = TRY(m_host.open_directory(m_in.root_fd, node.parent));
    if (node.is_directory) {
        // Not empty: it holds host entries the guest never saw; QEMU leaves such a directory.
        (void)TRY(remove_directory(dir.get(), node.name));
    } else {
        TRY_VOID(remove_file(dir.get(), node.name));
    }
    m_host.erase(id);
    ++m_changes;
    return {};
}

Result<uint32_t> Applier::run()
{
    TRY_VOID(prepare());
    for (size_t i = 1; i < m_current.nodes.size(); ++i) {
        if (m_plan.moved[i]) {
            TRY_VOID(park(m_plan.host_id[i]));
        }
    }
    for (size_t i = 1; i < m_current.nodes.size(); ++i) {
        TRY_VOID(place(i));
    }
    for (size_t i = 1; i < m_current.nodes.size(); ++i) {
        if (m_plan.data_changed[i]) {
            TRY_VOID(write_data(i));
        }
    }
    std::vector<uint32_t> deleted(m_plan.deleted);
    std::stable_sort(
        deleted.begin(), deleted.end(), [&](uint32_t a, uint32_t b) { return m_host.depth(a) > m_host.depth(b); });
    for (uint32_t id : deleted) {
        TRY_VOID(delete_node(id));
    }
    // Directories matched by place may have new clusters, files may have new chains without
    // new data: the host tree now describes the current filesystem in full.
    for (size_t i = 1; i < m_current.nodes.size(); ++i) {
        HostNode& node = m_host.node(m_ids[i]);
        node.first_cluster = m_current.nodes[i].first_cluster;
        node.size = m_current.nodes[i].size;
        node.chain = m_current.nodes[i].chain;
    }
    return m_changes;
}

}  // namespace

Result<uint32_t> apply_commit(HostTree& host, const FsTree& current, const CommitPlan& plan, const ApplyInputs& in)
{
    Applier applier(host, current, plan, in);
    return applier.run();
}

}  // namespace qemu::block::vvfat
