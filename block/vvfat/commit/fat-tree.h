// The filesystem a FAT view holds, and QEMU's test of whether it is consistent enough to
// commit (is_consistent / check_directory_consistency in QEMU's vvfat.c): every directory
// from the root is walked; every cluster belongs to at most one chain (a cycle, a
// cross-link, or a directory that contains itself is caught here); every chain stays in
// range; a file's chain has exactly the clusters its size needs; every name is a valid host
// name and unique in its directory; every cluster the FAT marks in use, and every cluster
// the guest wrote, belongs to a file or directory. Parsing reads only metadata (FAT and
// directory clusters) and allocates only within bounds the geometry sets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "block/vvfat/commit/dirty-sectors.h"
#include "block/vvfat/commit/fat-commit.h"

namespace qemu::block::vvfat {

struct FsNode {
    uint32_t parent = 0;  // index in FsTree::nodes; the root is its own parent
    std::string name;  // empty for the root
    bool is_directory = false;
    uint32_t first_cluster = 0;
    uint32_t size = 0;
    std::vector<uint32_t> chain;  // the clusters in order (empty for an empty file, the fixed root)
};

// nodes[0] is the root; a parent always comes before its children.
struct FsTree {
    std::vector<FsNode> nodes;
};

struct ParsedFs {
    std::optional<FsTree> tree;  // set when consistent
    std::string inconsistency;  // why not, otherwise
};

// Bounds on what a guest can make the parser hold, whatever the directories say.
constexpr size_t kMaxNodes = 1u << 18;
constexpr size_t kMaxRelativePath = 4095;  // PATH_MAX - 1, as QEMU checks

// Errors are failures to read the source; an inconsistent filesystem is a ParsedFs.
Result<ParsedFs> parse_fat_filesystem(const FatGeometry& geometry, const SectorSource& source);

// "a/b/c" for node index.
std::string node_path(const FsTree& tree, uint32_t index);

}  // namespace qemu::block::vvfat
