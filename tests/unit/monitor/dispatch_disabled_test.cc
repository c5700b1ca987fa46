// qmp_dispatch and MonitorHost::command_disabled: a disabled command is refused with QEMU's
// CommandNotFound text before its arguments are looked at, and only that command is.
#include <gtest/gtest.h>

#include "monitor/dispatch.h"
#include "tests/unit/monitor/fake_host.h"

namespace qemu::monitor {
namespace {

using fake::FakeHost;

JsonValue dispatch(FakeHost& host, std::string_view request)
{
    qapi::QmpContext ctx{host, nullptr};
    auto parsed = json_parse(request);
    EXPECT_TRUE(parsed.has_value());
    auto reply = qmp_dispatch(ctx, *parsed, DispatchOptions{});
    EXPECT_TRUE(reply.has_value());
    return reply.value_or(JsonValue());
}

TEST(DispatchDisabled, DisabledCommandIsRefusedWithQemuText)
{
    FakeHost host;
    host.disabled.insert("query-status");
    JsonValue reply = dispatch(host, R"({"execute": "query-status", "arguments": {"bogus": 1}, "id": 7})");
    EXPECT_EQ(json_to_string(reply),
        R"({"id": 7, "error": {"class": "CommandNotFound", "desc": "Command query-status has been disabled"}})");
}

TEST(DispatchDisabled, OtherCommandsStillRun)
{
    FakeHost host;
    host.disabled.insert("chardev-add");
    JsonValue reply = dispatch(host, R"({"execute": "query-status"})");
    ASSERT_TRUE(reply.contains("return")) << json_to_string(reply);
    EXPECT_EQ(reply["return"]["status"], "prelaunch");
}

TEST(DispatchDisabled, UnknownCommandIsStillNotFound)
{
    FakeHost host;
    host.disabled.insert("no-such-command");
    JsonValue reply = dispatch(host, R"({"execute": "no-such-command"})");
    EXPECT_EQ(reply["error"]["desc"], "The command no-such-command has not been found");
}

}  // namespace
}  // namespace qemu::monitor
