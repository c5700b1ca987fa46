// The vvfat driver with its directory passed as an fd: a directory opened O_RDONLY |
// O_DIRECTORY goes into an fd set (inherited with -add-fd, or add-fd over QMP with
// SCM_RIGHTS), and blockdev-add driver=vvfat,dir=/dev/fdset/N shows it as a FAT disk. The
// emulator reaches every file beneath that descriptor only: a symlink leading out of the
// directory is not on the disk. HMP qemu-io reads sectors (the emulator's stdout is a file
// the test reads, as in block-vmdk-test) and checks a file's bytes at its cluster. Deleting
// the node and removing the set gives every fd back (/proc/PID/fd). In rw mode writes read
// back, a consistent change reaches the host file beneath the fd, and an inconsistent FAT
// changes nothing (tests/interop/vvfat_rw_test.py drives whole guest sessions).
//
// QEMU 7.2 opens a vvfat directory by path only, so these cases are not run against it.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::InheritedFd;
using qtest::JsonValue;
using qtest::Emulator;
using qtest::add_fd;
using qtest::dump;
using qtest::QTestState;

// FAT16 hard disk: the root directory (clusters 0 and 1) starts at sector 64 + 2 * 252, so
// the first file's cluster 2 is 16 KiB after it.
constexpr int64_t kRootOffset = (64 + 2 * 252) * 512;
constexpr int64_t kFirstFileOffset = kRootOffset + 2 * 8192;
constexpr int64_t kFreeClusterOffset = kRootOffset + 100 * 8192;
constexpr int64_t kBootSectorOffset = 63 * 512;

// A host directory with one small file (so it takes cluster 2: the order of readdir decides
// which entry gets which clusters) and a symlink that leads outside it; with_sub adds a
// subdirectory holding one file and a symlink out of the whole tree.
class HostTree {
public:
    explicit HostTree(bool with_sub = false)
    {
        gchar* dir = g_dir_make_tmp("block-vvfat-test-XXXXXX", nullptr);
        EXPECT_NE(dir, nullptr);
        m_dir = dir ? dir : "";
        g_free(dir);
        write("first.bin", "abc");
        std::filesystem::create_symlink("/etc/hostname", m_dir + "/out");
        if (with_sub) {
            std::filesystem::create_directory(m_dir + "/sub");
            write("sub/inner.txt", "inner");
            std::filesystem::create_symlink("../..", m_dir + "/sub/up");
        }
    }
    ~HostTree() { std::filesystem::remove_all(m_dir); }
    HostTree(const HostTree&) = delete;
    HostTree& operator=(const HostTree&) = delete;

    const std::string& path() const { return m_dir; }
    void write(const std::string& name, const std::string& text) const
    {
        std::ofstream(m_dir + "/" + name, std::ios::binary) << text;
    }
    std::string read(const std::string& name) const
    {
        std::ifstream in(m_dir + "/" + name, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    // Every name below the directory with its size: what the emulator must not change.
    std::string listing() const
    {
        std::string out;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(m_dir)) {
            out += entry.path().string();
            if (entry.is_regular_file() && !entry.is_symlink()) {
                out += " " + std::to_string(entry.file_size()) + " " +
                    read(entry.path().string().substr(m_dir.size() + 1));
            }
            out += "\n";
        }
        return out;
    }
    qemu::UniqueFd open_directory() const
    {
        qemu::UniqueFd fd(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        EXPECT_TRUE(fd.valid());
        return fd;
    }

private:
    std::string m_dir;
};

std::string blockdev_add_vvfat(const std::string& node, const std::string& dir, bool rw)
{
    return "{'execute': 'blockdev-add', 'arguments': {'driver': 'vvfat', 'node-name': '" + node + "', 'dir': '" + dir +
        "', 'read-only': " + (rw ? "false, 'rw': true" : "true") + "}}";
}

// The hex dump line qemu-io prints for 16 bytes at offset.
std::string dump_line_start(int64_t offset, const std::string& hex)
{
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%08llx:  ", static_cast<unsigned long long>(offset));
    return prefix + hex;
}

// The disk the node shows holds the tree: first.bin's bytes at cluster 2, its 8.3 entry in
// the root directory, and no entry for the symlink that leads outside.
void expect_tree_on_disk(Emulator& vm, const std::string& node)
{
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x61 " + std::to_string(kFirstFileOffset) + " 1"), "");
    std::string file = vm.qemu_io(node, "read -v " + std::to_string(kFirstFileOffset) + " 16");
    EXPECT_NE(file.find(dump_line_start(kFirstFileOffset, "61 62 63 00")), std::string::npos) << file;
    std::string root = vm.qemu_io(node, "read -v " + std::to_string(kRootOffset) + " 8192");
    EXPECT_NE(root.find("46 49 52 53 54 20 20 20 42 49 4e"), std::string::npos) << "FIRST   BIN\n" << root;
    EXPECT_EQ(root.find("4f 55 54 20 20 20 20 20 20 20 20"), std::string::npos) << "OUT is skipped\n" << root;
    // The boot sector is QEMU's: FAT16 with the default label.
    std::string boot = vm.qemu_io(node, "read -v " + std::to_string(kBootSectorOffset + 32) + " 32");
    EXPECT_NE(boot.find("00007e30:  56 56 46 41 54 20 46 41 54 31 36 20"), std::string::npos) << boot;
}

TEST(BlockVvfat, DirectoryFdFromCommandLineIsReadBeneathItAndGivesEveryFdBack)
{
    HostTree tree;
    qemu::UniqueFd dir = tree.open_directory();
    InheritedFd inherit[] = {{dir.get(), 3}};
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -add-fd fd=3,set=3,opaque=share", inherit);
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();

    qts.qmp_assert_success(blockdev_add_vvfat("v0", "/dev/fdset/3", false));
    JsonValue nodes = qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    ASSERT_EQ(nodes.size(), 1u) << dump(nodes);
    EXPECT_EQ(nodes[0]["drv"], "vvfat") << dump(nodes);
    EXPECT_EQ(nodes[0]["image"]["virtual-size"], 528482304) << dump(nodes);
    expect_tree_on_disk(vm, "v0");
    EXPECT_NE(vm.qemu_io("v0", "write -q -P 0x11 " + std::to_string(kFreeClusterOffset) + " 512"), "");

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v0'}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 3}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline - 1));
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-fdsets'}")), "[]");
}

TEST(BlockVvfat, DirectoryFdFromQmpAddFdServesFloppyAndGivesEveryFdBack)
{
    HostTree tree;
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    {
        qemu::UniqueFd dir = tree.open_directory();
        add_fd(qts, dir.get(), 4, "share");
    }
    ASSERT_EQ(qts.open_fds().size(), baseline + 1);

    qts.qmp_assert_success(blockdev_add_vvfat("v1", "/dev/fdset/4", false));
    expect_tree_on_disk(vm, "v1");
    // A second node on the same set, a 1.44 MB floppy: root at sector 3, cluster 2 after it.
    qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vvfat', 'node-name': 'f', "
                           "'dir': '/dev/fdset/4', 'floppy': true, 'fat-type': 12, 'read-only': true}}");
    EXPECT_EQ(vm.qemu_io("f", "read -q -P 0x61 " + std::to_string(3 * 512 + 2 * 8192) + " 1"), "");
    EXPECT_EQ(vm.qemu_io("f", "length"), "1.406 MiB\n");

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v1'}}");
    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'f'}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline + 1));
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 4}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    EXPECT_EQ(qts.open_fds().size(), baseline);
}

TEST(BlockVvfat, SubdirectoryBeneathADirectoryMemberIsTheDisk)
{
    HostTree tree(true);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    {
        qemu::UniqueFd dir = tree.open_directory();
        add_fd(qts, dir.get(), 5, "share");
    }
    qts.qmp_assert_success(blockdev_add_vvfat("s", "/dev/fdset/5/share/sub", false));
    // inner.txt is the only file of sub: cluster 2 ("up" leads out of the member and is skipped).
    EXPECT_EQ(vm.qemu_io("s", "read -q -P 0x69 " + std::to_string(kFirstFileOffset) + " 1"), "");
    std::string root = vm.qemu_io("s", "read -v " + std::to_string(kRootOffset) + " 512");
    EXPECT_EQ(root.find("55 50 20 20 20 20 20 20 20 20 20"), std::string::npos) << root;
    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 's'}}");
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 5}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
}

TEST(BlockVvfat, MissingSetAndReadOnlyRwAreRefused)
{
    Emulator vm;
    QTestState& qts = *vm.qts;
    JsonValue missing = qts.qmp(blockdev_add_vvfat("m", "/dev/fdset/9", false));
    EXPECT_EQ(dump(missing["error"]["desc"]), "\"Failed to find fdset /dev/fdset/9\"") << dump(missing);
    HostTree tree;
    {
        qemu::UniqueFd dir = tree.open_directory();
        add_fd(qts, dir.get(), 6, "share");
    }
    JsonValue rw_ro = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vvfat', 'node-name': 'r', "
                              "'dir': '/dev/fdset/6', 'rw': true, 'read-only': true}}");
    EXPECT_EQ(dump(rw_ro["error"]["desc"]), "\"Unable to set VVFAT to 'rw' when drive is read-only\"") << dump(rw_ro);
    JsonValue no_rw = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vvfat', 'node-name': 'w', "
                              "'dir': '/dev/fdset/6', 'read-only': false}}");
    EXPECT_EQ(dump(no_rw["error"]["desc"]), "\"Image is read-only\"") << dump(no_rw);
}

TEST(BlockVvfat, RwWritesReadBackAndAConsistentChangeReachesTheHostFile)
{
    HostTree tree;
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    {
        qemu::UniqueFd dir = tree.open_directory();
        add_fd(qts, dir.get(), 7, "share");
    }
    qts.qmp_assert_success(blockdev_add_vvfat("w", "/dev/fdset/7", true));
    // A free cluster reads back what was written; it belongs to no file, so the host is as
    // it was.
    std::string before = tree.listing();
    EXPECT_EQ(vm.qemu_io("w", "write -q -P 0x5a " + std::to_string(kFreeClusterOffset) + " 8192"), "");
    EXPECT_EQ(vm.qemu_io("w", "read -q -P 0x5a " + std::to_string(kFreeClusterOffset) + " 8192"), "");
    EXPECT_EQ(tree.listing(), before);
    // New bytes in first.bin's cluster: a consistent state, committed to the host file (its
    // 3 bytes), and read back (now from the host file) after the commit.
    EXPECT_EQ(vm.qemu_io("w", "write -q -P 0x7e " + std::to_string(kFirstFileOffset) + " 512"), "");
    EXPECT_EQ(vm.qemu_io("w", "read -q -P 0x7e " + std::to_string(kFirstFileOffset) + " 3"), "");
    EXPECT_EQ(tree.read("first.bin"), "~~~");
    // A FAT sector full of garbage is not a consistent state: it reads back, and the host
    // directory does not change.
    std::string committed = tree.listing();
    EXPECT_EQ(vm.qemu_io("w", "write -q -P 0x33 " + std::to_string(64 * 512 + 100) + " 7"), "");
    EXPECT_EQ(vm.qemu_io("w", "read -q -P 0x33 " + std::to_string(64 * 512 + 100) + " 7"), "");
    // The boot sector and the MBR are protected, as in QEMU.
    EXPECT_EQ(vm.qemu_io("w", "write -q " + std::to_string(kBootSectorOffset) + " 512"),
        "write failed: Operation not permitted\n");
    EXPECT_EQ(vm.qemu_io("w", "write -q 0 512"), "write failed: Operation not permitted\n");
    EXPECT_EQ(tree.listing(), committed);

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'w'}}");
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 7}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    EXPECT_EQ(tree.listing(), committed);
}

}  // namespace
