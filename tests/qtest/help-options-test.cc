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

struct DriveErrorCase {
    std::vector<std::string> args;
    std::string err;
};

class DriveFormatHelpError : public ::testing::TestWithParam<DriveErrorCase> { };

// Every text was printed by /usr/bin/qemu-system-x86_64 7.2 for the same arguments.
TEST_P(DriveFormatHelpError, OptionsCheckedBeforeTheHelpWin)
{
    auto result = run(GetParam().args);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(Qemu72, DriveFormatHelpError,
    ::testing::Values(
        DriveErrorCase{{"-drive", "format=help,cache=bogus"},
            "qemu-system-x86_64: -drive format=help,cache=bogus: invalid cache option\n"},
        DriveErrorCase{{"-drive", "format=help,if=bogus"},
            "qemu-system-x86_64: -drive format=help,if=bogus: unsupported bus type 'bogus'\n"},
        DriveErrorCase{{"-drive", "format=help,readonly=maybe"},
            "qemu-system-x86_64: -drive format=help,readonly=maybe: Parameter 'read-only' expects 'on' or 'off'\n"},
        DriveErrorCase{{"-drive", "format=help,aio=bogus"},
            "qemu-system-x86_64: -drive format=help,aio=bogus: invalid aio option\n"},
        DriveErrorCase{{"-drive", "format=help,media=bad"},
            "qemu-system-x86_64: -drive format=help,media=bad: 'bad' invalid media\n"},
        DriveErrorCase{{"-drive", "format=help,snapshot=bad"},
            "qemu-system-x86_64: -drive format=help,snapshot=bad: Parameter 'snapshot' expects 'on' or 'off'\n"},
        DriveErrorCase{{"-drive", "format=help,index=x"},
            "qemu-system-x86_64: -drive format=help,index=x: Parameter 'index' expects a number\n"},
        DriveErrorCase{{"-drive", "format=help,detect-zeroes=bad"},
            "qemu-system-x86_64: -drive format=help,detect-zeroes=bad: invalid parameter value: bad\n"},
        DriveErrorCase{{"-drive", "format=help,id=#"},
            "qemu-system-x86_64: -drive format=help,id=#: Parameter 'id' expects an identifier\n"
            "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"},
        // Ids are checked while the command line is read, before the first drive opens.
        DriveErrorCase{{"-drive", "format=help,id=a", "-drive", "format=help,id=a"},
            "qemu-system-x86_64: -drive format=help,id=a: Duplicate ID 'a' for drive\n"},
        // Drives open in order: an earlier drive's failure comes first.
        DriveErrorCase{{"-drive", "file=/nonexistent/x", "-drive", "format=help"},
            "qemu-system-x86_64: -drive file=/nonexistent/x: Could not open '/nonexistent/x': No such file or "
            "directory\n"},
        // Chardevs are created before drives.
        DriveErrorCase{{"-drive", "format=help", "-chardev", "bogus,id=x"},
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

}  // namespace
