// The one path from the generated BlockdevOptions to a driver's flat options: nested
// BlockdevRefs become dotted keys (or a plain key naming a node), structs and scalars
// become the text an option string would carry, and a driver's options need no code.
#include <gtest/gtest.h>

#include "block/blockdev-options.h"

using qemu::JsonValue;
using qemu::block::blockdev_options_from_json;
using qemu::block::BlockOptions;

namespace {

BlockOptions flat(const char* json)
{
    auto result = blockdev_options_from_json(JsonValue::parse(json));
    EXPECT_TRUE(result) << result.error().desc;
    return result.value_or(BlockOptions{});
}

std::string error_of(const char* json)
{
    auto result = blockdev_options_from_json(JsonValue::parse(json));
    EXPECT_FALSE(result);
    return result ? "" : result.error().desc;
}

TEST(BlockdevOptions, NestedChildBecomesDottedKeys)
{
    EXPECT_EQ(flat(R"({"driver": "raw", "node-name": "d0", "offset": 512, "cache": {"direct": true},
                       "file": {"driver": "file", "filename": "/x", "locking": "off", "read-only": false}})"),
        (BlockOptions{{"driver", "raw"}, {"node-name", "d0"}, {"offset", "512"}, {"cache.direct", "on"},
            {"file.driver", "file"}, {"file.filename", "/x"}, {"file.locking", "off"}, {"file.read-only", "off"}}));
}

TEST(BlockdevOptions, ChildByNodeNameIsAPlainKey)
{
    EXPECT_EQ(flat(R"({"driver": "vpc", "file": "f0", "detect-zeroes": "on"})"),
        (BlockOptions{{"driver", "vpc"}, {"file", "f0"}, {"detect-zeroes", "on"}}));
}

TEST(BlockdevOptions, ADriversOwnOptionsComeFromTheSchemaAlone)
{
    EXPECT_EQ(flat(R"({"driver": "null-co", "size": 1048576, "read-zeroes": true, "latency-ns": 0})"),
        (BlockOptions{{"driver", "null-co"}, {"size", "1048576"}, {"read-zeroes", "on"}, {"latency-ns", "0"}}));
    EXPECT_EQ(flat(R"({"driver": "raw", "file": {"driver": "host_device", "filename": "/dev/fdset/1"}})"),
        (BlockOptions{{"driver", "raw"}, {"file.driver", "host_device"}, {"file.filename", "/dev/fdset/1"}}));
}

TEST(BlockdevOptions, ErrorsNameTheMemberAsQemuDoes)
{
    EXPECT_EQ(error_of(R"({"driver": "raw", "file": 42})"), "Invalid parameter type for 'file', expected: BlockdevRef");
    EXPECT_EQ(error_of(R"({"driver": "raw", "file": {"filename": "/x"}})"), "Parameter 'file.driver' is missing");
    EXPECT_EQ(error_of(R"({"driver": "raw", "file": {"driver": "file", "filename": "/x", "bogus": 1}})"),
        "Parameter 'file.bogus' is unexpected");
    EXPECT_EQ(
        error_of(R"({"driver": "null-co", "size": "big"})"), "Invalid parameter type for 'size', expected: integer");
    EXPECT_EQ(error_of(R"({"driver": "file", "filename": "/x", "detect-zeroes": "unmap"})"),
        "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap");
}

}  // namespace
