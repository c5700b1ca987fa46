// Drivers through the emulator's one generic option path: null-co and null-aio from
// blockdev-add and -drive, listed by query-named-block-nodes and query-block exactly as
// Debian's QEMU 7.2 lists them (json: names from their strong options, no dirty-flag since
// they answer no bdrv_get_info), and host_device over /dev/fdset/N, which reopens its
// descriptor read-write like file does: on blockdev-reopen, and under auto-read-only on
// the first write through HMP qemu-io. The node objects below were taken from QEMU 7.2;
// only generated node names ("#block...") are not compared.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::InheritedFd;
using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

// The order of keys in a QMP object is not significant: compare with keys sorted.
std::string canon(const JsonValue& value)
{
    return nlohmann::json::parse(value.dump()).dump();
}

std::string error_of(const JsonValue& reply)
{
    return qtest::qmp_expect_error(reply, "GenericError");
}

// query-named-block-nodes' entry for a null node as QEMU 7.2 gives it.
JsonValue qemu_null_node(
    const std::string& node_name, const std::string& drv, const std::string& filename, int64_t size)
{
    JsonValue node = JsonValue::parse(R"({"iops_rd": 0, "detect_zeroes": "off", "iops_wr": 0, "ro": false,
        "backing_file_depth": 0, "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0,
        "bps_rd": 0, "cache": {"no-flush": false, "direct": false, "writeback": true}})");
    node["node-name"] = node_name;
    node["drv"] = drv;
    node["file"] = filename;
    node["image"] = {{"virtual-size", size}, {"filename", filename}, {"format", drv}, {"actual-size", 0}};
    return node;
}

JsonValue node_named(const JsonValue& nodes, const std::string& name)
{
    for (const JsonValue& node : nodes) {
        if (node["node-name"] == name) {
            return node;
        }
    }
    return nullptr;
}

TEST(NullDrivers, BlockdevAddListsThemAsQemuDoes)
{
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'null-co', 'node-name': 'n0'}}");
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'null-aio', 'node-name': 'n1', "
                            "'size': 1048576, 'read-zeroes': true, 'latency-ns': 0}}");
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'r0', "
                            "'file': {'driver': 'null-co', 'node-name': 'n2', 'size': 4096}}}");
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    ASSERT_EQ(nodes.size(), 4u) << dump(nodes);
    EXPECT_EQ(canon(node_named(nodes, "n0")), canon(qemu_null_node("n0", "null-co", "null-co://", 1 << 30)));
    EXPECT_EQ(canon(node_named(nodes, "n1")),
        canon(qemu_null_node(
            "n1", "null-aio", R"(json:{"read-zeroes": true, "driver": "null-aio", "size": 1048576})", 1 << 20)));
    EXPECT_EQ(canon(node_named(nodes, "n2")),
        canon(qemu_null_node("n2", "null-co", R"(json:{"driver": "null-co", "size": 4096})", 4096)));
    JsonValue raw =
        qemu_null_node("r0", "raw", R"(json:{"driver": "raw", "file": {"driver": "null-co", "size": 4096}})", 4096);
    raw["image"]["format"] = "raw";
    EXPECT_EQ(canon(node_named(nodes, "r0")), canon(raw));

    EXPECT_EQ(qts->hmp("qemu-io n1 \"read -P 0 0 64k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io r0 \"write -P 0x11 0 4k\""), "");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'null-co', "
                                "'node-name': 'n3', 'latency-ns': -1}}")),
        "latency-ns is invalid");
}

TEST(NullDrivers, DriveIsListedByQueryBlock)
{
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=drive0,driver=null-co,node-name=n0");
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["device"], "drive0");
    EXPECT_EQ(block[0]["removable"], true);
    EXPECT_EQ(block[0]["locked"], false);
    EXPECT_EQ(canon(block[0]["inserted"]), canon(qemu_null_node("n0", "null-co", "null-co://", 1 << 30)));
}

// A character device opened both ways, handed to the emulator as fd set 1. Its length is
// 0, so the writes below fail with EIO after the reopen (on the emulator's stdout, as in
// QEMU); what they prove is which member's duplicate the node holds, seen in /proc.
struct HostDeviceOverFdset : ::testing::Test {
    qemu::UniqueFd ro{::open("/dev/zero", O_RDONLY | O_CLOEXEC)};
    qemu::UniqueFd rw{::open("/dev/zero", O_RDWR | O_CLOEXEC)};
    InheritedFd inherit[2] = {{ro.get(), 3}, {rw.get(), 4}};
    std::string set_args = std::string(kArgs) + " -add-fd fd=3,set=1 -add-fd fd=4,set=1";

    // The access mode of the emulator's descriptors on /dev/zero, beyond the set's two.
    static int modes_open(QTestState& qts, int mode)
    {
        int count = 0;
        for (int fd : qts.open_fds()) {
            if (qts.fd_target(fd) != "/dev/zero") {
                continue;
            }
            std::string path = "/proc/" + std::to_string(qts.pid()) + "/fdinfo/" + std::to_string(fd);
            FILE* info = std::fopen(path.c_str(), "r");
            if (!info) {
                continue;
            }
            unsigned flags = 0;
            char line[128];
            while (std::fgets(line, sizeof line, info)) {
                std::sscanf(line, "flags: %o", &flags);
            }
            std::fclose(info);
            count += static_cast<int>(flags & O_ACCMODE) == mode;
        }
        return count;
    }
};

TEST_F(HostDeviceOverFdset, BlockdevReopenReadWriteDuplicatesTheReadWriteMember)
{
    auto qts = QTestState::init(set_args, inherit);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'host_device', 'node-name': 'h0', "
                            "'filename': '/dev/fdset/1'}}}");
    // The set's two members, and the node's duplicate of the read-only one.
    EXPECT_EQ(modes_open(*qts, O_RDONLY), 2);
    EXPECT_EQ(modes_open(*qts, O_RDWR), 1);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 0 512\""), "Block node is read-only\r\n");

    qts->qmp_assert_success("{'execute': 'blockdev-reopen', 'arguments': {'options': [{'driver': 'raw', "
                            "'node-name': 'd0', 'read-only': false, 'file': 'h0'}]}}");
    EXPECT_EQ(modes_open(*qts, O_RDONLY), 1);
    EXPECT_EQ(modes_open(*qts, O_RDWR), 2);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0x77 0 512\""), "");
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}")[0]["ro"], false);

    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd0'}}");
    EXPECT_EQ(modes_open(*qts, O_RDONLY), 1);
    EXPECT_EQ(modes_open(*qts, O_RDWR), 1);
}

TEST_F(HostDeviceOverFdset, AutoReadOnlyReopensOnTheFirstWrite)
{
    auto qts = QTestState::init(
        set_args + " -drive if=none,id=drive0,format=raw,file.driver=host_device,file.filename=/dev/fdset/1", inherit);
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u);
    // The node is read-write; only its descriptor is read-only until somebody writes.
    EXPECT_EQ(block[0]["inserted"]["ro"], false);
    EXPECT_EQ(block[0]["inserted"]["file"], "/dev/fdset/1");
    EXPECT_EQ(modes_open(*qts, O_RDONLY), 2);
    EXPECT_EQ(modes_open(*qts, O_RDWR), 1);

    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x42 0 512\""), "");
    EXPECT_EQ(modes_open(*qts, O_RDONLY), 1);
    EXPECT_EQ(modes_open(*qts, O_RDWR), 2);
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x43 512 512\""), "");
    EXPECT_EQ(modes_open(*qts, O_RDWR), 2);
}

TEST(HostDeviceOverFdsetReadOnly, ReopenWithoutAReadWriteMemberFailsAndKeepsTheNode)
{
    qemu::UniqueFd ro{::open("/dev/zero", O_RDONLY | O_CLOEXEC)};
    InheritedFd inherit[] = {{ro.get(), 3}};
    auto qts = QTestState::init(std::string(kArgs) + " -add-fd fd=3,set=1", inherit);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'host_device', 'node-name': 'h0', "
                            "'filename': '/dev/fdset/1'}}}");
    EXPECT_FALSE(error_of(qts->qmp("{'execute': 'blockdev-reopen', 'arguments': {'options': [{'driver': 'raw', "
                                   "'node-name': 'd0', 'read-only': false, 'file': 'h0'}]}}"))
                     .empty());
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}")[0]["ro"], true);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"read 0 512\""), "");
}

}  // namespace
