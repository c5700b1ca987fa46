// The vmdk descriptor text rules (block/vmdk/vmdk-descriptor.h): QEMU 7.2's substring
// lookups, the extent line scan with its errors, the CID rewrite and create's text.
#include <gtest/gtest.h>

#include "block/vmdk/vmdk-descriptor.h"

namespace qemu::block::vmdk {
namespace {

constexpr std::string_view kQemuDescriptor =
    "# Disk DescriptorFile\nversion=1\nCID=5d2c2a3f\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentSparse\"\n\n"
    "# Extent description\nRW 4194304 SPARSE \"x-s001.vmdk\"\nRW 2048 SPARSE \"x-s002.vmdk\"\n\n"
    "# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n";

TEST(VmdkDescriptor, FindsCreateTypeAndCidsAsQemuDoes)
{
    EXPECT_EQ(parse_description(kQemuDescriptor, "createType", 127), "twoGbMaxExtentSparse");
    EXPECT_EQ(parse_cid(kQemuDescriptor, false), 0x5d2c2a3fu);
    EXPECT_EQ(parse_cid(kQemuDescriptor, true), 0xffffffffu);
    EXPECT_FALSE(parse_description("version=1\n", "createType", 127));
}

TEST(VmdkDescriptor, CidSearchTakesTheFirstOccurrenceEvenInsideParentCid)
{
    EXPECT_EQ(parse_cid("parentCID=12\nCID=34\n", false), 0x12u);
    EXPECT_FALSE(parse_cid("version=1\n", false));
}

TEST(VmdkDescriptor, ExtentLinesKeepOnlyUsableRwExtents)
{
    auto lines = parse_extent_lines(kQemuDescriptor);
    ASSERT_TRUE(lines);
    ASSERT_EQ(lines->size(), 2u);
    EXPECT_EQ((*lines)[0].sectors, 4194304);
    EXPECT_EQ((*lines)[1].filename, "x-s002.vmdk");
    auto ignored = parse_extent_lines("RDONLY 100 SPARSE \"a\"\nRW 0 SPARSE \"b\"\nRW 5 ZERO \"c\"\nRW 9 FLAT \"d\" 3\n");
    ASSERT_TRUE(ignored);
    ASSERT_EQ(ignored->size(), 1u);
    EXPECT_EQ((*ignored)[0].flat_offset, 3);
}

TEST(VmdkDescriptor, BadFieldCountsAreInvalidExtentLines)
{
    auto flat = parse_extent_lines("RW 100 FLAT \"m.raw\"\n");
    ASSERT_FALSE(flat);
    EXPECT_EQ(flat.error().desc, "Invalid extent line: RW 100 FLAT \"m.raw\"");
    auto vmfs = parse_extent_lines("RW 100 VMFS \"m.raw\" 0\n");
    ASSERT_FALSE(vmfs);
    EXPECT_EQ(vmfs.error().desc, "Invalid extent line: RW 100 VMFS \"m.raw\" 0");
}

TEST(VmdkDescriptor, BlankLineBeforeAnExtentDoesNotDoubleIt)
{
    auto lines = parse_extent_lines("createType=\"monolithicFlat\"\n\nRW 8 FLAT \"f\" 0\n");
    ASSERT_TRUE(lines);
    EXPECT_EQ(lines->size(), 1u);
}

TEST(VmdkDescriptor, CidRewriteKeepsEverythingFromParentCid)
{
    std::string text = "version=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"x\"\n";
    std::vector<char> desc(10240, '\0');
    std::copy(text.begin(), text.end(), desc.begin());
    ASSERT_TRUE(rewrite_cid(desc, 0x1a));
    EXPECT_EQ(std::string(c_string({desc.data(), desc.size()})),
        "version=1\nCID=1a\nparentCID=ffffffff\ncreateType=\"x\"\n");
    std::vector<char> none(64, '\0');
    EXPECT_FALSE(rewrite_cid(none, 1));
}

TEST(VmdkDescriptor, CreateTextMatchesQemuTemplate)
{
    DescriptorText d{.cid = 0xabc,
        .create_type = "monolithicFlat",
        .extent_lines = "RW 2048 FLAT \"f-flat.vmdk\" 0\n",
        .hw_version = "4",
        .cylinders = 2,
        .adapter_type = "ide",
        .tools_version = "2147483647"};
    EXPECT_EQ(make_descriptor(d),
        "# Disk DescriptorFile\nversion=1\nCID=abc\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n"
        "# Extent description\nRW 2048 FLAT \"f-flat.vmdk\" 0\n\n# The Disk Data Base\n#DDB\n\n"
        "ddb.virtualHWVersion = \"4\"\nddb.geometry.cylinders = \"2\"\nddb.geometry.heads = \"16\"\n"
        "ddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\nddb.toolsVersion = \"2147483647\"\n");
}

}  // namespace
}  // namespace qemu::block::vmdk
