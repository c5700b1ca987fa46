// Our fd-set extensions seen through QMP (README, "Our fd-set extensions"): block nodes
// opened on /dev/fdset/N/NAME get the member whose opaque is NAME and whose access mode
// fits, a missing name is a clear error, and a directory member is the root for files
// opened beneath it, never outside. Every case counts the emulator's fds (/proc/PID/fd):
// refused opens leave nothing behind, and what a node held is closed with it.
//
// QEMU itself answers every such name with "Could not parse fdset ...", so these cases are
// not run against Debian's QEMU.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

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

// JSON text with object keys sorted: the order of keys in a QMP object is not significant.
std::string canon(std::string_view text)
{
    return nlohmann::json::parse(text).dump();
}

std::string query_fdsets(QTestState& qts)
{
    return canon(qts.qmp_assert_success("{'execute': 'query-fdsets'}").dump());
}

std::string error_of(const JsonValue& reply)
{
    return qtest::qmp_expect_error(reply, "GenericError");
}

// A scratch directory: root/ (the directory member), root/inner.img, root/evil -> /etc/passwd,
// root/up -> ../outside.img, and outside.img beside root/.
class TempTree {
public:
    TempTree()
    {
        gchar* dir = g_dir_make_tmp("fdset-named-test-XXXXXX", nullptr);
        EXPECT_NE(dir, nullptr);
        m_dir = dir ? dir : "";
        g_free(dir);
        std::filesystem::create_directory(path("root"));
        make_image("root/inner.img");
        make_image("outside.img");
        make_image("disk.img");
        make_image("disk-s001.img");
        std::filesystem::create_symlink("/etc/passwd", path("root/evil"));
        std::filesystem::create_symlink("../outside.img", path("root/up"));
    }
    ~TempTree() { std::filesystem::remove_all(m_dir); }
    TempTree(const TempTree&) = delete;
    TempTree& operator=(const TempTree&) = delete;

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
    void make_image(const std::string& name)
    {
        qemu::UniqueFd fd(::open(path(name).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        EXPECT_TRUE(fd.valid()) << name;
        EXPECT_EQ(ftruncate(fd.get(), 1 << 20), 0);
    }

    std::string m_dir;
};

void add_fd(QTestState& qts, int fd, int64_t set, const std::string& opaque)
{
    JsonValue reply = qts.qmp_fds(std::span<const int>(&fd, 1),
        "{'execute': 'add-fd', 'arguments': {'fdset-id': " + std::to_string(set) + ", 'opaque': '" + opaque + "'}}");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
}

// blockdev-add of a raw node over a file node on filename; the reply.
JsonValue add_node(QTestState& qts, const std::string& node, const std::string& filename, bool read_only)
{
    return qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': '" + node +
        "', 'read-only': " + (read_only ? "true" : "false") + ", 'file': {'driver': 'file', 'filename': '" + filename +
        "'}}}");
}

size_t fds_pointing_to(QTestState& qts, const std::string& path)
{
    return qts.open_fd_targets().count(path);
}

TEST(FdsetNamedMember, PickedByNameAndAccessMode)
{
    TempTree tree;
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    {
        qemu::UniqueFd disk_rw = tree.open("disk.img", O_RDWR);
        qemu::UniqueFd disk_ro = tree.open("disk.img", O_RDONLY);
        qemu::UniqueFd extent_ro = tree.open("disk-s001.img", O_RDONLY);
        add_fd(*qts, disk_rw.get(), 2, "disk.img");
        add_fd(*qts, disk_ro.get(), 2, "disk.img");
        add_fd(*qts, extent_ro.get(), 2, "disk-s001.img");
    }
    ASSERT_EQ(qts->open_fds().size(), baseline + 3);

    JsonValue reply = add_node(*qts, "d0", "/dev/fdset/2/disk.img", false);
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    // The node holds a dup of the read-write member called disk.img, not of the extent.
    EXPECT_EQ(fds_pointing_to(*qts, tree.path("disk.img")), 3u);
    EXPECT_EQ(fds_pointing_to(*qts, tree.path("disk-s001.img")), 1u);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0xcd 0 4k\""), "");
    EXPECT_TRUE(tree.holds("disk.img", 0, 4096, 0xcd));
    EXPECT_TRUE(tree.holds("disk-s001.img", 0, 4096, 0));

    reply = add_node(*qts, "d1", "/dev/fdset/2/disk-s001.img", true);
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(fds_pointing_to(*qts, tree.path("disk-s001.img")), 2u);
    EXPECT_EQ(qts->hmp("qemu-io d1 \"read -P 0 0 4k\""), "");
    EXPECT_EQ(qts->open_fds().size(), baseline + 5);

    // The extent has no read-write member, and nothing is called nope.img.
    EXPECT_EQ(error_of(add_node(*qts, "d2", "/dev/fdset/2/disk-s001.img", false)),
        "Failed to find file descriptor 'disk-s001.img' in fdset /dev/fdset/2 with matching flags=0x2");
    EXPECT_EQ(error_of(add_node(*qts, "d3", "/dev/fdset/2/nope.img", true)),
        "Failed to find file descriptor 'nope.img' in fdset /dev/fdset/2");
    EXPECT_EQ(error_of(add_node(*qts, "d4", "/dev/fdset/9/disk.img", true)), "Failed to find fdset /dev/fdset/9");
    EXPECT_EQ(error_of(add_node(*qts, "d5", "/dev/fdset/2/", true)),
        "Could not parse fdset /dev/fdset/2/: no member name after the set number");
    EXPECT_EQ(error_of(add_node(*qts, "d6", "/dev/fdset/two/disk.img", true)),
        "Could not parse fdset /dev/fdset/two/disk.img: 'two' is not an fd set number");
    EXPECT_EQ(qts->open_fds().size(), baseline + 5);

    // Named dups follow QEMU's lifetime rule: the set outlives its members while a node
    // holds one, and goes with the last.
    qts->qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 2}}");
    EXPECT_EQ(query_fdsets(*qts), canon(R"([{"fdset-id":2,"fds":[]}])"));
    EXPECT_EQ(qts->open_fds().size(), baseline + 2);
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd0'}}");
    EXPECT_EQ(query_fdsets(*qts), canon(R"([{"fdset-id":2,"fds":[]}])"));
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd1'}}");
    EXPECT_EQ(query_fdsets(*qts), canon("[]"));
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(FdsetNamedMember, PlainSetNameStillTakesAnyMember)
{
    TempTree tree;
    auto qts = QTestState::init(kArgs);
    qemu::UniqueFd rw = tree.open("disk.img", O_RDWR);
    add_fd(*qts, rw.get(), 1, "disk.img");
    JsonValue reply = add_node(*qts, "d0", "/dev/fdset/1", false);
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(
        error_of(add_node(*qts, "d1", "/dev/fdset/1", true)), "Failed to find file descriptor with matching flags=0x0");
    EXPECT_EQ(error_of(add_node(*qts, "d2", "/dev/fdset/abc", true)), "Could not parse fdset /dev/fdset/abc");
}

TEST(FdsetNamedMember, FromTheCommandLine)
{
    TempTree tree;
    qemu::UniqueFd rw = tree.open("disk.img", O_RDWR);
    InheritedFd inherit[] = {{rw.get(), 3}};
    auto qts = QTestState::init(std::string(kArgs) +
            " -add-fd fd=3,set=2,opaque=disk.img"
            " -blockdev driver=file,node-name=f0,filename=/dev/fdset/2/disk.img"
            " -blockdev driver=raw,node-name=d0,file=f0",
        inherit);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0x5a 0 512\""), "");
    EXPECT_TRUE(tree.holds("disk.img", 0, 512, 0x5a));
}

// -drive's auto-read-only opens read-only and reopens read-write on the first write: both
// opens must pick the member called disk.img, never the newer read-write extent.
TEST(FdsetNamedMember, AutoReadOnlyReopensTheNamedMember)
{
    TempTree tree;
    qemu::UniqueFd ro = tree.open("disk.img", O_RDONLY);
    qemu::UniqueFd rw = tree.open("disk.img", O_RDWR);
    qemu::UniqueFd extent = tree.open("disk-s001.img", O_RDWR);
    InheritedFd inherit[] = {{ro.get(), 3}, {rw.get(), 4}, {extent.get(), 5}};
    auto qts = QTestState::init(std::string(kArgs) +
            " -add-fd fd=3,set=2,opaque=disk.img -add-fd fd=4,set=2,opaque=disk.img"
            " -add-fd fd=5,set=2,opaque=disk-s001.img"
            " -drive if=none,id=drive0,file=/dev/fdset/2/disk.img,format=raw",
        inherit);
    size_t baseline = qts->open_fds().size();
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x42 0 512\""), "");
    EXPECT_TRUE(tree.holds("disk.img", 0, 512, 0x42));
    EXPECT_TRUE(tree.holds("disk-s001.img", 0, 512, 0));
    // The read-only dup was given back when the read-write one replaced it.
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(FdsetDirectoryMember, OpensNamesBeneathIt)
{
    TempTree tree;
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    {
        qemu::UniqueFd root = tree.open("root", O_RDONLY | O_DIRECTORY);
        add_fd(*qts, root.get(), 3, "root");
    }
    JsonValue reply = add_node(*qts, "d0", "/dev/fdset/3/root/inner.img", false);
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(fds_pointing_to(*qts, tree.path("root/inner.img")), 1u);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0xee 4k 4k\""), "");
    EXPECT_TRUE(tree.holds("root/inner.img", 4096, 4096, 0xee));

    // A backend that creates its file (a file chardev: O_WRONLY | O_CREAT | O_TRUNC) can
    // create it beneath the directory.
    qts->qmp_assert_success("{'execute': 'chardev-add', 'arguments': {'id': 'log', 'backend': {'type': 'file', "
                            "'data': {'out': '/dev/fdset/3/root/log.txt'}}}}");
    EXPECT_TRUE(std::filesystem::is_regular_file(tree.path("root/log.txt")));
    qts->qmp_assert_success("{'execute': 'chardev-remove', 'arguments': {'id': 'log'}}");
    EXPECT_EQ(qts->open_fds().size(), baseline + 2);

    // The file opened beneath the member keeps the set alive as a dup would.
    qts->qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 3}}");
    EXPECT_EQ(query_fdsets(*qts), canon(R"([{"fdset-id":3,"fds":[]}])"));
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd0'}}");
    EXPECT_EQ(query_fdsets(*qts), canon("[]"));
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(FdsetDirectoryMember, RefusesNamesThatLeaveIt)
{
    TempTree tree;
    auto qts = QTestState::init(kArgs);
    {
        qemu::UniqueFd root = tree.open("root", O_RDONLY | O_DIRECTORY);
        add_fd(*qts, root.get(), 3, "root");
    }
    size_t with_member = qts->open_fds().size();
    const std::string root = "directory member 'root' of fdset /dev/fdset/3";
    EXPECT_EQ(error_of(add_node(*qts, "d0", "/dev/fdset/3/root/../x", true)),
        "Could not open '/dev/fdset/3/root/../x': '..' in '../x' refused beneath " + root);
    EXPECT_EQ(error_of(add_node(*qts, "d1", "/dev/fdset/3/root/../outside.img", true)),
        "Could not open '/dev/fdset/3/root/../outside.img': '..' in '../outside.img' refused beneath " + root);
    EXPECT_EQ(error_of(add_node(*qts, "d2", "/dev/fdset/3/root//etc/passwd", true)),
        "Could not open '/dev/fdset/3/root//etc/passwd': absolute name '/etc/passwd' refused beneath " + root);
    EXPECT_EQ(error_of(add_node(*qts, "d3", "/dev/fdset/3//etc/passwd", true)),
        "Failed to find file descriptor '/etc/passwd' in fdset /dev/fdset/3, nor a directory member it is beneath");
    EXPECT_EQ(error_of(add_node(*qts, "d4", "/dev/fdset/3/root/evil", true)),
        "Could not open '/dev/fdset/3/root/evil': 'evil' leads outside " + root);
    EXPECT_EQ(error_of(add_node(*qts, "d5", "/dev/fdset/3/root/up", true)),
        "Could not open '/dev/fdset/3/root/up': 'up' leads outside " + root);
    EXPECT_EQ(error_of(add_node(*qts, "d6", "/dev/fdset/3/root/missing.img", true)),
        "Could not open '/dev/fdset/3/root/missing.img': No such file or directory");
    // No refused open left an fd behind or created a file.
    EXPECT_EQ(qts->open_fds().size(), with_member);
    EXPECT_FALSE(std::filesystem::exists(tree.path("x")));
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 0u);
}

}  // namespace
