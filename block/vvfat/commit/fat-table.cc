// FAT entries and geometry checks (see fat-table.h).
#include "block/vvfat/commit/fat-table.h"

#include <algorithm>

#include "util/bswap.h"

namespace qemu::block::vvfat {

namespace {

constexpr uint32_t kMaxClusters = 1u << 22;

std::unexpected<Error> bad_geometry(const char* why)
{
    return make_error(std::string("vvfat commit: impossible FAT geometry: ") + why);
}

// How many cluster entries the first FAT can hold.
uint64_t fat_capacity(const FatGeometry& g)
{
    return uint64_t{g.sectors_per_fat} * kSectorSize * 8 / g.fat_type;
}

}  // namespace

Result<void> validate_geometry(const FatGeometry& g)
{
    if (g.fat_type != 12 && g.fat_type != 16 && g.fat_type != 32) {
        return bad_geometry("FAT type not 12, 16 or 32");
    }
    if (g.sectors_per_cluster == 0 || g.sectors_per_cluster > 128 ||
        (g.sectors_per_cluster & (g.sectors_per_cluster - 1)) != 0) {
        return bad_geometry("sectors per cluster");
    }
    // The bounds keep what the committer reads at once (a FAT, the root) to tens of MiB.
    if (g.reserved_sectors == 0 || g.fat_count == 0 || g.fat_count > 4 || g.sectors_per_fat == 0 ||
        g.sectors_per_fat > 65536 || g.root_dir_sectors > 4096) {
        return bad_geometry("reserved sectors or FATs");
    }
    uint64_t root_start = g.reserved_sectors + uint64_t{g.fat_count} * g.sectors_per_fat;
    if (g.root_dir_sectors == 0 && (g.fat_type != 32 || g.root_cluster < 2)) {
        return bad_geometry("no root directory");
    }
    if (root_start + g.root_dir_sectors > g.first_data_sector || g.first_data_sector >= g.total_sectors) {
        return bad_geometry("regions out of order");
    }
    uint64_t clusters = (g.total_sectors - g.first_data_sector) / g.sectors_per_cluster;
    if (clusters == 0 || clusters > kMaxClusters) {
        return bad_geometry("cluster count");
    }
    if (fat_capacity(g) < 3) {
        return bad_geometry("FAT too small");
    }
    if (g.root_dir_sectors == 0 && g.root_cluster > std::min<uint64_t>(clusters + 1, fat_capacity(g) - 1)) {
        return bad_geometry("root cluster out of range");
    }
    return {};
}

Result<FatTable> FatTable::load(const FatGeometry& g, const SectorSource& source)
{
    TRY_VOID(validate_geometry(g));
    std::vector<uint8_t> bytes(size_t{g.sectors_per_fat} * kSectorSize);
    TRY_VOID(source.read_sectors(g.reserved_sectors, g.sectors_per_fat, bytes));
    uint64_t clusters = (g.total_sectors - g.first_data_sector) / g.sectors_per_cluster;
    // Clusters past what the FAT can describe cannot be allocated, so they do not count.
    uint32_t max_cluster = static_cast<uint32_t>(std::min<uint64_t>(clusters + 1, fat_capacity(g) - 1));
    return FatTable(g.fat_type, max_cluster, std::move(bytes));
}

FatTable::FatTable(uint32_t fat_type, uint32_t max_cluster, std::vector<uint8_t> bytes)
    : m_fat_type(fat_type),
      m_max_cluster(max_cluster),
      m_max_value(fat_type == 12 ? 0xFFF
              : fat_type == 16   ? 0xFFFF
                                 : 0x0FFFFFFF),
      m_bytes(std::move(bytes))
{
}

uint32_t FatTable::entry(uint32_t cluster) const
{
    switch (m_fat_type) {
    case 12: {
        uint16_t pair = load_le16(m_bytes, cluster * 3 / 2);
        return (cluster & 1) ? pair >> 4 : pair & 0xFFF;
    }
    case 16:
        return load_le16(m_bytes, size_t{cluster} * 2);
    default:
        return load_le32(m_bytes, size_t{cluster} * 4) & 0x0FFFFFFF;
    }
}

}  // namespace qemu::block::vvfat
