// The emulator's help requests that scripts use to learn what a build supports: each prints
// QEMU 7.2's format (listing this build's set) on stdout and exits 0 without starting, or
// fails with QEMU's text where QEMU 7.2 offers no help. The lists come from the tables the
// layers keep (block drivers, chardev backends), so the texts here are checked against them;
// tests/interop/help_compare.py checks the same paths against Debian's QEMU 7.2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "block/drivers.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::run_emulator;

// What "-drive format=help" must print: the names twice, on QEMU's two lines.
std::string expected_format_help()
{
    std::string names;
    for (std::string_view name : qemu::block::format_names()) {
        names += " " + std::string(name);
    }
    return "Supported formats:" + names + "\nSupported formats (read-only):" + names + "\n";
}

qtest::ProcessResult run(std::vector<std::string> args)
{
    args.insert(args.begin(), {"-nodefaults", "-display", "none", "-machine", "none"});
    // A help request must end the process; the emulator never starts, so a short
    // timeout only fires on the bug this suite exists for.
    return run_emulator(args, std::chrono::seconds(20));
}

TEST(DriveFormatHelp, ListsOurFormatsTwiceAndExitsZero)
{
    for (const char* arg : {"format=help", "format=?", "if=none,format=help", "format=raw,format=help"}) {
        auto result = run({"-drive", arg});
        EXPECT_FALSE(result.timed_out) << arg;
        EXPECT_EQ(result.exit_code, 0) << arg;
        EXPECT_EQ(result.out, expected_format_help()) << arg;
        EXPECT_EQ(result.err, "") << arg;
    }
}

TEST(DriveFormatHelp, ListIsSortedAndHoldsTheFormatsAndProtocols)
{
    std::string help = expected_format_help();
    for (const char* name : {" file ", " raw ", " vdi ", " vmdk ", " vpc ", " vvfat"}) {
        EXPECT_NE(help.find(name), std::string::npos) << name;
    }
    auto names = qemu::block::format_names();
    EXPECT_TRUE(std::ranges::is_sorted(names));
    EXPECT_EQ(std::ranges::adjacent_find(names), names.end());
}

// QEMU honours format=help once drive_new's own options are checked, but before the image,
// its node options and the guest-device settings are looked at.
TEST(DriveFormatHelp, OptionsCheckedAfterTheHelpDoNotStopIt)
{
    for (const char* arg : {"format=help,bogus=1", "format=help,file=/nonexistent/x", "format=help,rerror=bad",
             "format=help,werror=bad", "format=help,snapshot=on", "format=help,if=ide", "format=help,node-name=#x"}) {
        auto result = run({"-drive", arg});
        EXPECT_EQ(result.exit_code, 0) << arg;
        EXPECT_EQ(result.out, expected_format_help()) << arg;
        EXPECT_EQ(result.err, "") << arg;
    }
}

struct OptionErrorCase {
    std::vector<std::string> args;
    std::string err;
};

class DriveFormatHelpError : public ::testing::TestWithParam<OptionErrorCase> { };

// Every text was printed by /usr/bin/qemu-system-x86_64 7.2 for the same arguments.
TEST_P(DriveFormatHelpError, OptionsCheckedBeforeTheHelpWin)
{
    auto result = run(GetParam().args);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(Qemu72, DriveFormatHelpError,
    ::testing::Values(OptionErrorCase{{"-drive", "format=help,cache=bogus"},
                          "qemu-system-x86_64: -drive format=help,cache=bogus: invalid cache option\n"},
        OptionErrorCase{{"-drive", "format=help,if=bogus"},
            "qemu-system-x86_64: -drive format=help,if=bogus: unsupported bus type 'bogus'\n"},
        OptionErrorCase{{"-drive", "format=help,readonly=maybe"},
            "qemu-system-x86_64: -drive format=help,readonly=maybe: Parameter 'read-only' expects 'on' or 'off'\n"},
        OptionErrorCase{{"-drive", "format=help,stats-account-invalid=maybe"},
            "qemu-system-x86_64: -drive format=help,stats-account-invalid=maybe: Parameter 'stats-account-invalid' "
            "expects 'on' or 'off'\n"},
        OptionErrorCase{{"-drive", "format=help,aio=bogus"},
            "qemu-system-x86_64: -drive format=help,aio=bogus: invalid aio option\n"},
        OptionErrorCase{{"-drive", "format=help,media=bad"},
            "qemu-system-x86_64: -drive format=help,media=bad: 'bad' invalid media\n"},
        OptionErrorCase{{"-drive", "format=help,snapshot=bad"},
            "qemu-system-x86_64: -drive format=help,snapshot=bad: Parameter 'snapshot' expects 'on' or 'off'\n"},
        OptionErrorCase{{"-drive", "format=help,index=x"},
            "qemu-system-x86_64: -drive format=help,index=x: Parameter 'index' expects a number\n"},
        // Throttling options: their old names, their numbers and the limits' checks.
        OptionErrorCase{{"-drive", "format=help,iops=5,throttling.iops-total=3"},
            "qemu-system-x86_64: -drive format=help,iops=5,throttling.iops-total=3: 'throttling.iops-total' and its "
            "alias 'iops' can't be used at the same time\n"},
        OptionErrorCase{{"-drive", "format=help,bps=x"},
            "qemu-system-x86_64: -drive format=help,bps=x: Parameter 'throttling.bps-total' expects a number\n"},
        OptionErrorCase{{"-drive", "format=help,throttling.bps-total=100,throttling.bps-read=5"},
            "qemu-system-x86_64: -drive format=help,throttling.bps-total=100,throttling.bps-read=5: bps/iops/max "
            "total values and read/write values cannot be used at the same time\n"},
        OptionErrorCase{{"-drive", "format=help,throttling.iops-size=512"},
            "qemu-system-x86_64: -drive format=help,throttling.iops-size=512: iops size requires an iops value to be "
            "set\n"},
        OptionErrorCase{{"-drive", "format=help,bps=1,bps_max=2,throttling.bps-total-max-length=1000000000000000"},
            "qemu-system-x86_64: -drive format=help,bps=1,bps_max=2,throttling.bps-total-max-length=1000000000000000: "
            "burst length too high for this burst rate\n"},
        OptionErrorCase{{"-drive", "format=help,detect-zeroes=bad"},
            "qemu-system-x86_64: -drive format=help,detect-zeroes=bad: invalid parameter value: bad\n"},
        OptionErrorCase{{"-drive", "format=help,id=#"},
            "qemu-system-x86_64: -drive format=help,id=#: Parameter 'id' expects an identifier\n"
            "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"},
        // Ids are checked while the command line is read, before the first drive opens.
        OptionErrorCase{{"-drive", "format=help,id=a", "-drive", "format=help,id=a"},
            "qemu-system-x86_64: -drive format=help,id=a: Duplicate ID 'a' for drive\n"},
        // Drives open in order: an earlier drive's failure comes first.
        OptionErrorCase{{"-drive", "file=/nonexistent/x", "-drive", "format=help"},
            "qemu-system-x86_64: -drive file=/nonexistent/x: Could not open '/nonexistent/x': No such file or "
            "directory\n"},
        // Chardevs are created before drives.
        OptionErrorCase{{"-drive", "format=help", "-chardev", "bogus,id=x"},
            "qemu-system-x86_64: -chardev bogus,id=x: 'bogus' is not a valid char driver name\n"}));

TEST(DriveFormatHelp, CopyOnReadWarningStillComesFirst)
{
    auto result = run({"-drive", "format=help,copy-on-read=on,readonly=on"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, expected_format_help());
    EXPECT_EQ(result.err,
        "qemu-system-x86_64: -drive format=help,copy-on-read=on,readonly=on: warning: disabling copy-on-read on "
        "read-only drive\n");
}

// QEMU 7.2 prints its backends in its type table's order; ours is that list less the
// backends this build lacks (mux, qemu-vdagent, msmouse, vc, parallel, udp, serial,
// wctablet, testdev).
constexpr const char* kChardevHelp = "Available chardev backend types: \n"
                                     "  stdio\n"
                                     "  ringbuf\n"
                                     "  pipe\n"
                                     "  null\n"
                                     "  socket\n"
                                     "  memory\n"
                                     "  file\n"
                                     "  pty\n";

TEST(ChardevHelp, ListsOurBackendsInQemusOrderAndExitsZero)
{
    for (std::vector<std::string> args :
        {std::vector<std::string>{"-chardev", "help"}, std::vector<std::string>{"-chardev", "?"},
            std::vector<std::string>{"-chardev", "backend=help"}, std::vector<std::string>{"-chardev", "help,id=x"},
            // Chardevs are created in order: one before the help is made first,
            std::vector<std::string>{"-chardev", "null,id=x", "-chardev", "help"},
            // and one after it is never looked at.
            std::vector<std::string>{"-chardev", "help", "-chardev", "bogus,id=x"}}) {
        auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << args.back();
        EXPECT_EQ(result.out, kChardevHelp) << args.back();
        EXPECT_EQ(result.err, "") << args.back();
    }
}

TEST(ChardevHelp, AnEarlierChardevsErrorComesFirst)
{
    auto result = run({"-chardev", "bogus,id=x", "-chardev", "help"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, "qemu-system-x86_64: -chardev bogus,id=x: 'bogus' is not a valid char driver name\n");
}

TEST(AccelHelp, ListsTcgWithoutQtestAsQemuDoes)
{
    // QEMU never lists qtest (it is for tests), and prints the list as soon as it reads the
    // option, so a bad value after it is not looked at; an unknown option still is.
    for (std::vector<std::string> args : {std::vector<std::string>{"-accel", "help"},
             std::vector<std::string>{"-accel", "?"}, std::vector<std::string>{"-accel", "help,foo=bar"},
             std::vector<std::string>{"-accel", "x=y"}, std::vector<std::string>{"-accel", "qtest", "-accel", "help"},
             std::vector<std::string>{"-accel", "help", "-m", "foo"}}) {
        auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << args.back();
        EXPECT_EQ(result.out, "Accelerators supported in QEMU binary:\ntcg\n") << args.back();
        EXPECT_EQ(result.err, "") << args.back();
    }
    auto bad = run({"-accel", "help", "-foo"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.err, "qemu-system-x86_64: -foo: invalid option\n");
}

TEST(ObjectHelp, ListsNoUserCreatableTypes)
{
    for (std::vector<std::string> args : {std::vector<std::string>{"-object", "help"},
             std::vector<std::string>{"-object", "help,id=x"}, std::vector<std::string>{"-object", "qom-type=help"},
             std::vector<std::string>{"-object", "help", "-m", "foo"}}) {
        auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << args.back();
        EXPECT_EQ(result.out, "List of user creatable objects:\n") << args.back();
        EXPECT_EQ(result.err, "") << args.back();
    }
}

TEST(DeviceHelp, ListsTheOneDiskModelAndItsProperties)
{
    for (std::vector<std::string> args : {std::vector<std::string>{"-device", "help"},
             std::vector<std::string>{"-device", "driver=help"}, std::vector<std::string>{"-device", "?"}}) {
        auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << args.back();
        EXPECT_EQ(result.out, "Storage devices:\nname \"virtio-blk-device\", bus virtio-bus\n") << args.back();
        EXPECT_EQ(result.err, "") << args.back();
    }
    // Lines as QEMU 7.2 prints them for the same model (interop-help compares the rest).
    auto model = run({"-device", "virtio-blk-device,help"});
    EXPECT_EQ(model.exit_code, 0);
    EXPECT_TRUE(model.out.starts_with("virtio-blk-device options:\n")) << model.out;
    EXPECT_NE(model.out.find("\n  drive=<str>            - Node name or ID of a block device to use as a backend\n"),
        std::string::npos)
        << model.out;
    EXPECT_NE(model.out.find("\n  write-cache=<OnOffAuto> - on/off/auto (default: \"auto\")\n"), std::string::npos);
    EXPECT_NE(model.out.find("\n  bootindex=<int32>\n"), std::string::npos);
    // Help about one model that does not exist: an error text, and still status 0.
    auto one = run({"-device", "foo,help"});
    EXPECT_EQ(one.exit_code, 0);
    EXPECT_EQ(one.out, "");
    EXPECT_EQ(one.err, "qemu-system-x86_64: -device foo,help: Device 'foo' not found\n");
}

class RefusedOption : public ::testing::TestWithParam<OptionErrorCase> { };

// Every text was printed by /usr/bin/qemu-system-x86_64 7.2 for the same arguments (for
// -object and -device with a type it has, QEMU goes on to the type's own checks; ours
// has none of them).
TEST_P(RefusedOption, WithQemusTextAndStatusOne)
{
    auto result = run(GetParam().args);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(Qemu72, RefusedOption,
    ::testing::Values(OptionErrorCase{{"-blockdev", "help"},
                          "qemu-system-x86_64: -blockdev help: Help is not available for this option\n"},
        OptionErrorCase{{"-blockdev", "driver=null-co,help"},
            "qemu-system-x86_64: -blockdev driver=null-co,help: Help is not available for this option\n"},
        // Refused while the command line is read, before any chardev is made.
        OptionErrorCase{{"-chardev", "bogus,id=x", "-blockdev", "help"},
            "qemu-system-x86_64: -blockdev help: Help is not available for this option\n"},
        OptionErrorCase{{"-blockdev", "driver=help"},
            "qemu-system-x86_64: -blockdev driver=help: Parameter 'driver' does not accept value 'help'\n"},
        OptionErrorCase{{"-object", "foo,id=x"},
            "qemu-system-x86_64: -object foo,id=x: Parameter 'qom-type' does not accept value 'foo'\n"},
        OptionErrorCase{{"-object", "foo,help"},
            "qemu-system-x86_64: -object foo,help: Parameter 'qom-type' does not accept value 'foo'\n"},
        OptionErrorCase{
            {"-object", "id=x,help"}, "qemu-system-x86_64: -object id=x,help: Parameter 'qom-type' is missing\n"},
        OptionErrorCase{
            {"-device", "foo"}, "qemu-system-x86_64: -device foo: 'foo' is not a valid device model name\n"},
        OptionErrorCase{{"-device", "id=x"}, "qemu-system-x86_64: -device id=x: Parameter 'driver' is missing\n"},
        OptionErrorCase{{"-device", "{\"driver\":\"help\"}"},
            "qemu-system-x86_64: -device {\"driver\":\"help\"}: 'help' is not a valid device model name\n"},
        // Devices are made after the drives.
        OptionErrorCase{{"-device", "foo", "-drive", "file=/nonexistent/x"},
            "qemu-system-x86_64: -drive file=/nonexistent/x: Could not open '/nonexistent/x': No such file or "
            "directory\n"},
        OptionErrorCase{{"-accel", ",x=y"}, "qemu-system-x86_64: -accel ,x=y: invalid accelerator \n"},
        OptionErrorCase{{"-machine", "accel=foo"}, "qemu-system-x86_64: invalid accelerator foo\n"},
        OptionErrorCase{{"-machine", "accel=foo:bar"},
            "qemu-system-x86_64: invalid accelerator foo\nqemu-system-x86_64: invalid accelerator bar\n"},
        // QEMU checks every option's name and argument before acting on any.
        OptionErrorCase{{"-m", "foo", "-bogus"}, "qemu-system-x86_64: -bogus: invalid option\n"}));

}  // namespace
