// What the committer believes the host directory holds: the last committed filesystem, as
// a tree of nodes with stable ids, updated one host operation at a time. A commit that fails
// half-way leaves exactly the operations that succeeded recorded here, so the next commit
// starts from the truth instead of from a state the host no longer has. Ids outlive renames;
// the root is id 0. Only metadata is kept, never file data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/unique_fd.h"

namespace qemu::block::vvfat {

struct HostNode {
    uint32_t parent = 0;
    std::string name;
    bool is_directory = false;
    uint32_t first_cluster = 0;
    uint32_t size = 0;
    std::vector<uint32_t> chain;
};

class HostTree {
public:
    static constexpr uint32_t kRoot = 0;

    HostTree();

    // Adds a node under parent; returns its id.
    uint32_t insert(HostNode node);
    void move(uint32_t id, uint32_t parent, std::string name);
    void erase(uint32_t id);

    bool contains(uint32_t id) const { return m_nodes.contains(id); }
    const HostNode& node(uint32_t id) const { return m_nodes.at(id); }
    HostNode& node(uint32_t id) { return m_nodes.at(id); }
    const std::map<uint32_t, HostNode>& nodes() const { return m_nodes; }
    // The child of parent called name, or kNone.
    uint32_t find_child(uint32_t parent, const std::string& name) const;
    std::string path(uint32_t id) const;
    uint32_t depth(uint32_t id) const;

    // Opens directory id beneath root_fd, one component at a time, following no symlink.
    Result<UniqueFd> open_directory(int root_fd, uint32_t id) const;

    static constexpr uint32_t kNone = ~0u;

private:
    std::map<uint32_t, HostNode> m_nodes;
    std::map<std::pair<uint32_t, std::string>, uint32_t> m_by_name;
    uint32_t m_next_id = 1;
};

}  // namespace qemu::block::vvfat
