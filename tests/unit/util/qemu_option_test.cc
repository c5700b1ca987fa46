// QemuOpts: the option syntax every -option shares.
#include <gtest/gtest.h>

#include <array>

#include "util/qemu-option.h"

using qemu::QemuOpts;

TEST(QemuOpts, ImpliedKeyTakesTheLeadingBareValue)
{
    auto opts = QemuOpts::parse("socket,id=c0,path=/tmp/x", "backend");
    ASSERT_TRUE(opts);
    EXPECT_EQ(opts->get("backend"), "socket");
    EXPECT_EQ(opts->get("id"), "c0");
    EXPECT_EQ(opts->get("path"), "/tmp/x");
}

TEST(QemuOpts, DoubledCommaEscapesAComma)
{
    auto opts = QemuOpts::parse("file,path=/tmp/a,,b,id=x", "backend");
    ASSERT_TRUE(opts);
    EXPECT_EQ(opts->get("path"), "/tmp/a,b");
    EXPECT_EQ(opts->get("id"), "x");
}

TEST(QemuOpts, ShortFormBooleansWarnAndMeanOnOff)
{
    auto opts = QemuOpts::parse("socket,server,nowait", "backend");
    ASSERT_TRUE(opts);
    EXPECT_EQ(opts->get("server"), "on");
    EXPECT_EQ(opts->get("wait"), "off");
    ASSERT_EQ(opts->warnings().size(), 2u);
    EXPECT_EQ(opts->warnings()[1], "short-form boolean option 'nowait' deprecated\nPlease use wait=off instead");
}

TEST(QemuOpts, LaterValueWins)
{
    auto opts = QemuOpts::parse("a=1,a=2");
    ASSERT_TRUE(opts);
    EXPECT_EQ(opts->get("a"), "2");
}

TEST(QemuOpts, UnknownParameterIsRefusedByName)
{
    auto opts = QemuOpts::parse("null,id=x,bogus=1", "backend");
    ASSERT_TRUE(opts);
    constexpr std::array<std::string_view, 2> allowed = {"backend", "id"};
    auto ok = opts->check_allowed(allowed);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().desc, "Invalid parameter 'bogus'");
}

TEST(QemuOpts, BooleanValues)
{
    EXPECT_EQ(qemu::parse_option_bool("x", "on"), true);
    EXPECT_EQ(qemu::parse_option_bool("x", "yes"), true);
    EXPECT_EQ(qemu::parse_option_bool("x", "off"), false);
    EXPECT_EQ(qemu::parse_option_bool("x", "n"), false);
    auto bad = qemu::parse_option_bool("server", "maybe");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "Parameter 'server' expects 'on' or 'off'");
}

TEST(QemuOpts, SizesWithSuffixes)
{
    EXPECT_EQ(qemu::parse_option_size("s", "512"), 512u);
    EXPECT_EQ(qemu::parse_option_size("s", "4k"), 4096u);
    EXPECT_EQ(qemu::parse_option_size("s", "1M"), 1048576u);
    EXPECT_EQ(qemu::parse_option_size("s", "1.5G"), 1610612736u);
    EXPECT_EQ(qemu::parse_option_size("s", "16E").has_value(), false);
    auto bad = qemu::parse_option_size("size", "foo");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc,
              "Parameter 'size' expects a non-negative number below 2^64\n"
              "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
              "and exabytes, respectively.");
    EXPECT_FALSE(qemu::parse_option_size("size", "-1"));
    EXPECT_FALSE(qemu::parse_option_size("size", "1Q"));
}

TEST(QemuOpts, Numbers)
{
    EXPECT_EQ(qemu::parse_option_number("fd", "3"), 3u);
    EXPECT_EQ(qemu::parse_option_number("fd", "0x10"), 16u);
    EXPECT_FALSE(qemu::parse_option_number("fd", "3x"));
    EXPECT_FALSE(qemu::parse_option_number("fd", ""));
    EXPECT_EQ(qemu::parse_option_number("fd", "-1"), UINT64_MAX);
}

TEST(QemuOpts, Identifiers)
{
    EXPECT_TRUE(qemu::id_wellformed("mon0"));
    EXPECT_TRUE(qemu::id_wellformed("a-b.c_d"));
    EXPECT_FALSE(qemu::id_wellformed("0mon"));
    EXPECT_FALSE(qemu::id_wellformed(""));
    EXPECT_FALSE(qemu::id_wellformed("a b"));
}
