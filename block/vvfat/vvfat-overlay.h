// The private overlay of a read-write vvfat disk: the sectors the guest wrote, kept in
// memory and seen by no one else. QEMU keeps them in a temporary qcow file with 512-byte
// clusters in $TMPDIR; here nothing needs a path. It can never hold more sectors than the
// disk has.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>

namespace qemu::block::vvfat {

class SectorOverlay {
public:
    explicit SectorOverlay(uint32_t total_sectors) : m_total_sectors(total_sectors) { }

    // The sector as the guest last wrote it, or nullptr if it never did.
    const std::array<uint8_t, 512>* find(uint32_t sector) const
    {
        auto it = m_sectors.find(sector);
        return it == m_sectors.end() ? nullptr : &it->second;
    }

    // Callers keep sector below the disk size, which bounds the map.
    void store(uint32_t sector, std::span<const uint8_t, 512> data)
    {
        if (sector >= m_total_sectors) {
            return;
        }
        auto& slot = m_sectors[sector];
        std::copy(data.begin(), data.end(), slot.begin());
    }

    // Forgets what the guest wrote to sector: it reads from the disk below again.
    void erase(uint32_t sector) { m_sectors.erase(sector); }

    size_t sector_count() const { return m_sectors.size(); }

private:
    uint32_t m_total_sectors;
    std::unordered_map<uint32_t, std::array<uint8_t, 512>> m_sectors;
};

}  // namespace qemu::block::vvfat
