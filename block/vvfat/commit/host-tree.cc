// The committer's record of the host directory (see host-tree.h).
#include "block/vvfat/commit/host-tree.h"

#include "block/vvfat/commit/host-syscalls.h"

namespace qemu::block::vvfat {

HostTree::HostTree()
{
    HostNode root;
    root.is_directory = true;
    m_nodes.emplace(kRoot, std::move(root));
}

uint32_t HostTree::insert(HostNode node)
{
    uint32_t id = m_next_id++;
    m_by_name[{node.parent, node.name}] = id;
    m_nodes.emplace(id, std::move(node));
    return id;
}

void HostTree::move(uint32_t id, uint32_t parent, std::string name)
{
    HostNode& n = m_nodes.at(id);
    m_by_name.erase({n.parent, n.name});
    n.parent = parent;
    n.name = std::move(name);
    m_by_name[{n.parent, n.name}] = id;
}

void HostTree::erase(uint32_t id)
{
    auto it = m_nodes.find(id);
    if (it == m_nodes.end() || id == kRoot) {
        return;
    }
    m_by_name.erase({it->second.parent, it->second.name});
    m_nodes.erase(it);
}

uint32_t HostTree::find_child(uint32_t parent, const std::string& name) const
{
    auto it = m_by_name.find({parent, name});
    return it == m_by_name.end() ? kNone : it->second;
}

std::string HostTree::path(uint32_t id) const
{
    std::string path;
    while (id != kRoot) {
        const HostNode& n = m_nodes.at(id);
        path = path.empty() ? n.name : n.name + "/" + path;
        id = n.parent;
    }
    return path;
}

uint32_t HostTree::depth(uint32_t id) const
{
    uint32_t depth = 0;
    while (id != kRoot) {
        id = m_nodes.at(id).parent;
        ++depth;
    }
    return depth;
}

Result<UniqueFd> HostTree::open_directory(int root_fd, uint32_t id) const
{
    std::vector<const std::string*> names;
    for (uint32_t at = id; at != kRoot; at = m_nodes.at(at).parent) {
        names.push_back(&m_nodes.at(at).name);
    }
    UniqueFd dir = TRY(duplicate_directory_fd(root_fd));
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
        dir = TRY(open_subdirectory(dir.get(), **it));
    }
    return dir;
}

}  // namespace qemu::block::vvfat
