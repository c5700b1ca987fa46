// qemu-img check for vdi: only the block map's consistency. Every mapped entry must point
// inside the image's block count, no two entries may share a data block, and the number
// of mapped entries must match the header's count. Repairs are not offered.
#include <cerrno>

#include "block/vdi/vdi.h"

namespace qemu::block::vdi {

Result<CheckResult> check(BlockNode& node, bool fix)
{
    if (fix) {
        return make_errno_error(ENOTSUP);
    }
    VdiState& s = node.state<VdiState>();
    const uint32_t blocks = s.header.blocks_in_image;
    CheckResult result;
    // owner[d] is the data block d once some entry has claimed it.
    std::vector<uint32_t> owner(blocks, kUnallocated);
    uint32_t mapped = 0;
    for (uint32_t block = 0; block < blocks; ++block) {
        uint32_t entry = s.bmap[block];
        if (!is_allocated(entry)) {
            continue;
        }
        if (entry >= blocks) {
            result.messages.push_back(
                "ERROR: block index " + std::to_string(block) + " too large, is " + std::to_string(entry));
            result.corruptions++;
            continue;
        }
        mapped++;
        if (is_allocated(owner[entry])) {
            // QEMU names the data block twice here, not the two map entries.
            result.messages.push_back(
                "ERROR: block index " + std::to_string(owner[entry]) + " also used by " + std::to_string(entry));
            result.corruptions++;
        } else {
            owner[entry] = entry;
        }
    }
    if (mapped != s.header.blocks_allocated) {
        result.messages.push_back("ERROR: allocated blocks mismatch, is " + std::to_string(mapped) + ", should be " +
            std::to_string(s.header.blocks_allocated));
        result.corruptions++;
    }
    return result;
}

}  // namespace qemu::block::vdi
