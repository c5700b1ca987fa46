// qmp_dispatch and Vm::disabled_commands: a disabled command is refused with QEMU's
// CommandNotFound text before its arguments are looked at, and only that command is.
#include <gtest/gtest.h>

#include "monitor/dispatch.h"
#include "system/vm.h"

namespace qemu::monitor {
namespace {

JsonValue dispatch(Vm& vm, std::string_view request)
{
    qapi::QmpContext ctx{vm, nullptr};
    auto parsed = json_parse(request);
    EXPECT_TRUE(parsed.has_value());
    auto reply = qmp_dispatch(ctx, *parsed, DispatchOptions{});
    EXPECT_TRUE(reply.has_value());
    return reply.value_or(JsonValue());
}

TEST(DispatchDisabled, DisabledCommandIsRefusedWithQemuText)
{
    Vm vm;
    vm.disabled_commands.insert("query-status");
    JsonValue reply = dispatch(vm, R"({"execute": "query-status", "arguments": {"bogus": 1}, "id": 7})");
    EXPECT_EQ(json_to_string(reply),
        R"({"id": 7, "error": {"class": "CommandNotFound", "desc": "Command query-status has been disabled"}})");
}

TEST(DispatchDisabled, OtherCommandsStillRun)
{
    Vm vm;
    vm.disabled_commands.insert("chardev-add");
    JsonValue reply = dispatch(vm, R"({"execute": "query-status"})");
    ASSERT_TRUE(reply.contains("return")) << json_to_string(reply);
    EXPECT_EQ(reply["return"]["status"], "prelaunch");
}

TEST(DispatchDisabled, UnknownCommandIsStillNotFound)
{
    Vm vm;
    vm.disabled_commands.insert("no-such-command");
    JsonValue reply = dispatch(vm, R"({"execute": "no-such-command"})");
    EXPECT_EQ(reply["error"]["desc"], "The command no-such-command has not been found");
}

}  // namespace
}  // namespace qemu::monitor
