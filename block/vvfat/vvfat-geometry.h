// The fixed shape of a vvfat disk: QEMU 7.2's geometry for each mode (hard disk with an
// MBR, or a floppy), the FAT size it derives from it, and the MBR and boot sector it
// writes. Nothing here depends on the directory's contents.
#pragma once

#include <array>
#include <cstdint>

#include "block/vvfat/vvfat-names.h"
#include "util/error.h"

namespace qemu::block::vvfat {

using Sector = std::array<uint8_t, 512>;

// The volume label QEMU uses when none is given (11 bytes, space padded).
constexpr std::array<uint8_t, 11> kDefaultLabel = {'Q', 'E', 'M', 'U', ' ', 'V', 'V', 'F', 'A', 'T', ' '};

struct Geometry {
    int fat_type = 16;  // 12, 16 or 32
    uint32_t cylinders = 0;
    uint32_t heads = 0;
    uint32_t sectors_per_track = 0;
    uint32_t total_sectors = 0;  // the whole disk
    // The partition's boot sector: 63 on a hard disk (after the MBR track), 0 on a floppy.
    uint32_t offset_to_bootsector = 0;
    // Sectors of the partition as the boot sector states them.
    uint32_t sector_count = 0;
    // QEMU's floppy branch picks 1 or 2 but then sets 16 for every mode; kept as it is.
    uint32_t sectors_per_cluster = 16;
    uint32_t sectors_per_fat = 0;
    uint32_t offset_to_fat = 0;
    uint32_t offset_to_root_dir = 0;  // also where cluster 0 starts: the root is clusters 0-1
    uint32_t root_entries = 0;
    uint32_t cluster_count = 0;  // clusters below this number exist
    uint32_t max_fat_value = 0;  // end-of-chain marker

    uint32_t cluster_size() const { return sectors_per_cluster * 512; }
    uint64_t length() const { return uint64_t{total_sectors} * 512; }
    bool has_mbr() const { return offset_to_bootsector > 0; }
};

// fat_type 0 takes the mode's default (12 on a floppy, 16 on a hard disk). Fails with
// QEMU's "Valid FAT types are only 12, 16 and 32".
Result<Geometry> make_geometry(int64_t fat_type, bool floppy);

// The MBR: one bootable partition from the boot sector to the end of the disk.
Sector make_mbr(const Geometry& geometry);

// The partition's boot sector (FAT16 style in every mode, as QEMU writes it).
Sector make_boot_sector(const Geometry& geometry, const std::array<uint8_t, 11>& label);

// The one byte of the boot sector a guest may change (the FAT16 "reserved1", used for the
// dirty flag).
constexpr size_t kBootSectorWritableByte = 37;

}  // namespace qemu::block::vvfat
