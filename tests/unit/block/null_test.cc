// The null-co and null-aio protocols: they open without a filename (QEMU's defaults: 1 GiB,
// no latency, undefined reads), take only their own "null-co://" as one, read zeroes with
// read-zeroes, report that in block status, and serve as the file child of a format.
#include <algorithm>

#include "block/drivers.h"
#include "block/reopen.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;

namespace {

class NullTest : public BlockTest, public ::testing::WithParamInterface<const char*> {
protected:
    std::string driver() const { return GetParam(); }
};

TEST_P(NullTest, OpensWithoutAFilenameWithQemusDefaults)
{
    auto node = graph().open(std::nullopt, {{"driver", driver()}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->driver().format_name, driver());
    EXPECT_EQ((*node)->filename(), driver() + "://");
    EXPECT_EQ((*node)->length().value_or(0), int64_t{1} << 30);
    EXPECT_EQ((*node)->allocated_file_size().value_or(-1), 0);
    EXPECT_FALSE((*node)->read_only());
}

TEST_P(NullTest, ReadZeroesFillsTheBufferAndWithoutItLeavesIt)
{
    auto zeroes = graph().open(std::nullopt, {{"driver", driver()}, {"read-zeroes", "on"}}, ro());
    ASSERT_TRUE(zeroes) << zeroes.error().desc;
    std::vector<uint8_t> buf(4096, 0xab);
    ASSERT_TRUE((*zeroes)->pread(512, buf));
    EXPECT_TRUE(std::ranges::all_of(buf, [](uint8_t b) { return b == 0; }));

    auto untouched = graph().open(std::nullopt, {{"driver", driver()}}, rw());
    ASSERT_TRUE(untouched) << untouched.error().desc;
    std::ranges::fill(buf, 0xab);
    ASSERT_TRUE((*untouched)->pread(0, buf));
    EXPECT_TRUE(std::ranges::all_of(buf, [](uint8_t b) { return b == 0xab; }));
    EXPECT_TRUE((*untouched)->pwrite(0, buf));
    EXPECT_TRUE((*untouched)->flush());
}

TEST_P(NullTest, BlockStatusSaysZeroOnlyWithReadZeroes)
{
    auto zeroes = graph().open(std::nullopt, {{"driver", driver()}, {"read-zeroes", "on"}, {"size", "1M"}}, ro());
    ASSERT_TRUE(zeroes) << zeroes.error().desc;
    auto status = (*zeroes)->block_status(true, 4096, 1 << 20);
    ASSERT_TRUE(status) << status.error().desc;
    EXPECT_EQ(status->flags, status::kZero | status::kOffsetValid | status::kAllocated | status::kEof);
    EXPECT_EQ(status->bytes, (1 << 20) - 4096);
    EXPECT_EQ(status->map, 4096);

    auto plain = graph().open(std::nullopt, {{"driver", driver()}, {"size", "1M"}}, ro());
    ASSERT_TRUE(plain) << plain.error().desc;
    status = (*plain)->block_status(true, 0, 4096);
    ASSERT_TRUE(status) << status.error().desc;
    EXPECT_EQ(status->flags, status::kOffsetValid);
}

TEST_P(NullTest, SizeCountsInSectorsAndLatencyMustFitASignedNumber)
{
    auto odd = graph().open(std::nullopt, {{"driver", driver()}, {"size", "1000"}, {"latency-ns", "0"}}, ro());
    ASSERT_TRUE(odd) << odd.error().desc;
    EXPECT_EQ((*odd)->length().value_or(0), 1024);

    auto huge = graph().open(std::nullopt, {{"driver", driver()}, {"latency-ns", "9223372036854775808"}}, ro());
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().desc, "latency-ns is invalid");
}

TEST_P(NullTest, OnlyItsOwnNameIsAFilename)
{
    // Without a format the name is probed, and guessed raw, as QEMU does.
    auto probed = graph().open(driver() + "://", {}, ro());
    ASSERT_TRUE(probed) << probed.error().desc;
    EXPECT_EQ((*probed)->driver().format_name, "raw");
    EXPECT_EQ((*probed)->filename(), driver() + "://");

    auto other = graph().open(driver() + "://foo", {}, ro());
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().desc, "The only allowed filename for this driver is '" + driver() + "://'");

    auto option = graph().open("json:{\"driver\":\"" + driver() + "\",\"filename\":\"x\"}", {}, ro());
    ASSERT_FALSE(option);
    EXPECT_EQ(option.error().desc, "Block protocol '" + driver() + "' doesn't support the option 'filename'");
}

TEST_P(NullTest, IsTheFileChildOfAFormat)
{
    auto node = graph().open(std::nullopt,
        {{"driver", "raw"}, {"offset", "512"}, {"file.driver", driver()}, {"file.size", "4096"},
            {"file.read-zeroes", "on"}},
        rw());
    ASSERT_TRUE(node) << node.error().desc;
    ASSERT_NE((*node)->file(), nullptr);
    EXPECT_EQ((*node)->file()->driver().format_name, driver());
    EXPECT_EQ((*node)->length().value_or(0), 4096 - 512);
    std::vector<uint8_t> buf(512, 0xab);
    ASSERT_TRUE((*node)->pread(0, buf));
    EXPECT_EQ(buf[0], 0);

    // Nothing on the host to reopen: read-only and back only changes the flags.
    EXPECT_TRUE(has_write_access(**node));
    BlockOptions read_only{{"driver", "raw"}, {"read-only", "on"}, {"offset", "512"}, {"file.driver", driver()},
        {"file.size", "4096"}, {"file.read-zeroes", "on"}};
    auto done = reopen(**node, read_only);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE((*node)->read_only());
}

TEST_P(NullTest, IsListedAsAProtocolThatNeedsNoFilename)
{
    const BlockDriver* found = find_protocol(driver());
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found, find_driver(driver()));
    EXPECT_FALSE(found->needs_filename);
    EXPECT_EQ(found->create, nullptr);
    std::vector<std::string_view> strong(found->strong_runtime_opts.begin(), found->strong_runtime_opts.end());
    EXPECT_EQ(strong, (std::vector<std::string_view>{"size", "read-zeroes"}));
}

INSTANTIATE_TEST_SUITE_P(NullDrivers, NullTest, ::testing::Values("null-co", "null-aio"),
    [](const auto& info) { return std::string(info.param) == "null-co" ? "NullCo" : "NullAio"; });

}  // namespace
