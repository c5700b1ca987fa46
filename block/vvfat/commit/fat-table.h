// The file allocation table as the guest sees it now: entries of FAT12/16/32 read from the
// first FAT copy (QEMU reads only that one), and where clusters live on the partition. The
// geometry comes from the driver; a bad geometry is refused before anything is read.
#pragma once

#include <cstdint>
#include <vector>

#include "block/vvfat/commit/fat-commit.h"

namespace qemu::block::vvfat {

// Checks what the committer relies on: a FAT type of 12/16/32, a power-of-two cluster of at
// most 128 sectors, regions in order and inside the partition, a FAT large enough for the
// clusters, and at most 2^22 clusters (a bound on every table the committer allocates).
Result<void> validate_geometry(const FatGeometry& geometry);

class FatTable {
public:
    static Result<FatTable> load(const FatGeometry& geometry, const SectorSource& source);

    // The highest cluster number that is data on this partition (clusters start at 2).
    uint32_t max_cluster() const { return m_max_cluster; }
    // The entry of cluster c (2 <= c <= max_cluster()), masked to its 12, 16 or 28 bits.
    uint32_t entry(uint32_t cluster) const;
    // Whether an entry value ends a chain (QEMU's fat_eof: above max - 8).
    bool is_end_of_chain(uint32_t value) const { return value > m_max_value - 8; }

private:
    FatTable(uint32_t fat_type, uint32_t max_cluster, std::vector<uint8_t> bytes);

    uint32_t m_fat_type;
    uint32_t m_max_cluster;
    uint32_t m_max_value;
    std::vector<uint8_t> m_bytes;
};

// The first sector of cluster c (c >= 2).
inline uint64_t cluster_first_sector(const FatGeometry& geometry, uint32_t cluster)
{
    return geometry.first_data_sector + uint64_t{cluster - 2} * geometry.sectors_per_cluster;
}

inline uint32_t cluster_bytes(const FatGeometry& geometry)
{
    return geometry.sectors_per_cluster * kSectorSize;
}

}  // namespace qemu::block::vvfat
