// DirtySectors: a set of disjoint sector ranges (see dirty-sectors.h). A map of ranges
// rather than a bitmap, so its size follows what the guest wrote, not the disk size.
#include "block/vvfat/commit/dirty-sectors.h"

#include <algorithm>
#include <limits>

namespace qemu::block::vvfat {

void DirtySectors::add(uint64_t first, uint64_t count)
{
    if (count == 0) {
        return;
    }
    uint64_t end =
        count > std::numeric_limits<uint64_t>::max() - first ? std::numeric_limits<uint64_t>::max() : first + count;
    // Swallow every range that overlaps or touches [first, end).
    auto it = m_ranges.upper_bound(first);
    if (it != m_ranges.begin() && std::prev(it)->second >= first) {
        --it;
    }
    while (it != m_ranges.end() && it->first <= end) {
        first = std::min(first, it->first);
        end = std::max(end, it->second);
        it = m_ranges.erase(it);
    }
    m_ranges.emplace(first, end);
}

bool DirtySectors::any_in(uint64_t first, uint64_t count) const
{
    if (count == 0) {
        return false;
    }
    uint64_t end =
        count > std::numeric_limits<uint64_t>::max() - first ? std::numeric_limits<uint64_t>::max() : first + count;
    auto it = m_ranges.upper_bound(first);
    if (it != m_ranges.begin() && std::prev(it)->second > first) {
        return true;
    }
    return it != m_ranges.end() && it->first < end;
}

}  // namespace qemu::block::vvfat
