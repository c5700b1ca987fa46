// QMP as a client sees it, in the spirit of QEMU's tests/qtest/qmp-test.c: the greeting,
// capabilities negotiation, malformed input with recovery, id echo, the basic queries,
// human-monitor-command, run-state events, SIGTERM, fd passing and several monitors.
//
// Every case also passes against the distribution QEMU 7.2 with
//   QTEST_QEMU_BINARY=/usr/bin/qemu-system-x86_64 QTEST_ACCEL=tcg QTEST_NO_AUDIO=1
// (it has no qtest accelerator and rejects "-audio none"), which is where the exact texts
// below were checked.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QmpConnection;
using qtest::QTestState;
using qtest::qmp_expect_error;

constexpr const char* kCommonArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value) { return qemu::json_to_string(value); }

// Any command at all now succeeds in being rejected as unknown: the stream is in sync.
void expect_recovered(QmpConnection& qmp)
{
    JsonValue reply = qmp.command("{ 'execute': 'no-such-cmd' }");
    qmp_expect_error(reply, "CommandNotFound");
}

void expect_error_reply(QmpConnection& qmp, std::string_view cls, std::string_view desc = {})
{
    JsonValue reply = qmp.receive_dict();
    std::string got = qmp_expect_error(reply, cls);
    EXPECT_FALSE(reply.contains("id")) << dump(reply);
    if (!desc.empty()) {
        EXPECT_EQ(got, desc);
    }
}

// The same malformed input before and after negotiation gives the same answers. The descs
// are QEMU 7.2's; bad bytes come back as JSON escapes (0xFF as U+FFFD).
void run_malformed_battery(QmpConnection& qmp)
{
    // syntax error
    qmp.send_raw("{]\n");
    expect_error_reply(qmp, "GenericError", "JSON parse error, expecting value");
    expect_recovered(qmp);

    // lexical error: impossible byte outside a string
    qmp.send_raw("{\xFF");
    expect_error_reply(qmp, "GenericError", "JSON parse error, stray '\uFFFD'");
    expect_recovered(qmp);

    // lexical error: a control character outside a string
    qmp.send_raw("{\x01");
    expect_error_reply(qmp, "GenericError", "JSON parse error, stray '\x01'");
    expect_recovered(qmp);

    // lexical error: impossible byte inside a string
    qmp.send_raw("{'bad \xFF");
    expect_error_reply(qmp, "GenericError", "JSON parse error, stray ''bad \uFFFD'");
    expect_recovered(qmp);

    // lexical error: a raw newline inside a string
    qmp.send_raw("{'execute': 'nonexistent', 'id':'\n");
    expect_error_reply(qmp, "GenericError", "JSON parse error, stray ''\n'");
    expect_recovered(qmp);

    // '%' is interpolation, which the wire never accepts
    qmp.send_raw("%p");
    expect_error_reply(qmp, "GenericError", "JSON parse error, stray '%'");
    expect_recovered(qmp);

    // not an object
    EXPECT_EQ(qmp_expect_error(qmp.command("null"), "GenericError"), "QMP input must be a JSON object");
    // no "execute"
    EXPECT_EQ(qmp_expect_error(qmp.command("{}"), "GenericError"), "QMP input lacks member 'execute'");
    // "execute" is not a string
    EXPECT_EQ(qmp_expect_error(qmp.command("{ 'execute': true }"), "GenericError"),
              "QMP input member 'execute' must be a string");
    // "arguments" is not an object
    EXPECT_EQ(qmp_expect_error(qmp.command("{ 'execute': 'no-such-cmd', 'arguments': [] }"), "GenericError"),
              "QMP input member 'arguments' must be an object");
    // an extra key
    EXPECT_EQ(qmp_expect_error(qmp.command("{ 'execute': 'no-such-cmd', 'extra': true }"), "GenericError"),
              "QMP input member 'extra' is unexpected");
}

void expect_version_info(const JsonValue& version)
{
    ASSERT_TRUE(version.is_object()) << dump(version);
    ASSERT_TRUE(version.contains("qemu")) << dump(version);
    const JsonValue& qemu = version["qemu"];
    for (const char* part : {"major", "minor", "micro"}) {
        EXPECT_TRUE(qemu.contains(part) && qemu[part].is_number_integer()) << dump(version);
    }
    EXPECT_TRUE(version.contains("package") && version["package"].is_string()) << dump(version);
}

void expect_event_shape(const JsonValue& event, std::string_view name, bool has_data)
{
    EXPECT_EQ(event.value("event", std::string()), name) << dump(event);
    ASSERT_TRUE(event.contains("timestamp")) << dump(event);
    EXPECT_TRUE(event["timestamp"]["seconds"].is_number_integer()) << dump(event);
    EXPECT_TRUE(event["timestamp"]["microseconds"].is_number_integer()) << dump(event);
    EXPECT_EQ(event.contains("data"), has_data) << dump(event);
}

std::string socket_path(std::string_view tag)
{
    static int counter = 0;
    return std::string(g_get_tmp_dir()) + "/qmp-test-" + std::to_string(getpid()) + "-" + std::string(tag) + "-" +
           std::to_string(counter++) + ".sock";
}

// ---- qmp/protocol ----

TEST(QmpProtocol, GreetingNegotiationMalformedInputAndIdEcho)
{
    auto qts = QTestState::init_without_qmp_handshake(kCommonArgs);
    QmpConnection& qmp = qts->qmp_connection();

    JsonValue greeting = qmp.receive();
    ASSERT_TRUE(greeting.contains("QMP")) << dump(greeting);
    expect_version_info(greeting["QMP"]["version"]);
    EXPECT_TRUE(greeting["QMP"]["capabilities"].is_array()) << dump(greeting);

    // Before negotiation everything but qmp_capabilities is unknown.
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'query-version' }"), "CommandNotFound"),
              "Expecting capabilities negotiation with 'qmp_capabilities'");

    run_malformed_battery(qmp);

    JsonValue reply = qts->qmp("{ 'execute': 'qmp_capabilities' }");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(reply["return"], JsonValue::object());

    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'qmp_capabilities' }"), "CommandNotFound"),
              "Capabilities negotiation is already complete, command ignored");

    reply = qts->qmp("{ 'execute': 'query-version' }");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    expect_version_info(reply["return"]);

    run_malformed_battery(qmp);

    // The id comes back on success...
    reply = qts->qmp("{ 'execute': 'query-name', 'id': 'cookie#1' }");
    EXPECT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(reply["id"], "cookie#1");
    // ...and on failure.
    reply = qts->qmp("{ 'execute': 'human-monitor-command', 'id': 2 }");
    qmp_expect_error(reply, "GenericError");
    EXPECT_EQ(reply["id"], 2);
}

TEST(QmpProtocol, BadCapabilityKeepsNegotiationMode)
{
    auto qts = QTestState::init_without_qmp_handshake(kCommonArgs);
    qts->qmp_receive();
    JsonValue reply = qts->qmp("{ 'execute': 'qmp_capabilities', 'arguments': { 'enable': [ 'cap-does-not-exist' ] } }");
    qmp_expect_error(reply, "GenericError");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'query-status' }"), "CommandNotFound"),
              "Expecting capabilities negotiation with 'qmp_capabilities'");
    qts->qmp_assert_success("{ 'execute': 'qmp_capabilities' }");
    qts->qmp_assert_success("{ 'execute': 'query-status' }");
}

TEST(QmpProtocol, OobCanBeEnabledOnASocketMonitor)
{
    auto qts = QTestState::init_without_qmp_handshake(kCommonArgs);
    JsonValue greeting = qts->qmp_receive();
    const JsonValue& caps = greeting["QMP"]["capabilities"];
    ASSERT_NE(std::find(caps.begin(), caps.end(), JsonValue("oob")), caps.end()) << dump(greeting);
    qts->qmp_assert_success("{ 'execute': 'qmp_capabilities', 'arguments': { 'enable': [ 'oob' ] } }");
    qts->qmp_assert_success("{ 'execute': 'query-name' }");
}

// An emulator whose stdin and stdout are one end of a socketpair, for -qmp stdio.
struct StdioEmulator {
    pid_t pid = -1;
    std::unique_ptr<QmpConnection> qmp;

    explicit StdioEmulator(std::vector<std::string> args)
    {
        int ends[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
            throw std::runtime_error("socketpair failed");
        }
        std::string binary = qtest::qemu_binary();
        args.insert(args.begin(), {binary, "-nodefaults", "-display", "none", "-machine", "none"});
        std::vector<char*> argv;
        for (std::string& arg : args) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);
        pid = fork();
        if (pid == 0) {
            dup2(ends[1], 0);
            dup2(ends[1], 1);
            execv(binary.c_str(), argv.data());
            _exit(127);
        }
        close(ends[1]);
        qmp = std::make_unique<QmpConnection>(qemu::UniqueFd(ends[0]));
    }
    ~StdioEmulator()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    StdioEmulator(const StdioEmulator&) = delete;
    StdioEmulator& operator=(const StdioEmulator&) = delete;

    int quit()
    {
        EXPECT_TRUE(qmp->command("{ 'execute': 'quit' }").contains("return"));
        int status = 0;
        waitpid(pid, &status, 0);
        pid = -1;
        return status;
    }
};

// QEMU 7.2 offers oob on every fd-based backend, stdio included, as on a socket.
TEST(QmpProtocol, StdioMonitorOffersOobAndAcceptsIt)
{
    for (const auto& args : {std::vector<std::string>{"-qmp", "stdio"},
             std::vector<std::string>{"-chardev", "stdio,id=x", "-mon", "x,mode=control"}}) {
        StdioEmulator emulator(args);
        JsonValue greeting = emulator.qmp->receive();
        EXPECT_EQ(greeting["QMP"]["capabilities"], JsonValue::array({"oob"})) << dump(greeting);
        EXPECT_EQ(emulator.qmp->command("{ 'execute': 'qmp_capabilities', 'arguments': { 'enable': [ 'oob' ] } }"),
            JsonValue({{"return", JsonValue::object()}}));
        // With oob on, exec-oob is a request; query-name just does not allow it.
        EXPECT_EQ(qmp_expect_error(emulator.qmp->command("{ 'exec-oob': 'query-name', 'id': 1 }"), "GenericError"),
            "The command query-name does not support OOB");
        EXPECT_EQ(emulator.qmp->command("{ 'execute': 'query-name' }"), JsonValue({{"return", JsonValue::object()}}));
        int status = emulator.quit();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
}

// A ringbuf cannot be watched from another context: no oob there, as in QEMU.
TEST(QmpProtocol, RingbufMonitorOffersNoOob)
{
    auto qts = QTestState::init(std::string(kCommonArgs) + " -chardev ringbuf,id=r -mon r,mode=control");
    JsonValue text =
        qts->qmp_assert_success("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r', 'size': 4096 } }");
    JsonValue greeting = qemu::json_parse(text.get<std::string>()).value();
    EXPECT_EQ(greeting["QMP"]["capabilities"], JsonValue::array()) << dump(greeting);
}

TEST(QmpProtocol, IdOfEveryJsonTypeIsEchoed)
{
    auto qts = QTestState::init(kCommonArgs);
    for (const char* id : {"'a string'", "42", "-7", "1.5", "true", "false", "null", "{ 'nested': [ 1, 'two' ] }",
                           "[ 1, 2, 3 ]", "{}", "[]", "18446744073709551615"}) {
        std::string success = std::string("{ 'execute': 'query-name', 'id': ") + id + " }";
        JsonValue expected = qemu::json_parse(id).value();
        JsonValue reply = qts->qmp(success);
        EXPECT_TRUE(reply.contains("return")) << dump(reply);
        EXPECT_TRUE(reply.contains("id")) << dump(reply);
        EXPECT_EQ(reply["id"], expected) << "id " << id;
        std::string failure = std::string("{ 'execute': 'no-such-cmd', 'id': ") + id + " }";
        reply = qts->qmp(failure);
        qmp_expect_error(reply, "CommandNotFound");
        EXPECT_EQ(reply["id"], expected) << "id " << id;
    }
    // Request checking errors echo the id too, as long as the input was an object.
    JsonValue reply = qts->qmp("{ 'id': 'no-execute' }");
    EXPECT_EQ(qmp_expect_error(reply, "GenericError"), "QMP input lacks member 'execute'");
    EXPECT_EQ(reply["id"], "no-execute");
    reply = qts->qmp("{ 'execute': 'query-name', 'arguments': [], 'id': 5 }");
    qmp_expect_error(reply, "GenericError");
    EXPECT_EQ(reply["id"], 5);
}

TEST(QmpProtocol, UnknownCommandText)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'no-such-cmd' }"), "CommandNotFound"),
              "The command no-such-cmd has not been found");
}

// ---- queries ----

TEST(QmpQueries, QueryVersion)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue version = qts->qmp_assert_success("{ 'execute': 'query-version' }");
    expect_version_info(version);
    EXPECT_EQ(version["qemu"], qts->greeting()["QMP"]["version"]["qemu"]);
    EXPECT_EQ(version["package"], qts->greeting()["QMP"]["version"]["package"]);
}

TEST(QmpQueries, QueryNameWithoutAndWithName)
{
    {
        auto qts = QTestState::init(kCommonArgs);
        EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-name' }"), JsonValue::object());
    }
    {
        auto qts = QTestState::init(std::string(kCommonArgs) + " -name the-guest");
        EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-name' }"), JsonValue({{"name", "the-guest"}}));
    }
}

TEST(QmpQueries, QueryStatusRunning)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["running"], true) << dump(status);
    EXPECT_EQ(status["status"], "running") << dump(status);
}

TEST(QmpQueries, QueryStatusPrelaunchWithS)
{
    auto qts = QTestState::init(std::string(kCommonArgs) + " -S");
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["running"], false) << dump(status);
    EXPECT_EQ(status["status"], "prelaunch") << dump(status);
}

TEST(QmpQueries, QueryCommandsListsTheBasics)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue commands = qts->qmp_assert_success("{ 'execute': 'query-commands' }");
    ASSERT_TRUE(commands.is_array());
    std::set<std::string> names;
    for (const JsonValue& entry : commands) {
        ASSERT_TRUE(entry.contains("name")) << dump(entry);
        names.insert(entry["name"].get<std::string>());
    }
    for (const char* name : {"qmp_capabilities", "query-version", "query-name", "query-status", "query-commands",
                             "human-monitor-command", "stop", "cont", "quit", "getfd", "closefd"}) {
        EXPECT_TRUE(names.count(name)) << name;
    }
}

TEST(QmpQueries, QueryTargetIsX86_64)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-target' }"), JsonValue({{"arch", "x86_64"}}));
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'query-target', 'arguments': { 'x': 1 } }"), "GenericError"),
        "Parameter 'x' is unexpected");
}

TEST(QmpQueries, QueryCommandsAndSchemaHaveTargetAndReset)
{
    auto qts = QTestState::init(kCommonArgs);
    std::set<std::string> names;
    for (const JsonValue& entry : qts->qmp_assert_success("{ 'execute': 'query-commands' }")) {
        names.insert(entry["name"].get<std::string>());
    }
    EXPECT_TRUE(names.contains("query-target"));
    EXPECT_TRUE(names.contains("system_reset"));

    std::map<std::string, JsonValue> schema;
    for (const JsonValue& entry : qts->qmp_assert_success("{ 'execute': 'query-qmp-schema' }")) {
        schema[entry["name"].get<std::string>()] = entry;
    }
    ASSERT_TRUE(schema.contains("query-target") && schema.contains("system_reset") && schema.contains("RESET"));
    // TargetInfo is { 'arch': 'SysEmuTarget' }; system_reset takes and returns nothing.
    const JsonValue& target = schema["query-target"];
    EXPECT_EQ(target["meta-type"], "command");
    const JsonValue& info = schema[target["ret-type"].get<std::string>()];
    ASSERT_EQ(info["members"].size(), 1u) << dump(info);
    EXPECT_EQ(info["members"][0]["name"], "arch");
    const JsonValue& arch = schema[info["members"][0]["type"].get<std::string>()];
    EXPECT_EQ(arch["meta-type"], "enum");
    bool has_x86_64 = false;
    for (const JsonValue& value : arch["values"]) {
        has_x86_64 = has_x86_64 || value == "x86_64";
    }
    EXPECT_TRUE(has_x86_64) << dump(arch);
    const JsonValue& reset = schema["system_reset"];
    EXPECT_EQ(reset["meta-type"], "command");
    EXPECT_EQ(schema[reset["arg-type"].get<std::string>()]["members"], JsonValue::array());
    EXPECT_EQ(schema[reset["ret-type"].get<std::string>()]["members"], JsonValue::array());
    const JsonValue& event = schema[schema["RESET"]["arg-type"].get<std::string>()];
    ASSERT_EQ(event["members"].size(), 2u) << dump(event);
    EXPECT_EQ(event["members"][0]["name"], "guest");
    EXPECT_EQ(event["members"][1]["name"], "reason");
}

// ---- human-monitor-command ----

TEST(QmpHmp, InfoStatusFollowsTheRunState)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qts->hmp("info status"), "VM status: running\r\n");
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    EXPECT_EQ(qts->hmp("info status"), "VM status: paused\r\n");
}

TEST(QmpHmp, SystemResetSendsResetAndOnlyHelpTakesArguments)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qts->hmp("system_reset"), "");
    EXPECT_EQ(qts->qmp_eventwait("RESET")["data"],
        JsonValue({{"guest", false}, {"reason", "host-qmp-system-reset"}}));
    EXPECT_EQ(qts->hmp("help system_reset"), "system_reset  -- reset the system\r\n");
    // QEMU 7.2's texts: the table's name for the command, the typed one for the help.
    EXPECT_EQ(qts->hmp("system_reset x"),
        "system_reset: extraneous characters at the end of line\r\nTry \"help system_reset\" for more information\r\n");
    EXPECT_EQ(qts->hmp("s x"),
        "stop|s: extraneous characters at the end of line\r\nTry \"help s\" for more information\r\n");
    EXPECT_EQ(qts->hmp("info status x"),
        "status: extraneous characters at the end of line\r\nTry \"help info status\" for more information\r\n");
    EXPECT_EQ(qts->hmp("info status"), "VM status: running\r\n") << "the refused stop did not run";
}

TEST(QmpHmp, MissingCommandLine)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'human-monitor-command' }"), "GenericError"),
              "Parameter 'command-line' is missing");
}

// ---- events ----

TEST(QmpEvents, StopAndContSendStopAndResume)
{
    auto qts = QTestState::init(kCommonArgs);
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    expect_event_shape(qts->qmp_eventwait("STOP"), "STOP", false);
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["status"], "paused");
    EXPECT_EQ(status["running"], false);

    qts->qmp_assert_success("{ 'execute': 'cont' }");
    expect_event_shape(qts->qmp_eventwait("RESUME"), "RESUME", false);
    status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["status"], "running");
}

JsonValue reset_data()
{
    return JsonValue({{"guest", false}, {"reason", "host-qmp-system-reset"}});
}

// As QEMU 7.2: RESET comes before the reply, and a running VM keeps running.
TEST(QmpEvents, SystemResetSendsResetAndKeepsARunningVmRunning)
{
    auto qts = QTestState::init(kCommonArgs);
    qts->qmp_send("{ 'execute': 'system_reset' }");
    JsonValue event = qts->qmp_receive_dict();
    expect_event_shape(event, "RESET", true);
    EXPECT_EQ(event["data"], reset_data()) << dump(event);
    EXPECT_EQ(qts->qmp_receive_dict(), JsonValue({{"return", JsonValue::object()}}));
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["status"], "running") << dump(status);
    EXPECT_EQ(status["running"], true) << dump(status);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'system_reset', 'arguments': { 'x': 1 } }"), "GenericError"),
        "Parameter 'x' is unexpected");
}

// QEMU's main loop puts a VM that was not running in prelaunch after a reset; cont starts it.
TEST(QmpEvents, SystemResetOfAPausedVmLeavesItInPrelaunch)
{
    auto qts = QTestState::init(kCommonArgs);
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    qts->qmp_eventwait("STOP");
    qts->qmp_assert_success("{ 'execute': 'system_reset' }");
    EXPECT_EQ(qts->qmp_eventwait("RESET")["data"], reset_data());
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["status"], "prelaunch") << dump(status);
    EXPECT_EQ(status["running"], false) << dump(status);
    qts->qmp_assert_success("{ 'execute': 'cont' }");
    qts->qmp_eventwait("RESUME");
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-status' }")["status"], "running");
}

TEST(QmpEvents, EventsAreStashedWhileWaitingForAReply)
{
    auto qts = QTestState::init(kCommonArgs);
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    qts->qmp_assert_success("{ 'execute': 'query-name' }");
    // Whether STOP came before or after the reply, qmp() kept it.
    EXPECT_TRUE(qts->qmp_event_ref("STOP").has_value() || qts->qmp_eventwait("STOP").contains("event"));
    EXPECT_FALSE(qts->qmp_event_ref("STOP").has_value());
}

TEST(QmpEvents, SigtermSendsShutdownAndExitsZero)
{
    auto qts = QTestState::init(kCommonArgs);
    ASSERT_EQ(kill(qts->pid(), SIGTERM), 0);
    JsonValue event = qts->qmp_eventwait("SHUTDOWN");
    expect_event_shape(event, "SHUTDOWN", true);
    EXPECT_EQ(event["data"]["guest"], false) << dump(event);
    EXPECT_EQ(event["data"]["reason"], "host-signal") << dump(event);
    std::optional<int> status = qts->wait_for_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status)) << *status;
    EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(QmpEvents, QuitSendsShutdownAndExitsZero)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue reply = qts->qmp("{ 'execute': 'quit' }");
    EXPECT_TRUE(reply.contains("return")) << dump(reply);
    JsonValue event = qts->qmp_eventwait("SHUTDOWN");
    EXPECT_EQ(event["data"]["reason"], "host-qmp-quit") << dump(event);
    std::optional<int> status = qts->wait_for_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// ---- fd passing ----

TEST(QmpFds, GetfdTakesTheFdAndClosefdReleasesIt)
{
    auto qts = QTestState::init(kCommonArgs);
    size_t before = qts->open_fds().size();
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    JsonValue reply = qts->qmp_fds(std::span<const int>(pipe_fds, 1),
                                   "{ 'execute': 'getfd', 'arguments': { 'fdname': 'fd0' } }");
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    EXPECT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(qts->open_fds().size(), before + 1);

    qts->qmp_assert_success("{ 'execute': 'closefd', 'arguments': { 'fdname': 'fd0' } }");
    EXPECT_EQ(qts->open_fds().size(), before);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'closefd', 'arguments': { 'fdname': 'fd0' } }"),
                               "GenericError"),
              "File descriptor named 'fd0' not found");
}

TEST(QmpFds, GetfdWithoutAnFd)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'getfd', 'arguments': { 'fdname': 'x' } }"),
                               "GenericError"),
              "No file descriptor supplied via SCM_RIGHTS");
}

// ---- several monitors ----

class QmpSecondMonitor : public ::testing::Test {
protected:
    std::string path = socket_path("mon2");
    std::unique_ptr<QTestState> qts =
        QTestState::init(std::string(kCommonArgs) + " -qmp unix:" + path + ",server=on,wait=off");

    void TearDown() override { unlink(path.c_str()); }

    std::unique_ptr<QmpConnection> connect_negotiated()
    {
        auto mon = QmpConnection::connect_unix(path);
        JsonValue greeting = mon->receive();
        EXPECT_TRUE(greeting.contains("QMP")) << dump(greeting);
        JsonValue reply = mon->command("{ 'execute': 'qmp_capabilities' }");
        EXPECT_TRUE(reply.contains("return")) << dump(reply);
        return mon;
    }
};

TEST_F(QmpSecondMonitor, GreetingEndsInCrlf)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    std::string text;
    char c;
    while (text.find('\n') == std::string::npos && read(fd, &c, 1) == 1) {
        text += c;
    }
    close(fd);
    ASSERT_GE(text.size(), 2u);
    EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
    EXPECT_EQ(text.rfind("{\"QMP\": {", 0), 0u) << text;
}

TEST_F(QmpSecondMonitor, CommandsRunOnEachMonitor)
{
    auto mon = connect_negotiated();
    JsonValue reply = mon->command("{ 'execute': 'query-status', 'id': 'second' }");
    EXPECT_EQ(reply["id"], "second");
    EXPECT_EQ(reply["return"]["status"], "running");
    qts->qmp_assert_success("{ 'execute': 'query-status' }");
}

TEST_F(QmpSecondMonitor, EventsGoToEveryNegotiatedMonitor)
{
    auto mon = connect_negotiated();
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    expect_event_shape(qts->qmp_eventwait("STOP"), "STOP", false);
    expect_event_shape(mon->eventwait("STOP"), "STOP", false);
}

TEST_F(QmpSecondMonitor, NoEventsBeforeNegotiation)
{
    auto mon = QmpConnection::connect_unix(path);
    mon->receive();
    qts->qmp_assert_success("{ 'execute': 'stop' }");
    qts->qmp_eventwait("STOP");
    // The first thing the second monitor sees is the reply to its handshake.
    JsonValue first = mon->command("{ 'execute': 'qmp_capabilities' }");
    EXPECT_TRUE(first.contains("return")) << dump(first);
    EXPECT_FALSE(mon->event_ref("STOP").has_value());
}

TEST_F(QmpSecondMonitor, ReconnectGreetsAgainAndNeedsNegotiation)
{
    {
        auto mon = connect_negotiated();
        mon->command("{ 'execute': 'query-name' }");
    }
    // The server listens again once the first client is gone.
    auto mon = QmpConnection::connect_unix(path);
    JsonValue greeting = mon->receive();
    EXPECT_TRUE(greeting.contains("QMP")) << dump(greeting);
    EXPECT_EQ(qmp_expect_error(mon->command("{ 'execute': 'query-name' }"), "CommandNotFound"),
              "Expecting capabilities negotiation with 'qmp_capabilities'");
}

// ---- command line ----

TEST(QmpCommandLine, QemuBinaryRequiredMessage)
{
    // libqtest's own contract, checked in a child so this process keeps its environment.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, 2);
        unsetenv("QTEST_QEMU_BINARY");
        qtest::qemu_binary();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 1);
}

}  // namespace
