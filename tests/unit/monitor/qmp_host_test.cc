// A QmpMonitor over an in-memory chardev, hosted by a fake MonitorHost: the commands reach
// the emulator's parts and run state only through the host, and the events the host emits
// reach the monitor through QmpMonitors. Links without system/.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "monitor/qmp-monitors.h"
#include "monitor/qmp.h"
#include "tests/unit/monitor/fake_host.h"

namespace qemu::monitor {
namespace {

using fake::FakeHost;
using fake::MemoryChardev;

class QmpHostTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        host.monitors().add(std::make_unique<QmpMonitor>(host, chardev, QmpMonitorOptions{}));
        fake::run_pending_main_loop();
    }

    // Sends one request and returns every line the monitor wrote in answer, parsed.
    std::vector<JsonValue> request(std::string_view text)
    {
        chardev.deliver(text);
        std::vector<JsonValue> replies;
        for (const std::string& line : chardev.take_lines()) {
            auto parsed = json_parse(line);
            EXPECT_TRUE(parsed.has_value()) << line;
            replies.push_back(parsed.value_or(JsonValue()));
        }
        return replies;
    }

    JsonValue only_reply(std::string_view text)
    {
        auto replies = request(text);
        EXPECT_EQ(replies.size(), 1u);
        return replies.empty() ? JsonValue() : replies.front();
    }

    void negotiate()
    {
        chardev.take_lines();
        EXPECT_EQ(json_to_string(only_reply(R"({"execute": "qmp_capabilities"})")), R"({"return": {}})");
    }

    // Declared first: the host's monitors detach from it when the host goes.
    MemoryChardev chardev;
    FakeHost host;
};

TEST_F(QmpHostTest, GreetingComesFromTheMonitorLayer)
{
    auto lines = chardev.take_lines();
    ASSERT_EQ(lines.size(), 1u);
    auto greeting = json_parse(lines[0]);
    ASSERT_TRUE(greeting.has_value());
    EXPECT_EQ((*greeting)["QMP"]["capabilities"], JsonValue::array());
    EXPECT_TRUE((*greeting)["QMP"]["version"]["qemu"].contains("major"));
}

TEST_F(QmpHostTest, StopChangesTheHostsStateAndItsEventReachesTheMonitor)
{
    negotiate();
    host.state = qapi::RunState::running;
    auto replies = request(R"({"execute": "stop", "id": 1})");
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0]["event"], "STOP");
    EXPECT_EQ(json_to_string(replies[1]), R"({"return": {}, "id": 1})");
    EXPECT_EQ(host.state, qapi::RunState::paused);

    JsonValue status = only_reply(R"({"execute": "query-status"})");
    EXPECT_EQ(status["return"]["status"], "paused");
    EXPECT_EQ(status["return"]["running"], false);
}

TEST_F(QmpHostTest, EventsWaitForNegotiation)
{
    chardev.take_lines();
    host.start();
    EXPECT_TRUE(chardev.take_lines().empty());
    negotiate();
    host.stop();
    auto lines = chardev.take_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(R"("event": "STOP")"), std::string::npos) << lines[0];
}

TEST_F(QmpHostTest, QuitAsksTheHostToShutDown)
{
    negotiate();
    auto replies = request(R"({"execute": "quit"})");
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0]["event"], "SHUTDOWN");
    EXPECT_EQ(replies[0]["data"]["reason"], "host-qmp-quit");
    EXPECT_EQ(host.shutdown_cause, qapi::ShutdownCause::host_qmp_quit);
}

TEST_F(QmpHostTest, HmpReadsTheHostsNameAndState)
{
    negotiate();
    host.vm_name = "guest1";
    JsonValue name = only_reply(R"({"execute": "human-monitor-command", "arguments": {"command-line": "info name"}})");
    EXPECT_EQ(name["return"], "guest1\r\n");
    JsonValue status =
        only_reply(R"({"execute": "human-monitor-command", "arguments": {"command-line": "info status"}})");
    EXPECT_EQ(status["return"], "VM status: paused (prelaunch)\r\n");
}

TEST_F(QmpHostTest, FdCommandsUseTheHostsFdSets)
{
    negotiate();
    JsonValue added = only_reply(R"({"execute": "add-fd", "arguments": {"fdset-id": 2}})");
    EXPECT_EQ(added["error"]["desc"], "No file descriptor supplied via SCM_RIGHTS");
    EXPECT_TRUE(host.fdsets().query().empty());
    EXPECT_EQ(json_to_string(only_reply(R"({"execute": "query-fdsets"})")), R"({"return": []})");
}

TEST_F(QmpHostTest, BlockdevAddAndDelWorkOnTheHostsBlockDevices)
{
    std::string path = ::testing::TempDir() + "monitor-qmp-host-XXXXXX";
    int fd = mkstemp(path.data());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
    negotiate();

    JsonValue add = JsonValue{
        {"execute", "blockdev-add"}, {"arguments", {{"driver", "file"}, {"filename", path}, {"node-name", "disk0"}}}};
    EXPECT_EQ(json_to_string(only_reply(json_to_string(add))), R"({"return": {}})");
    ASSERT_NE(host.block().graph().find_node("disk0"), nullptr);
    JsonValue nodes = only_reply(R"({"execute": "query-named-block-nodes"})");
    ASSERT_EQ(nodes["return"].size(), 1u);
    EXPECT_EQ(nodes["return"][0]["node-name"], "disk0");
    EXPECT_EQ(nodes["return"][0]["image"]["virtual-size"], 1 << 20);

    EXPECT_EQ(json_to_string(only_reply(R"({"execute": "blockdev-del", "arguments": {"node-name": "disk0"}})")),
        R"({"return": {}})");
    EXPECT_EQ(host.block().graph().find_node("disk0"), nullptr);
    unlink(path.c_str());
}

TEST_F(QmpHostTest, QueriesReportTheBackingFileANodeNamesAndItsChain)
{
    std::string path = ::testing::TempDir() + "monitor-backing-XXXXXX";
    int fd = mkstemp(path.data());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
    negotiate();
    for (const char* name : {"base", "top"}) {
        JsonValue add = JsonValue{{"execute", "blockdev-add"},
            {"arguments", {{"driver", "raw"}, {"node-name", name}, {"read-only", true},
                              {"file", {{"driver", "file"}, {"filename", path}}}}}};
        ASSERT_EQ(json_to_string(only_reply(json_to_string(add))), R"({"return": {}})");
    }
    // No format here has backing files yet; give the top node one as a COW driver would.
    block::BlockNode* top = host.block().graph().find_node("top");
    block::BlockNode* base = host.block().graph().find_node("base");
    top->set_backing_file("base.img", "vmdk");
    top->add_child("backing", base->shared_from_this(), block::child_role::kCow);

    auto find = [](const JsonValue& list, const char* name) {
        for (const JsonValue& node : list) {
            if (node["node-name"] == name) {
                return node;
            }
        }
        return JsonValue();
    };
    JsonValue nested = find(only_reply(R"({"execute": "query-named-block-nodes"})")["return"], "top");
    // backing_file is the backing node's name (QEMU 7.2's bdrv_block_device_info); the
    // name in the image is backing-filename.
    EXPECT_EQ(nested["backing_file"], path);
    std::string dir = path.substr(0, path.rfind('/') + 1);
    EXPECT_EQ(nested["backing_file_depth"], 1);
    EXPECT_EQ(nested["image"]["backing-filename"], "base.img");
    EXPECT_EQ(nested["image"]["full-backing-filename"], dir + "base.img");
    EXPECT_EQ(nested["image"]["backing-filename-format"], "vmdk");
    JsonValue flat =
        find(only_reply(R"({"execute": "query-named-block-nodes", "arguments": {"flat": true}})")["return"], "top");
    EXPECT_EQ(flat["backing_file_depth"], 0);
    EXPECT_FALSE(find(only_reply(R"({"execute": "query-named-block-nodes"})")["return"], "base").contains(
        "backing_file"));

    // The base is the top's child now: it cannot go first, and goes with the top.
    JsonValue del_base = only_reply(R"({"execute": "blockdev-del", "arguments": {"node-name": "base"}})");
    EXPECT_EQ(del_base["error"]["desc"], "Node 'base' is busy: node is used as backing hd of 'top'");
    EXPECT_EQ(json_to_string(only_reply(R"({"execute": "blockdev-del", "arguments": {"node-name": "top"}})")),
        R"({"return": {}})");
    EXPECT_EQ(json_to_string(only_reply(R"({"execute": "blockdev-del", "arguments": {"node-name": "base"}})")),
        R"({"return": {}})");
    unlink(path.c_str());
}

}  // namespace
}  // namespace qemu::monitor
