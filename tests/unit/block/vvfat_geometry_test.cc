// vvfat's fixed geometry per mode (QEMU 7.2's sizes, FAT sizes and the place of the root
// directory), the MBR and the boot sector, checked against what Debian's QEMU 7.2 writes.
#include <gtest/gtest.h>

#include <cstring>

#include "block/vvfat/vvfat-geometry.h"

using namespace qemu::block::vvfat;

namespace {

struct ModeRow {
    int64_t fat_type;
    bool floppy;
    int want_fat;
    uint32_t cylinders, heads, sectors;
    uint64_t bytes;
    uint32_t sectors_per_fat, root_dir, clusters;
};

// Sizes as QEMU reports them (qemu-img info) and FAT layout as its disks have it.
const ModeRow kModes[] = {
    {0, false, 16, 1024, 16, 63, 528482304, 252, 568, 64472},
    {16, false, 16, 1024, 16, 63, 528482304, 252, 568, 64472},
    {12, false, 12, 64, 16, 63, 33030144, 12, 88, 4022},
    {32, false, 32, 1024, 16, 63, 528482304, 504, 1072, 64441},
    {0, true, 12, 80, 2, 36, 2949120, 2, 5, 359},
    {12, true, 12, 80, 2, 18, 1474560, 1, 3, 179},
    {16, true, 16, 80, 2, 36, 2949120, 2, 5, 359},
};

TEST(VvfatGeometry, EveryModeHasQemusSizesAndLayout)
{
    for (const ModeRow& row : kModes) {
        SCOPED_TRACE(testing::Message() << "fat-type " << row.fat_type << " floppy " << row.floppy);
        auto g = make_geometry(row.fat_type, row.floppy);
        ASSERT_TRUE(g.has_value());
        EXPECT_EQ(g->fat_type, row.want_fat);
        EXPECT_EQ(g->cylinders, row.cylinders);
        EXPECT_EQ(g->heads, row.heads);
        EXPECT_EQ(g->sectors_per_track, row.sectors);
        EXPECT_EQ(g->length(), row.bytes);
        EXPECT_EQ(g->sectors_per_fat, row.sectors_per_fat);
        EXPECT_EQ(g->offset_to_root_dir, row.root_dir);
        EXPECT_EQ(g->cluster_count, row.clusters);
        // 16 sectors a cluster in every mode: QEMU's floppy values are overwritten.
        EXPECT_EQ(g->cluster_size(), 8192u);
        EXPECT_EQ(g->root_entries, 512u);
        EXPECT_EQ(g->has_mbr(), !row.floppy);
    }
}

TEST(VvfatGeometry, OtherFatTypesAreRefused)
{
    for (int64_t type : {1, 7, 24, 64}) {
        for (bool floppy : {false, true}) {
            auto g = make_geometry(type, floppy);
            ASSERT_FALSE(g.has_value());
            EXPECT_EQ(g.error().desc, "Valid FAT types are only 12, 16 and 32");
        }
    }
}

TEST(VvfatGeometry, MbrHasOneBootablePartitionAfterTheFirstTrack)
{
    Sector mbr = make_mbr(*make_geometry(0, false));
    // QEMU 7.2's bytes from 0x1b8 on for the FAT16 hard disk.
    const uint8_t expected[] = {0xfa, 0xfd, 0x1a, 0xbe, 0, 0, 0x80, 0x01, 0x01, 0x00, 0x06, 0x0f, 0xff, 0xff, 0x3f, 0,
        0, 0, 0xc1, 0xbf, 0x0f, 0x00};
    EXPECT_EQ(std::memcmp(&mbr[0x1b8], expected, sizeof expected), 0);
    EXPECT_EQ(mbr[510], 0x55);
    EXPECT_EQ(mbr[511], 0xaa);
    EXPECT_EQ(make_mbr(*make_geometry(12, false))[0x1c2], 0x01);
    EXPECT_EQ(make_mbr(*make_geometry(32, false))[0x1c2], 0x0b);
}

TEST(VvfatGeometry, BootSectorIsFat16StyleInEveryMode)
{
    Geometry hd = *make_geometry(32, false);
    Sector bs = make_boot_sector(hd, kDefaultLabel);
    EXPECT_EQ(std::memcmp(bs.data(), "\xeb\x3e\x90MSWIN4.1", 11), 0);
    EXPECT_EQ(bs[13], 16);
    EXPECT_EQ(bs[17] | (bs[18] << 8), 512);  // root entries, FAT32 too
    EXPECT_EQ(bs[21], 0xf8);
    EXPECT_EQ(bs[28], 63);  // hidden sectors
    EXPECT_EQ(bs[36], 0x80);
    EXPECT_EQ(bs[38], 0x29);
    EXPECT_EQ(std::memcmp(&bs[39], "\xfd\x1a\xbe\xfa", 4), 0);
    EXPECT_EQ(std::memcmp(&bs[43], "QEMU VVFAT FAT16   ", 19), 0);

    Geometry floppy = *make_geometry(12, true);
    Sector fbs = make_boot_sector(floppy, {'M', 'Y', ' ', 'D', 'I', 'S', 'K', ' ', ' ', ' ', ' '});
    EXPECT_EQ(fbs[19] | (fbs[20] << 8), 2880);  // small disks give their size in 16 bits
    EXPECT_EQ(fbs[21], 0xf0);
    EXPECT_EQ(fbs[36], 0x00);
    EXPECT_EQ(std::memcmp(&fbs[43], "MY DISK    FAT12   ", 19), 0);
}

}  // namespace
