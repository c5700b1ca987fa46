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

}  // namespace
}  // namespace qemu::monitor
