// Sealed mode through QMP: under -sandbox on,fs=deny a blockdev-add or chardev-add that
// names a path fails with QEMU's "Permission denied" and the emulator keeps answering,
// while fd sets (plain, named and directory members from -add-fd) keep working. That the
// kernel refuses, not our code, shows in the errno (EACCES comes back from openat; none of
// our code refuses by policy, and the same add succeeds without fs=deny) and in
// /proc/PID/status, where -sandbox on shows as a seccomp filter.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::InheritedFd;
using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kArgs = "-nodefaults -machine none";

// disk.img and root/inner.img (1 MiB each) in a scratch directory.
class Scratch {
public:
    Scratch()
    {
        gchar* dir = g_dir_make_tmp("sandbox-test-XXXXXX", nullptr);
        EXPECT_NE(dir, nullptr);
        m_dir = dir ? dir : "";
        g_free(dir);
        std::filesystem::create_directory(path("root"));
        for (const char* name : {"disk.img", "root/inner.img", "plain.img"}) {
            std::ofstream(path(name)).close();
            std::filesystem::resize_file(path(name), 1 << 20);
        }
    }
    ~Scratch() { std::filesystem::remove_all(m_dir); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    std::string path(const std::string& name) const { return m_dir + "/" + name; }
    qemu::UniqueFd open(const std::string& name, int flags) const
    {
        qemu::UniqueFd fd(::open(path(name).c_str(), flags | O_CLOEXEC));
        EXPECT_TRUE(fd.valid()) << name;
        return fd;
    }
    bool holds(const std::string& name, off_t offset, size_t length, uint8_t value) const
    {
        std::vector<uint8_t> data(length);
        qemu::UniqueFd fd = open(name, O_RDONLY);
        if (::pread(fd.get(), data.data(), length, offset) != static_cast<ssize_t>(length)) {
            return false;
        }
        return std::all_of(data.begin(), data.end(), [value](uint8_t byte) { return byte == value; });
    }

private:
    std::string m_dir;
};

JsonValue add_raw_node(QTestState& qts, const std::string& node, const std::string& filename)
{
    return qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': '" + node +
        "', 'file': {'driver': 'file', 'filename': '" + filename + "'}}}");
}

std::string status_field(pid_t pid, const std::string& field)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with(field + ":")) {
            std::string value = line.substr(field.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    }
    return "";
}

TEST(SandboxFsDeny, PathsAreRefusedAndFdSetsKeepWorking)
{
    Scratch scratch;
    qemu::UniqueFd disk = scratch.open("disk.img", O_RDWR);
    qemu::UniqueFd root = scratch.open("root", O_RDONLY | O_DIRECTORY);
    InheritedFd inherit[] = {{disk.get(), 3}, {root.get(), 4}};
    auto qts = QTestState::init(std::string(kArgs) +
            " -sandbox on,fs=deny -add-fd fd=3,set=2,opaque=disk.img -add-fd fd=4,set=3,opaque=root",
        inherit);

    std::string plain = scratch.path("plain.img");
    EXPECT_EQ(qtest::qmp_expect_error(add_raw_node(*qts, "p", plain), "GenericError"),
        "Could not open '" + plain + "': Permission denied");
    std::string log = scratch.path("chardev.log");
    EXPECT_EQ(qtest::qmp_expect_error(qts->qmp("{'execute': 'chardev-add', 'arguments': {'id': 'c', 'backend': "
                                               "{'type': 'file', 'data': {'out': '" + log + "'}}}}"),
                  "GenericError"),
        "Failed to add chardev 'c': Could not open '" + log + "': Permission denied");
    EXPECT_FALSE(std::filesystem::exists(log));
    // Still answering.
    qts->qmp_assert_success("{'execute': 'query-status'}");

    // A set member, by number and by name, and a file beneath a directory member.
    JsonValue member = add_raw_node(*qts, "d", "/dev/fdset/2");
    EXPECT_TRUE(member.contains("return")) << qemu::json_to_string(member);
    EXPECT_EQ(qts->hmp("qemu-io d \"write -P 0x5a 0 4k\""), "");
    EXPECT_TRUE(scratch.holds("disk.img", 0, 4096, 0x5a));
    JsonValue named = add_raw_node(*qts, "n", "/dev/fdset/2/disk.img");
    EXPECT_TRUE(named.contains("return")) << qemu::json_to_string(named);
    JsonValue beneath = add_raw_node(*qts, "b", "/dev/fdset/3/root/inner.img");
    EXPECT_TRUE(beneath.contains("return")) << qemu::json_to_string(beneath);
    EXPECT_EQ(qts->hmp("qemu-io b \"write -P 0xa5 512 512\""), "");
    EXPECT_TRUE(scratch.holds("root/inner.img", 512, 512, 0xa5));

    // -sandbox on is a seccomp filter (mode 2); it and Landlock both run with no_new_privs.
    EXPECT_EQ(status_field(qts->pid(), "NoNewPrivs"), "1");
    EXPECT_EQ(status_field(qts->pid(), "Seccomp"), "2");
}

TEST(SandboxFsDeny, WithoutItTheSamePathOpens)
{
    Scratch scratch;
    auto qts = QTestState::init(std::string(kArgs) + " -sandbox on");
    JsonValue reply = add_raw_node(*qts, "p", scratch.path("plain.img"));
    EXPECT_TRUE(reply.contains("return")) << qemu::json_to_string(reply);
    EXPECT_EQ(status_field(qts->pid(), "Seccomp"), "2");
}

TEST(SandboxOff, NoFilterAtAll)
{
    auto qts = QTestState::init(std::string(kArgs) + " -sandbox off");
    EXPECT_EQ(status_field(qts->pid(), "Seccomp"), "0");
}

}  // namespace
