// The emulator's command line and process life: option errors with QEMU 7.2's exact stderr
// and exit status 1, -version/-h/-machine help, -pidfile, -daemonize, the termination
// signals and -S. Every expected text was printed by /usr/bin/qemu-system-x86_64 7.2, and
// the suite passes against it with QTEST_QEMU_BINARY=/usr/bin/qemu-system-x86_64
// QTEST_ACCEL=tcg QTEST_NO_AUDIO=1.
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QmpConnection;
using qtest::QTestState;
using qtest::run_emulator;

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

std::string temp_path(std::string_view tag)
{
    static int counter = 0;
    return std::string(g_get_tmp_dir()) + "/options-test-" + std::to_string(getpid()) + "-" + std::string(tag) + "-" +
        std::to_string(counter++);
}

struct OptionErrorCase {
    std::vector<std::string> args;
    std::string stderr_text;
};

class OptionError : public ::testing::TestWithParam<OptionErrorCase> { };

TEST_P(OptionError, PrintsQemuTextAndExitsOne)
{
    std::vector<std::string> args = {"-nodefaults", "-display", "none"};
    args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
    auto result = run_emulator(args);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, GetParam().stderr_text);
    EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(Qemu72, OptionError,
    ::testing::Values(OptionErrorCase{{"-foo"}, "qemu-system-x86_64: -foo: invalid option\n"},
        OptionErrorCase{{"-m"}, "qemu-system-x86_64: -m: requires an argument\n"},
        OptionErrorCase{{"-m", "foo"},
            "qemu-system-x86_64: -m foo: Parameter 'size' expects a non-negative number below 2^64\n"
            "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
            "and exabytes, respectively.\n"},
        OptionErrorCase{{"-machine", "foo"},
            "qemu-system-x86_64: unsupported machine type\nUse -machine help to list supported machines\n"},
        OptionErrorCase{{"-accel", "foo"}, "qemu-system-x86_64: -accel foo: invalid accelerator foo\n"},
        OptionErrorCase{{"-mon", "chardev=x"}, "qemu-system-x86_64: -mon chardev=x: chardev \"x\" not found\n"},
        OptionErrorCase{{"-chardev", "null,id=x", "-mon", "chardev=x,mode=bad"},
            "qemu-system-x86_64: -mon chardev=x,mode=bad: Parameter 'mode' does not accept value 'bad'\n"},
        OptionErrorCase{
            {"-display", "foo"}, "qemu-system-x86_64: -display foo: Parameter 'type' does not accept value 'foo'\n"},
        OptionErrorCase{{"-chardev", "socket"}, "qemu-system-x86_64: -chardev socket: chardev: no id specified\n"},
        OptionErrorCase{{"-chardev", "null,id=x,bogus=1"},
            "qemu-system-x86_64: -chardev null,id=x,bogus=1: Invalid parameter 'bogus'\n"},
        OptionErrorCase{{"-qmp", "bogus:x"},
            "qemu-system-x86_64: -qmp bogus:x: 'bogus:x' is not a valid char driver\n"
            "qemu-system-x86_64: -qmp bogus:x: parse error: bogus:x\n"},
        OptionErrorCase{{"-chardev", "null,id=x", "-chardev", "null,id=x"},
            "qemu-system-x86_64: -chardev null,id=x: Duplicate ID 'x' for chardev\n"},
        // A -drive without file= is empty only when nothing but QEMU's own drive settings
        // (read-only, detect-zeroes, aio, ...) is given; anything else asks for a node.
        OptionErrorCase{{"-drive", "if=none,format=raw"},
            "qemu-system-x86_64: -drive if=none,format=raw: A block device must be specified for \"file\"\n"},
        OptionErrorCase{{"-drive", "if=none,file=,format=raw"},
            "qemu-system-x86_64: -drive if=none,file=,format=raw: A block device must be specified for \"file\"\n"},
        OptionErrorCase{
            {"-drive", "if=none,format=HELP"}, "qemu-system-x86_64: -drive if=none,format=HELP: Unknown driver 'HELP'\n"},
        OptionErrorCase{{"-drive", "if=none,node-name=n"},
            "qemu-system-x86_64: -drive if=none,node-name=n: Must specify either driver or file\n"},
        OptionErrorCase{{"-drive", "if=none,cache=none"},
            "qemu-system-x86_64: -drive if=none,cache=none: Must specify either driver or file\n"},
        OptionErrorCase{{"-drive", "if=none,file.driver=file"},
            "qemu-system-x86_64: -drive if=none,file.driver=file: The 'file' block driver requires a file name\n"}));

// Nothing but QEMU's own drive settings, or an empty file=: an empty drive, and the
// emulator runs.
TEST(EmptyDrive, WithoutNodeOptionsTheEmulatorStarts)
{
    auto qts = QTestState::init("-nodefaults -machine none -drive if=none,id=a,readonly=on,detect-zeroes=on,aio=threads "
                                "-drive if=none,id=b,file= -drive if=none,id=c,media=cdrom");
    JsonValue blocks = qts->qmp_assert_success("{ 'execute': 'query-block' }");
    ASSERT_EQ(blocks.size(), 3u) << dump(blocks);
    for (const JsonValue& block : blocks) {
        EXPECT_FALSE(block.contains("inserted")) << dump(block);
    }
    qts->quit();
}

TEST(OptionInfo, VersionAndHelpExitZero)
{
    auto version = run_emulator({"-version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_TRUE(version.out.starts_with("QEMU emulator version ")) << version.out;
    EXPECT_EQ(version.err, "");

    auto help = run_emulator({"-h"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_TRUE(help.out.starts_with("QEMU emulator version ")) << help.out;
    EXPECT_NE(help.out.find("-pidfile"), std::string::npos);
    EXPECT_EQ(help.err, "");
}

TEST(OptionInfo, MachineHelpListsNone)
{
    auto result = run_emulator({"-machine", "help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_TRUE(result.out.starts_with("Supported machines are:\n")) << result.out;
    EXPECT_NE(result.out.find("\nnone "), std::string::npos) << result.out;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool exists(const std::string& path)
{
    struct stat st { };
    return stat(path.c_str(), &st) == 0;
}

TEST(PidFile, HoldsThePidIsLockedAndIsRemovedAtExit)
{
    std::string pidfile = temp_path("pid");
    {
        auto qts = QTestState::init("-nodefaults -machine none -pidfile " + pidfile);
        EXPECT_EQ(read_file(pidfile), std::to_string(qts->pid()) + "\n");

        auto second = run_emulator({"-nodefaults", "-display", "none", "-machine", "none", "-pidfile", pidfile});
        EXPECT_EQ(second.exit_code, 1);
        EXPECT_EQ(second.err,
            "qemu-system-x86_64: cannot create PID file: Cannot lock pid file: Resource temporarily "
            "unavailable\n");
        // The loser did not remove the winner's file.
        EXPECT_EQ(read_file(pidfile), std::to_string(qts->pid()) + "\n");
        qts->quit();
    }
    EXPECT_FALSE(exists(pidfile));
}

TEST(Daemonize, ParentExitsOnceQmpIsReadyAndTheDaemonAnswers)
{
    std::string sock = temp_path("qmp");
    std::string pidfile = temp_path("pid");
    auto result = run_emulator({"-nodefaults", "-display", "none", "-machine", "none", "-daemonize", "-pidfile",
        pidfile, "-qmp", "unix:" + sock + ",server=on,wait=off"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err, "");
    // Ready when the parent exited: no retry loop.
    ASSERT_TRUE(exists(sock));
    pid_t daemon_pid = std::stoi(read_file(pidfile));
    EXPECT_NE(daemon_pid, 0);

    auto qmp = QmpConnection::connect_unix(sock);
    JsonValue greeting = qmp->receive();
    EXPECT_TRUE(greeting.contains("QMP")) << dump(greeting);
    EXPECT_TRUE(qmp->command("{ 'execute': 'qmp_capabilities' }").contains("return"));
    EXPECT_EQ(qmp->command("{ 'execute': 'query-status' }")["return"]["status"], "running");
    EXPECT_TRUE(qmp->command("{ 'execute': 'quit' }").contains("return"));
    for (int i = 0; i < 250 && kill(daemon_pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_NE(kill(daemon_pid, 0), 0) << "daemon still running";
    EXPECT_FALSE(exists(pidfile));
    unlink(sock.c_str());
}

class TerminationSignal : public ::testing::TestWithParam<int> { };

TEST_P(TerminationSignal, GivesShutdownHostSignalAndExitZero)
{
    auto qts = QTestState::init("-nodefaults -machine none");
    ASSERT_EQ(kill(qts->pid(), GetParam()), 0);
    JsonValue event = qts->qmp_eventwait("SHUTDOWN");
    EXPECT_EQ(event["data"].size(), 2u) << dump(event);
    EXPECT_EQ(event["data"]["guest"], false) << dump(event);
    EXPECT_EQ(event["data"]["reason"], "host-signal") << dump(event);
    auto status = qts->wait_for_exit(std::chrono::seconds(10));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

INSTANTIATE_TEST_SUITE_P(Signals, TerminationSignal, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
    [](const ::testing::TestParamInfo<int>& info) { return std::string(sigabbrev_np(info.param)); });

TEST(RunState, DashSIsPrelaunchUntilCont)
{
    auto qts = QTestState::init("-nodefaults -machine none -S");
    // Member by member: 7.2 also has the deprecated "singlestep", and orders by hash.
    JsonValue status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["running"], false) << dump(status);
    EXPECT_EQ(status["status"], "prelaunch") << dump(status);
    qts->qmp_assert_success("{ 'execute': 'cont' }");
    JsonValue resume = qts->qmp_eventwait("RESUME");
    EXPECT_FALSE(resume.contains("data")) << dump(resume);
    status = qts->qmp_assert_success("{ 'execute': 'query-status' }");
    EXPECT_EQ(status["running"], true) << dump(status);
    EXPECT_EQ(status["status"], "running") << dump(status);
}

}  // namespace
