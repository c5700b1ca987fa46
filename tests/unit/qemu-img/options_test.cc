// qemu-img's -o handling: option-list validity, accumulation, help detection, the raw/file
// create options and the "Formatting" line they produce; and cache-mode names.
#include <gtest/gtest.h>

#include "tools/qemu-img/img-common.h"

namespace qemu::img {
namespace {

TEST(ImgOptions, OptionListsMustNotBeEmptyOrEndInALoneComma)
{
    EXPECT_TRUE(is_valid_option_list("size=1M"));
    EXPECT_TRUE(is_valid_option_list("a=b,,"));
    EXPECT_FALSE(is_valid_option_list(""));
    EXPECT_FALSE(is_valid_option_list(","));
    EXPECT_FALSE(is_valid_option_list("size=1M,"));
    EXPECT_FALSE(is_valid_option_list("a=b,,,"));
}

TEST(ImgOptions, RepeatedOptionsJoinWithCommas)
{
    EXPECT_EQ(accumulate_options(std::nullopt, "size=1M"), "size=1M");
    EXPECT_EQ(accumulate_options(std::string("size=1M"), "nocow=on"), "size=1M,nocow=on");
}

TEST(ImgOptions, HelpIsFoundAsAnElement)
{
    EXPECT_TRUE(has_help_option("help"));
    EXPECT_TRUE(has_help_option("?"));
    EXPECT_TRUE(has_help_option("size=1M,help"));
    EXPECT_FALSE(has_help_option("size=1M"));
    EXPECT_FALSE(has_help_option("preallocation=help1"));
}

TEST(ImgOptions, CreateOptionsParseAndPrintInQemusOrder)
{
    CreateRequest request{.filename = "a.raw", .format = "raw"};
    ASSERT_TRUE(parse_create_options("extent_size_hint=2M,preallocation=falloc,nocow=yes,size=1k,size=2k", request));
    ASSERT_TRUE(request.size);
    EXPECT_EQ(*request.size, 2048u);
    EXPECT_EQ(formatting_line(request),
        "Formatting 'a.raw', fmt=raw size=2048 nocow=yes preallocation=falloc extent_size_hint=2097152");
}

TEST(ImgOptions, BadCreateOptionsGiveQemusMessages)
{
    CreateRequest request{.filename = "a.raw", .format = "raw"};
    auto unknown = parse_create_options("foo=bar", request);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().desc, "Invalid parameter 'foo'");
    auto flag = parse_create_options("nocow=x", request);
    ASSERT_FALSE(flag);
    EXPECT_EQ(flag.error().desc, "Parameter 'nocow' expects 'on' or 'off'");
}

TEST(ImgOptions, HelpListsAreSortedAndMerged)
{
    auto merged = merged_create_opts("raw", "a.raw");
    ASSERT_EQ(merged.size(), 4u);
    EXPECT_EQ(merged[0].name, "size");
    EXPECT_EQ(merged[3].name, "extent_size_hint");
    EXPECT_TRUE(merged_create_opts("nonesuch", "a").empty());
    // A device node is created (checked) by host_device, which knows only preallocation.
    auto device = merged_create_opts("raw", "/dev/null");
    ASSERT_EQ(device.size(), 2u);
    EXPECT_EQ(device[1].name, "preallocation");
    CreateRequest request{.filename = "a", .format = "raw"};
    auto unknown = parse_create_options("nocow=on,static=on", request);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().desc, "Invalid parameter 'static'");
}

TEST(ImgOptions, SizesPrintSignedAsQemuKeepsThem)
{
    CreateRequest request{.filename = "x", .format = "raw", .size = uint64_t{1} << 63};
    EXPECT_EQ(formatting_line(request), "Formatting 'x', fmt=raw size=-9223372036854775808");
}

TEST(ImgOptions, StringValuesPrintWithTheirCommasDoubledAsQemuEscapesThem)
{
    CreateRequest request{.filename = "c.vmdk", .format = "vmdk", .size = 1048576};
    ASSERT_TRUE(parse_create_options("backing_file=b,,x.vmdk,backing_fmt=vmdk", request));
    EXPECT_EQ(request.opts["backing_file"], "b,x.vmdk");
    EXPECT_EQ(formatting_line(request),
        "Formatting 'c.vmdk', fmt=vmdk size=1048576 backing_file=b,,x.vmdk "
        "backing_fmt=vmdk compat6=off hwversion=undefined");
}

TEST(ImgOptions, CacheModes)
{
    auto none = parse_cache_mode("none");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->direct);
    EXPECT_FALSE(none->writethrough);
    auto off = parse_cache_mode("off");
    ASSERT_TRUE(off);
    EXPECT_TRUE(off->direct);
    auto directsync = parse_cache_mode("directsync");
    ASSERT_TRUE(directsync);
    EXPECT_TRUE(directsync->direct && directsync->writethrough);
    auto unsafe = parse_cache_mode("unsafe");
    ASSERT_TRUE(unsafe);
    EXPECT_TRUE(unsafe->no_flush);
    EXPECT_FALSE(unsafe->direct);
    auto writethrough = parse_cache_mode("writethrough");
    ASSERT_TRUE(writethrough);
    EXPECT_TRUE(writethrough->writethrough && !writethrough->direct);
    EXPECT_TRUE(parse_cache_mode("writeback"));
    EXPECT_FALSE(parse_cache_mode("bad"));
}

}  // namespace
}  // namespace qemu::img
