// QEMU 7.2's vvfat geometry. The sizes are those of vvfat_open and init_directories: a
// 504 MiB (FAT16/32) or 31.5 MiB (FAT12) hard disk with 63 sectors a track, or a 1.44 MB
// or 2.88 MB floppy; the FAT is sized by QEMU's formula whatever the contents.
#include "block/vvfat/vvfat-geometry.h"

#include <cstring>

namespace qemu::block::vvfat {

namespace {

void put16(uint8_t* at, uint32_t value)
{
    at[0] = static_cast<uint8_t>(value);
    at[1] = static_cast<uint8_t>(value >> 8);
}

void put32(uint8_t* at, uint32_t value)
{
    put16(at, value & 0xffff);
    put16(at + 2, value >> 16);
}

// sector2CHS: the CHS triple of an LBA, or FF FF FF (and true) when it lies past the
// geometry, which is when DOS wants the LBA partition types.
bool put_chs(uint8_t* at, uint32_t lba, const Geometry& g)
{
    uint32_t sector = lba % g.sectors_per_track;
    lba /= g.sectors_per_track;
    uint32_t head = lba % g.heads;
    uint32_t cylinder = lba / g.heads;
    if (cylinder >= g.cylinders) {
        at[0] = at[1] = at[2] = 0xff;
        return true;
    }
    at[0] = static_cast<uint8_t>(head);
    at[1] = static_cast<uint8_t>((sector + 1) | ((cylinder >> 8) << 6));
    at[2] = static_cast<uint8_t>(cylinder);
    return false;
}

}  // namespace

Result<Geometry> make_geometry(int64_t fat_type, bool floppy)
{
    Geometry g;
    if (floppy) {
        // A 2.88 MB floppy unless FAT12 was asked for explicitly, which gives 1.44 MB.
        g.sectors_per_track = fat_type == 0 ? 36 : fat_type == 12 ? 18 : 36;
        if (fat_type == 0) {
            fat_type = 12;
        }
        g.cylinders = 80;
        g.heads = 2;
        g.offset_to_bootsector = 0;
    } else {
        if (fat_type == 0) {
            fat_type = 16;
        }
        g.offset_to_bootsector = 0x3f;
        g.cylinders = fat_type == 12 ? 64 : 1024;
        g.heads = 16;
        g.sectors_per_track = 63;
    }
    if (fat_type != 12 && fat_type != 16 && fat_type != 32) {
        return make_error("Valid FAT types are only 12, 16 and 32");
    }
    g.fat_type = static_cast<int>(fat_type);
    g.total_sectors = g.cylinders * g.heads * g.sectors_per_track;
    g.sector_count = g.total_sectors - g.offset_to_bootsector;

    // QEMU solves sector_count = spf + 1 + spf * spc * (512 * 8 / fat_type) for spf,
    // rounding up.
    uint32_t per_fat_sector = 1 + g.sectors_per_cluster * 512 * 8 / static_cast<uint32_t>(g.fat_type);
    g.sectors_per_fat = (g.sector_count + per_fat_sector) / per_fat_sector;
    g.offset_to_fat = g.offset_to_bootsector + 1;
    g.offset_to_root_dir = g.offset_to_fat + g.sectors_per_fat * 2;
    g.root_entries = 2 * 16 * g.sectors_per_cluster;
    g.cluster_count = (g.sector_count - g.offset_to_root_dir) / g.sectors_per_cluster;
    g.max_fat_value = g.fat_type == 12 ? 0xfff : g.fat_type == 16 ? 0xffff : 0x0fffffff;
    return g;
}

Sector make_mbr(const Geometry& g)
{
    Sector mbr{};
    put32(&mbr[0x1b8], 0xbe1afdfa);  // Windows NT disk signature
    uint8_t* partition = &mbr[0x1be];
    partition[0] = 0x80;  // bootable
    bool lba = put_chs(partition + 1, g.offset_to_bootsector, g);
    lba |= put_chs(partition + 5, g.total_sectors - 1, g);
    put32(partition + 8, g.offset_to_bootsector);
    put32(partition + 12, g.total_sectors - g.offset_to_bootsector);
    partition[4] = g.fat_type == 12 ? 0x01 : g.fat_type == 16 ? (lba ? 0x0e : 0x06) : (lba ? 0x0c : 0x0b);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    return mbr;
}

Sector make_boot_sector(const Geometry& g, const std::array<uint8_t, 11>& label)
{
    Sector bs{};
    bs[0] = 0xeb;
    bs[1] = 0x3e;
    bs[2] = 0x90;
    std::memcpy(&bs[3], "MSWIN4.1", 8);
    put16(&bs[11], 512);
    bs[13] = static_cast<uint8_t>(g.sectors_per_cluster);
    put16(&bs[14], 1);  // reserved sectors: the boot sector itself
    bs[16] = 2;  // FATs
    put16(&bs[17], g.root_entries);
    put16(&bs[19], g.sector_count > 0xffff ? 0 : g.sector_count);
    bs[21] = g.has_mbr() ? 0xf8 : 0xf0;  // media: fixed disk or floppy
    put16(&bs[22], g.sectors_per_fat);
    put16(&bs[24], g.sectors_per_track);
    put16(&bs[26], g.heads);
    put32(&bs[28], g.offset_to_bootsector);  // hidden sectors
    put32(&bs[32], g.sector_count > 0xffff ? g.sector_count : 0);
    bs[36] = g.has_mbr() ? 0x80 : 0x00;  // BIOS drive number
    bs[38] = 0x29;  // extended boot signature
    put32(&bs[39], 0xfabe1afd);  // serial number
    std::memcpy(&bs[43], label.data(), label.size());
    std::memcpy(&bs[54], g.fat_type == 12 ? "FAT12   " : "FAT16   ", 8);
    bs[510] = 0x55;
    bs[511] = 0xaa;
    return bs;
}

}  // namespace qemu::block::vvfat
