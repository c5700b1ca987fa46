// The sectors a guest wrote since the vvfat committer last committed. The driver adds every
// write that landed in its overlay and clears the set after a Committed outcome; the
// committer asks it which clusters hold data the host does not have yet. Sector numbers
// count from the partition's boot sector, as in SectorSource (a hard-disk vvfat's partition
// starts at sector 63: subtract that from the disk's sector numbers).
#pragma once

#include <cstdint>
#include <map>

namespace qemu::block::vvfat {

class DirtySectors {
public:
    // Marks [first, first + count) written; adjacent and overlapping ranges merge.
    void add(uint64_t first, uint64_t count);
    // Whether any sector of [first, first + count) was written.
    bool any_in(uint64_t first, uint64_t count) const;
    bool empty() const { return m_ranges.empty(); }
    void clear() { m_ranges.clear(); }

    // Calls f(first, count) for each written range, in order.
    template <typename F> void for_each_range(F&& f) const
    {
        for (const auto& [start, end] : m_ranges) {
            f(start, end - start);
        }
    }

private:
    // start -> end (exclusive); ranges never touch each other.
    std::map<uint64_t, uint64_t> m_ranges;
};

}  // namespace qemu::block::vvfat
