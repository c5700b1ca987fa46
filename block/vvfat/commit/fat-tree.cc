// Walks a FAT view into an FsTree and decides whether it is consistent (see fat-tree.h).
#include "block/vvfat/commit/fat-tree.h"

#include <set>
#include <span>

#include "block/vvfat/commit/fat-names.h"
#include "block/vvfat/commit/fat-table.h"
#include "util/bswap.h"

namespace qemu::block::vvfat {

namespace {

constexpr uint8_t kAttrReadOnlyHiddenSystemVolume = 0x0F;  // a long-name entry
constexpr uint8_t kAttrVolumeLabel = 0x28;  // QEMU's is_volume_label
constexpr uint8_t kAttrDirectory = 0x10;

class Walker {
public:
    Walker(const FatGeometry& geometry, const SectorSource& source, const FatTable& fat)
        : m_geometry(geometry), m_source(source), m_fat(fat), m_used(fat.max_cluster() + 1, false)
    {
    }

    // Walks everything; returns the reason it is inconsistent, or nullopt.
    Result<std::optional<std::string>> walk(FsTree& tree);
    const std::vector<bool>& used() const { return m_used; }

private:
    // Follows a chain from first, claiming its clusters. limit: most clusters allowed.
    std::optional<std::string> claim_chain(uint32_t first, size_t limit, std::vector<uint32_t>& chain);
    // Part `part` of a directory: one cluster of its chain, or the whole fixed root.
    Result<void> read_directory_part(
        const std::vector<uint32_t>& chain, size_t part, std::vector<uint8_t>& bytes) const;
    Result<std::optional<std::string>> parse_directory(FsTree& tree, uint32_t index, size_t path_length);

    const FatGeometry& m_geometry;
    const SectorSource& m_source;
    const FatTable& m_fat;
    std::vector<bool> m_used;
};

std::optional<std::string> Walker::claim_chain(uint32_t first, size_t limit, std::vector<uint32_t>& chain)
{
    uint32_t cluster = first;
    for (;;) {
        if (cluster < 2 || cluster > m_fat.max_cluster()) {
            return "cluster " + std::to_string(cluster) + " out of range";
        }
        if (m_used[cluster]) {
            return "cluster " + std::to_string(cluster) + " used more than once";
        }
        if (chain.size() >= limit) {
            return "chain from cluster " + std::to_string(first) + " longer than its size";
        }
        m_used[cluster] = true;
        chain.push_back(cluster);
        uint32_t next = m_fat.entry(cluster);
        if (m_fat.is_end_of_chain(next)) {
            return std::nullopt;
        }
        cluster = next;
    }
}

Result<void> Walker::read_directory_part(
    const std::vector<uint32_t>& chain, size_t part, std::vector<uint8_t>& bytes) const
{
    const FatGeometry& g = m_geometry;
    if (chain.empty()) {  // the fixed root directory, at most 4096 sectors
        bytes.resize(size_t{g.root_dir_sectors} * kSectorSize);
        uint32_t start = g.reserved_sectors + g.fat_count * g.sectors_per_fat;
        return m_source.read_sectors(start, g.root_dir_sectors, bytes);
    }
    bytes.resize(cluster_bytes(g));
    return m_source.read_sectors(
        static_cast<uint32_t>(cluster_first_sector(g, chain[part])), g.sectors_per_cluster, bytes);
}

Result<std::optional<std::string>> Walker::parse_directory(FsTree& tree, uint32_t index, size_t path_length)
{
    // One cluster at a time: a guest can chain a directory across the whole disk.
    const std::vector<uint32_t> chain = tree.nodes[index].chain;  // tree.nodes grows below
    const size_t parts = chain.empty() ? 1 : chain.size();
    std::vector<uint8_t> bytes;
    std::string where = index == 0 ? std::string("root directory") : "directory " + node_path(tree, index);
    std::set<std::string> names;
    LongNameAssembler long_name;
    const uint32_t cluster_size = cluster_bytes(m_geometry);
    for (size_t part = 0; part < parts; ++part) {
        TRY_VOID(read_directory_part(chain, part, bytes));
        for (size_t at = 0; at + kDirEntrySize <= bytes.size(); at += kDirEntrySize) {
            std::span<const uint8_t> entry(bytes.data() + at, kDirEntrySize);
            uint8_t attributes = entry[11];
            // QEMU reads past a 0x00 entry as if it were deleted, so garbage after it counts too.
            if (entry[0] == 0x00 || entry[0] == 0xE5 || attributes == kAttrVolumeLabel) {
                continue;
            }
            if (attributes == kAttrReadOnlyHiddenSystemVolume) {
                if (!long_name.add(entry)) {
                    return "bad long name entry in " + where;
                }
                continue;
            }
            if (entry[0] == '.') {  // "." and "..": QEMU skips any 8.3 name starting with a dot
                continue;
            }
            LongNameAssembler::Taken taken = long_name.take_for(entry);
            if (taken.error) {
                return "invalid long name in " + where;
            }
            std::optional<std::string> name = taken.name ? std::move(taken.name) : decode_short_name(entry);
            if (!name) {
                return "invalid short name in " + where;
            }
            if (!names.insert(*name).second) {
                return "name '" + *name + "' twice in " + where;
            }
            if (path_length + 1 + name->size() > kMaxRelativePath) {
                return "path too long in " + where;
            }
            if (tree.nodes.size() >= kMaxNodes) {
                return std::string("too many directory entries");
            }
            FsNode node;
            node.parent = index;
            node.name = std::move(*name);
            node.is_directory = (attributes & kAttrDirectory) != 0;
            // The high word counts on FAT12/16 too, as in QEMU's begin_of_direntry: a guest that
            // sets it there names a cluster out of range.
            node.first_cluster = load_le16(entry, 26) | uint32_t{load_le16(entry, 20)} << 16;
            node.size = node.is_directory ? 0 : load_le32(entry, 28);
            if (node.is_directory && node.first_cluster == 0) {
                return "directory '" + node.name + "' without a cluster in " + where;
            }
            if (node.first_cluster != 0) {
                size_t limit =
                    node.is_directory ? m_used.size() : (uint64_t{node.size} + cluster_size - 1) / cluster_size;
                if (auto bad = claim_chain(node.first_cluster, limit, node.chain)) {
                    return *bad + " ('" + node.name + "' in " + where + ")";
                }
            }
            if (!node.is_directory && node.chain.size() != (uint64_t{node.size} + cluster_size - 1) / cluster_size) {
                return "size of '" + node.name + "' does not match its chain in " + where;
            }
            tree.nodes.push_back(std::move(node));
        }
    }
    return std::nullopt;
}

Result<std::optional<std::string>> Walker::walk(FsTree& tree)
{
    FsNode root;
    root.is_directory = true;
    if (m_geometry.root_dir_sectors == 0) {
        root.first_cluster = m_geometry.root_cluster;
        if (auto bad = claim_chain(root.first_cluster, m_used.size(), root.chain)) {
            return "root directory: " + *bad;
        }
    }
    tree.nodes.push_back(std::move(root));
    // Parents come before children in nodes, so a plain index walk is breadth-first and
    // needs no recursion however deep the guest nests directories.
    std::vector<size_t> path_lengths{0};
    for (uint32_t index = 0; index < tree.nodes.size(); ++index) {
        if (tree.nodes[index].is_directory) {
            if (auto bad = TRY(parse_directory(tree, index, path_lengths[index]))) {
                return bad;
            }
        }
        for (size_t child = path_lengths.size(); child < tree.nodes.size(); ++child) {
            const FsNode& node = tree.nodes[child];
            path_lengths.push_back(path_lengths[node.parent] + (node.parent == 0 ? 0 : 1) + node.name.size());
        }
    }
    return std::nullopt;
}

}  // namespace

std::string node_path(const FsTree& tree, uint32_t index)
{
    std::vector<const std::string*> parts;
    while (index != 0) {
        parts.push_back(&tree.nodes[index].name);
        index = tree.nodes[index].parent;
    }
    std::string path;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        path += path.empty() ? **it : "/" + **it;
    }
    return path;
}

Result<ParsedFs> parse_fat_filesystem(const FatGeometry& geometry, const SectorSource& source)
{
    FatTable fat = TRY(FatTable::load(geometry, source));
    Walker walker(geometry, source, fat);
    FsTree tree;
    ParsedFs parsed;
    if (auto bad = TRY(walker.walk(tree))) {
        parsed.inconsistency = std::move(*bad);
        return parsed;
    }
    const std::vector<bool>& used = walker.used();
    for (uint32_t cluster = 2; cluster <= fat.max_cluster(); ++cluster) {
        if (used[cluster]) {
            continue;
        }
        // QEMU: an allocated cluster no file owns means the guest is mid-update. A free
        // cluster the guest wrote does not hold a commit back (QEMU's USED_ALLOCATED does):
        // see fat-commit.h.
        if (fat.entry(cluster) != 0) {
            parsed.inconsistency = "cluster " + std::to_string(cluster) + " allocated but not in use";
            return parsed;
        }
    }
    parsed.tree = std::move(tree);
    return parsed;
}

}  // namespace qemu::block::vvfat
