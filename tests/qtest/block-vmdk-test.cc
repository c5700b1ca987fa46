// vmdk images made of several files, opened by an emulator that may open nothing itself:
// every file arrives as an fd (add-fd over SCM_RIGHTS). A twoGbMaxExtentSparse image in
// ONE fd set with named members (README, "Our fd-set extensions": the driver combines each
// extent's relative name with /dev/fdset/N/<descriptor>), the same image with each extent
// given as a node of its own through blockdev-add's `extents` list (our schema extension),
// a descriptor naming an extent that no set holds, and a backing chain whose
// parentFileNameHint resolves to a member of the overlay's set.
//
// Images are made and filled beforehand by our qemu-img/qemu-io ($QTEST_QEMU_IMG,
// $QTEST_QEMU_IO, set by meson). HMP's qemu-io prints to the emulator's stdout, as QEMU's
// does, so the emulator is started with its stdout on a file the test reads (EmulatorStdout)
// to see pattern reads fail or succeed. Each case counts the emulator's fds (/proc/PID/fd)
// before and after: deleting the node and removing the sets gives every fd back.
//
// QEMU itself answers /dev/fdset/N/NAME with "Could not parse fdset ..." and has no
// `extents` member, so these cases are not run against Debian's QEMU.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::add_fd;
using qtest::dump;
using qtest::Emulator;
using qtest::JsonValue;
using qtest::QTestState;

constexpr int64_t MiB = 1024 * 1024;
constexpr int64_t GiB = 1024 * MiB;

std::string tool(const char* variable)
{
    const char* path = std::getenv(variable);
    return path ? path : "";
}

// Runs one of our tools (argv[0] is the path); its exit status, its output in out.
int run_tool(const std::vector<std::string>& argv, std::string* out = nullptr)
{
    std::vector<char*> args;
    for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    gchar* stdout_text = nullptr;
    gchar* stderr_text = nullptr;
    gint status = -1;
    GError* error = nullptr;
    bool spawned = g_spawn_sync(
        nullptr, args.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &stdout_text, &stderr_text, &status, &error);
    if (!spawned) {
        ADD_FAILURE() << "cannot run " << argv[0] << ": " << error->message;
        g_error_free(error);
        return -1;
    }
    if (out) {
        *out = std::string(stdout_text ? stdout_text : "") + (stderr_text ? stderr_text : "");
    }
    g_free(stdout_text);
    g_free(stderr_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A scratch directory for one image; removed with everything in it.
class ImageDir {
public:
    ImageDir()
    {
        gchar* dir = g_dir_make_tmp("block-vmdk-test-XXXXXX", nullptr);
        EXPECT_NE(dir, nullptr);
        m_dir = dir ? dir : "";
        g_free(dir);
    }
    ~ImageDir() { std::filesystem::remove_all(m_dir); }
    ImageDir(const ImageDir&) = delete;
    ImageDir& operator=(const ImageDir&) = delete;

    std::string path(const std::string& name) const { return m_dir + "/" + name; }
    qemu::UniqueFd open(const std::string& name, int flags) const
    {
        qemu::UniqueFd fd(::open(path(name).c_str(), flags | O_CLOEXEC));
        EXPECT_TRUE(fd.valid()) << name;
        return fd;
    }
    // qemu-img with args, run in this directory's terms (names are made absolute by the
    // caller or are relative names the image keeps, like a backing file's).
    void img(std::vector<std::string> args) const
    {
        std::string out;
        args.insert(args.begin(), tool("QTEST_QEMU_IMG"));
        ASSERT_EQ(run_tool(args, &out), 0) << out;
    }
    // Our qemu-io on a file of this directory: the commands must all succeed silently
    // (each is given -q).
    void io(const std::string& name, const std::vector<std::string>& commands, bool read_only = false) const
    {
        std::vector<std::string> args = {tool("QTEST_QEMU_IO"), "-f", "vmdk"};
        if (read_only) {
            args.push_back("-r");
        }
        for (const std::string& command : commands) {
            args.push_back("-c");
            args.push_back(command);
        }
        args.push_back(path(name));
        std::string out;
        EXPECT_EQ(run_tool(args, &out), 0) << out;
        EXPECT_EQ(out, "") << name;
    }

private:
    std::string m_dir;
};

// Each file in its access mode into set, the member called by its basename; the test's
// copies are closed on return (the emulator holds its own).
void add_files(QTestState& qts, const ImageDir& dir, int64_t set, const std::vector<std::string>& names, int flags)
{
    for (const std::string& name : names) {
        qemu::UniqueFd fd = dir.open(name, flags);
        add_fd(qts, fd.get(), set, name);
    }
}

JsonValue node_info(QTestState& qts, const std::string& node)
{
    JsonValue nodes = qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    for (const JsonValue& info : nodes) {
        if (info["node-name"] == node) {
            return info;
        }
    }
    ADD_FAILURE() << "no node " << node << " in " << dump(nodes);
    return JsonValue();
}

void expect_no_fdsets(QTestState& qts)
{
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-fdsets'}")), "[]");
}

// A 5 GiB twoGbMaxExtentSparse image, disk.vmdk + disk-s001..s003.vmdk, with data written by
// our qemu-io in each extent and across the first extent boundary.
const std::vector<std::string> kSplitFiles = {"disk.vmdk", "disk-s001.vmdk", "disk-s002.vmdk", "disk-s003.vmdk"};

void make_split_image(const ImageDir& dir)
{
    dir.img({"create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", dir.path("disk.vmdk"), "5G"});
    dir.io("disk.vmdk",
        {"write -q -P 0x11 1M 64k", "write -q -P 0x22 " + std::to_string(2 * GiB + MiB) + " 64k",
            "write -q -P 0x33 " + std::to_string(4 * GiB + MiB) + " 64k",
            "write -q -P 0x44 " + std::to_string(2 * GiB - 512) + " 1k",
            "write -q -P 0x55 " + std::to_string(5 * GiB - 4096) + " 4k"});
    for (const std::string& name : kSplitFiles) {
        ASSERT_TRUE(std::filesystem::exists(dir.path(name))) << name;
    }
}

// Reads of the data make_split_image wrote, through HMP qemu-io on node, then a write into
// the third extent (a new grain) read back.
void read_and_write_split_image(Emulator& vm, const std::string& node)
{
    // The capture of the emulator's stdout sees qemu-io's report (its timing line varies).
    EXPECT_EQ(vm.qemu_io(node, "read -P 0x11 1M 64k").rfind("read 65536/65536 bytes at offset 1048576\n", 0), 0u);
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x11 1M 64k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x22 " + std::to_string(2 * GiB + MiB) + " 64k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x33 " + std::to_string(4 * GiB + MiB) + " 64k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x44 " + std::to_string(2 * GiB - 512) + " 1k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x55 " + std::to_string(5 * GiB - 4096) + " 4k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0 " + std::to_string(3 * GiB) + " 64k"), "");
    // A wrong pattern is seen, so the silent reads above did match.
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x12 1M 512"), "Pattern verification failed at offset 1048576, 512 bytes\n");
    EXPECT_EQ(vm.qemu_io(node, "write -q -P 0x66 " + std::to_string(4 * GiB + 8 * MiB) + " 64k"), "");
    EXPECT_EQ(vm.qemu_io(node, "write -q -P 0x77 " + std::to_string(2 * GiB - 4096) + " 8k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x66 " + std::to_string(4 * GiB + 8 * MiB) + " 64k"), "");
    EXPECT_EQ(vm.qemu_io(node, "read -q -P 0x77 " + std::to_string(2 * GiB - 4096) + " 8k"), "");
}

// After the emulator let go: what it wrote is in the files, as our qemu-io reads them.
void expect_split_writes_landed(const ImageDir& dir)
{
    dir.io("disk.vmdk",
        {"read -q -P 0x66 " + std::to_string(4 * GiB + 8 * MiB) + " 64k",
            "read -q -P 0x77 " + std::to_string(2 * GiB - 4096) + " 8k",
            "read -q -P 0x33 " + std::to_string(4 * GiB + MiB) + " 64k"},
        true);
}

void expect_vmdk_node(QTestState& qts, const std::string& node, int64_t size)
{
    JsonValue info = node_info(qts, node);
    EXPECT_EQ(info["drv"], "vmdk") << dump(info);
    EXPECT_EQ(info["image"]["virtual-size"], size) << dump(info);
    EXPECT_EQ(info["image"]["format"], "vmdk") << dump(info);
}

// The extents query-named-block-nodes reports: one SPARSE extent per file, by the name it
// was opened under.
void expect_extent_files(QTestState& qts, const std::string& node, const std::vector<std::string>& filenames)
{
    JsonValue info = node_info(qts, node);
    const JsonValue& extents = info["image"]["format-specific"]["data"]["extents"];
    ASSERT_EQ(extents.size(), filenames.size()) << dump(info);
    for (size_t i = 0; i < filenames.size(); ++i) {
        EXPECT_EQ(extents[i]["filename"], filenames[i]) << dump(extents[i]);
        EXPECT_EQ(extents[i]["format"], "SPARSE") << dump(extents[i]);
        EXPECT_EQ(extents[i]["cluster-size"], 65536) << dump(extents[i]);
    }
    EXPECT_EQ(info["image"]["format-specific"]["data"]["create-type"], "twoGbMaxExtentSparse") << dump(info);
}

class BlockVmdk : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (tool("QTEST_QEMU_IMG").empty() || tool("QTEST_QEMU_IO").empty()) {
            GTEST_SKIP() << "QTEST_QEMU_IMG and QTEST_QEMU_IO name the tools that make the images";
        }
    }
};

TEST_F(BlockVmdk, SplitSparseImageOpensFromNamedMembersOfOneFdSetAndGivesEveryFdBack)
{
    ImageDir dir;
    make_split_image(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    add_files(qts, dir, 1, kSplitFiles, O_RDWR);
    ASSERT_EQ(qts.open_fds().size(), baseline + 4);

    qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v0', "
                           "'file': {'driver': 'file', 'filename': '/dev/fdset/1/disk.vmdk'}}}");
    expect_vmdk_node(qts, "v0", 5 * GiB);
    expect_extent_files(
        qts, "v0", {"/dev/fdset/1/disk-s001.vmdk", "/dev/fdset/1/disk-s002.vmdk", "/dev/fdset/1/disk-s003.vmdk"});
    // Every extent is a dup of its member, opened beside the descriptor's name.
    for (const std::string& name : kSplitFiles) {
        EXPECT_EQ(qts.open_fd_targets().count(dir.path(name)), 2u) << name;
    }
    read_and_write_split_image(vm, "v0");

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v0'}}");
    EXPECT_EQ(qts.open_fds().size(), baseline + 4);
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 1}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    EXPECT_EQ(qts.open_fds().size(), baseline);
    expect_no_fdsets(qts);
    vm.qts.reset();
    expect_split_writes_landed(dir);
}

// QEMU's vmdk opens each extent as the child extents.N with the name its descriptor gives;
// options for that child that name a file of their own are refused, as QEMU 7.2 refuses
// extents.N.filename, so the list takes existing nodes (next test), not inline file options.
TEST_F(BlockVmdk, ExtentsListOfInlineFileOptionsIsRefusedAsQemuRefusesThemAndLeaksNoFd)
{
    ImageDir dir;
    make_split_image(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    add_files(qts, dir, 10, {"disk.vmdk"}, O_RDWR);
    add_files(qts, dir, 11, {"disk-s001.vmdk"}, O_RDWR);
    ASSERT_EQ(qts.open_fds().size(), baseline + 2);

    JsonValue reply = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v0', "
                              "'file': {'driver': 'file', 'filename': '/dev/fdset/10'}, "
                              "'extents': [{'driver': 'file', 'filename': '/dev/fdset/11'}]}}");
    std::string error = qtest::qmp_expect_error(reply, "GenericError");
    EXPECT_EQ(error, "Can't specify 'file' and 'filename' options at the same time");
    EXPECT_EQ(qts.open_fds().size(), baseline + 2);
    EXPECT_EQ(qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 0u);
    for (int set : {10, 11}) {
        qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': " + std::to_string(set) + "}}");
    }
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    expect_no_fdsets(qts);
}

// The same as above with each extent a file node added first (on its own set) and named in
// the list, as QEMU 7.2's dotted options allow with extents.N=NODE.
TEST_F(BlockVmdk, ExtentsListOfFileNodeNamesGivesEachExtentItsOwnFdSetAndGivesEveryFdBack)
{
    ImageDir dir;
    make_split_image(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    add_files(qts, dir, 10, {"disk.vmdk"}, O_RDWR);
    for (int i = 1; i <= 3; ++i) {
        add_files(qts, dir, 10 + i, {"disk-s00" + std::to_string(i) + ".vmdk"}, O_RDWR);
        qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'e" +
            std::to_string(i) + "', 'filename': '/dev/fdset/" + std::to_string(10 + i) + "'}}");
    }
    JsonValue reply = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v0', "
                              "'file': {'driver': 'file', 'filename': '/dev/fdset/10'}, "
                              "'extents': ['e1', 'e2', 'e3']}}");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    expect_vmdk_node(qts, "v0", 5 * GiB);
    expect_extent_files(qts, "v0", {"/dev/fdset/11", "/dev/fdset/12", "/dev/fdset/13"});
    for (const std::string& name : kSplitFiles) {
        EXPECT_EQ(qts.open_fd_targets().count(dir.path(name)), 2u) << name;
    }
    read_and_write_split_image(vm, "v0");
    // An extent node in use by the image cannot go first.
    EXPECT_FALSE(qts.qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'e2'}}").contains("return"));

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v0'}}");
    for (int i = 1; i <= 3; ++i) {
        qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'e" + std::to_string(i) + "'}}");
    }
    EXPECT_EQ(qts.open_fds().size(), baseline + 4);
    for (int set : {10, 11, 12, 13}) {
        qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': " + std::to_string(set) + "}}");
    }
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    expect_no_fdsets(qts);
    vm.qts.reset();
    expect_split_writes_landed(dir);
}

TEST_F(BlockVmdk, ExtentInNoFdSetFailsBlockdevAddClearlyAndLeaksNoFd)
{
    ImageDir dir;
    make_split_image(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    add_files(qts, dir, 1, {"disk.vmdk", "disk-s001.vmdk", "disk-s002.vmdk"}, O_RDWR);
    size_t with_members = qts.open_fds().size();
    ASSERT_EQ(with_members, baseline + 3);

    JsonValue reply = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v0', "
                              "'file': {'driver': 'file', 'filename': '/dev/fdset/1/disk.vmdk'}}}");
    std::string error = qtest::qmp_expect_error(reply, "GenericError");
    // The error names the missing member and the set it was looked for in.
    EXPECT_NE(error.find("disk-s003.vmdk"), std::string::npos) << error;
    EXPECT_NE(error.find("Failed to find file descriptor 'disk-s003.vmdk' in fdset /dev/fdset/1"), std::string::npos)
        << error;
    EXPECT_EQ(qts.open_fds().size(), with_members);
    EXPECT_EQ(qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 0u);

    // Through the extents list: the third extent's set does not exist, so its file node
    // cannot be added, and a list naming a node that is not there is refused.
    add_files(qts, dir, 11, {"disk-s001.vmdk"}, O_RDWR);
    add_files(qts, dir, 12, {"disk-s002.vmdk"}, O_RDWR);
    for (int i = 1; i <= 2; ++i) {
        qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'e" +
            std::to_string(i) + "', 'filename': '/dev/fdset/" + std::to_string(10 + i) + "'}}");
    }
    size_t with_nodes = qts.open_fds().size();
    reply = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'e3', "
                    "'filename': '/dev/fdset/13'}}");
    error = qtest::qmp_expect_error(reply, "GenericError");
    EXPECT_NE(error.find("/dev/fdset/13"), std::string::npos) << error;
    reply = qts.qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v1', "
                    "'file': {'driver': 'file', 'filename': '/dev/fdset/1/disk.vmdk'}, "
                    "'extents': ['e1', 'e2', 'e3']}}");
    error = qtest::qmp_expect_error(reply, "GenericError");
    EXPECT_NE(error.find("'e3'"), std::string::npos) << error;
    EXPECT_EQ(qts.open_fds().size(), with_nodes);
    EXPECT_EQ(qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 2u);
    for (int i = 1; i <= 2; ++i) {
        qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'e" + std::to_string(i) + "'}}");
    }

    for (int set : {1, 11, 12}) {
        qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': " + std::to_string(set) + "}}");
    }
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    expect_no_fdsets(qts);
}

TEST_F(BlockVmdk, BackingChainInOneFdSetReadsFallThroughToTheBase)
{
    ImageDir dir;
    dir.img({"create", "-q", "-f", "vmdk", dir.path("base.vmdk"), "64M"});
    dir.io("base.vmdk", {"write -q -P 0xb0 1M 64k", "write -q -P 0xb1 10M 4k", "write -q -P 0xb2 20M 100"});
    // The overlay names its base as the relative "base.vmdk" (parentFileNameHint).
    {
        std::string out;
        std::string command = "cd '" + dir.path("") + "' && '" + tool("QTEST_QEMU_IMG") +
            "' create -q -f vmdk -b base.vmdk -F vmdk ov.vmdk";
        ASSERT_EQ(run_tool({"/bin/sh", "-c", command}, &out), 0) << out;
    }
    dir.io("ov.vmdk", {"write -q -P 0xc0 10M 4k"});

    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    // The base is only ever read: a read-only member is all the set needs for it.
    add_files(qts, dir, 3, {"base.vmdk"}, O_RDONLY);
    add_files(qts, dir, 3, {"ov.vmdk"}, O_RDWR);

    qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'ov', "
                           "'file': {'driver': 'file', 'filename': '/dev/fdset/3/ov.vmdk'}}}");
    JsonValue info = node_info(qts, "ov");
    // backing_file names the backing node (QEMU's bdrv_block_device_info), the image's own
    // name for it is backing-filename.
    EXPECT_EQ(info["backing_file"], "/dev/fdset/3/base.vmdk") << dump(info);
    EXPECT_EQ(info["image"]["backing-filename"], "base.vmdk") << dump(info);
    EXPECT_EQ(info["backing_file_depth"], 1) << dump(info);
    EXPECT_EQ(info["image"]["full-backing-filename"], "/dev/fdset/3/base.vmdk") << dump(info);
    // As in QEMU, the base's own ImageInfo nests under the overlay's (not with flat).
    EXPECT_EQ(info["image"]["backing-image"]["filename"], "/dev/fdset/3/base.vmdk") << dump(info);
    EXPECT_EQ(info["image"]["backing-image"]["virtual-size"], 64 * MiB) << dump(info);
    EXPECT_FALSE(info["image"]["backing-image"].contains("backing-image")) << dump(info);
    JsonValue flat = qts.qmp_assert_success("{'execute': 'query-named-block-nodes', 'arguments': {'flat': true}}");
    for (const JsonValue& node : flat) {
        EXPECT_FALSE(node["image"].contains("backing-image")) << dump(node);
    }
    EXPECT_EQ(qts.open_fd_targets().count(dir.path("base.vmdk")), 2u);

    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0xb0 1M 64k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0xc0 10M 4k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0xb2 20M 100"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0 30M 64k"), "");
    // A write into part of a grain the base holds copies the rest of the grain up.
    EXPECT_EQ(vm.qemu_io("ov", "write -q -P 0xc1 1M 4k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0xc1 1M 4k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0xb0 " + std::to_string(MiB + 4096) + " 60k"), "");

    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'ov'}}");
    qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 3}}");
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    expect_no_fdsets(qts);
    vm.qts.reset();
    // The base was not written; the overlay holds the copied-up grain.
    dir.io("base.vmdk", {"read -q -P 0xb0 1M 64k"}, true);
    dir.io("ov.vmdk", {"read -q -P 0xc1 1M 4k", "read -q -P 0xb0 " + std::to_string(MiB + 4096) + " 60k"}, true);
}

// An external snapshot as a management layer takes one (blockdev-add of the overlay from
// its own fd set, then blockdev-snapshot): the device moves to the overlay, new writes land
// there, and the base is reopened read-only from its set's read-only member.
void make_base_and_overlay(const ImageDir& dir)
{
    dir.img({"create", "-q", "-f", "vmdk", dir.path("base.vmdk"), "4M"});
    dir.io("base.vmdk", {"write -q -P 0x11 0 64k"});
    // The overlay names the base, so its parent CID is the base's (vmdk checks it on reads
    // that fall through to the backing file).
    dir.img({"create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", dir.path("overlay.vmdk")});
}

const char* const kAddOverlay = "{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'ov', "
                                "'file': {'driver': 'file', 'filename': '/dev/fdset/2'}, 'backing': null}}";

// The base in set 1 (with a read-only member too if asked), the overlay in set 2, and the
// base opened as node `base` under device disk0.
void start_disk_on_base(QTestState& qts, const ImageDir& dir, bool read_only_member)
{
    add_files(qts, dir, 1, {"base.vmdk"}, O_RDWR);
    if (read_only_member) {
        add_files(qts, dir, 1, {"base.vmdk"}, O_RDONLY);
    }
    add_files(qts, dir, 2, {"overlay.vmdk"}, O_RDWR);
    qts.qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'base', "
                           "'file': {'driver': 'file', 'filename': '/dev/fdset/1'}}}");
    qts.qmp_assert_success(
        "{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': 'base', 'id': 'disk0'}}");
}

// The device goes, then the monitor's `nodes`, then both sets: every fd is given back.
void release_disk_and_sets(QTestState& qts, const std::vector<std::string>& nodes, size_t baseline)
{
    qts.qmp_assert_success("{'execute': 'device_del', 'arguments': {'id': 'disk0'}}");
    for (const std::string& node : nodes) {
        qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': '" + node + "'}}");
    }
    for (int set : {1, 2}) {
        qts.qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': " + std::to_string(set) + "}}");
    }
    EXPECT_TRUE(qts.wait_open_fd_count(baseline));
    expect_no_fdsets(qts);
}

TEST_F(BlockVmdk, SnapshotOverlayFromAnFdSetTakesTheDeviceAndTheBaseBecomesReadOnly)
{
    ImageDir dir;
    make_base_and_overlay(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    start_disk_on_base(qts, dir, true);
    qts.qmp_assert_success(kAddOverlay);
    EXPECT_EQ(node_info(qts, "base")["ro"], false);
    EXPECT_EQ(qts.open_fds().size(), baseline + 5);

    qts.qmp_assert_success("{'execute': 'blockdev-snapshot', 'arguments': {'node': 'base', 'overlay': 'ov'}}");
    JsonValue overlay = node_info(qts, "ov");
    EXPECT_EQ(overlay["backing_file"], "/dev/fdset/1") << dump(overlay);
    EXPECT_EQ(node_info(qts, "base")["ro"], true);
    // The base's write dup went back and a read-only one took its place.
    EXPECT_EQ(qts.open_fds().size(), baseline + 5);
    JsonValue busy = qts.qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'ov'}}");
    EXPECT_EQ(qtest::qmp_expect_error(busy, "GenericError"), "Node ov is in use");

    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0x11 0 64k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "write -q -P 0x22 64k 64k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0x22 64k 64k"), "");
    EXPECT_NE(vm.qemu_io("base", "write -q -P 0x33 0 512"), "");

    release_disk_and_sets(qts, {"ov", "base"}, baseline);
    vm.qts.reset();
    dir.io("base.vmdk", {"read -q -P 0x11 0 64k", "read -q -P 0 64k 64k"}, true);
    dir.io("overlay.vmdk", {"read -q -P 0x11 0 64k", "read -q -P 0x22 64k 64k"}, true);
    dir.img({"check", "-q", dir.path("overlay.vmdk")});
}

// Without a read-only member the base cannot be reopened read-only; QEMU ignores that
// failure, so the snapshot stands and the base stays writable. A transaction that fails
// later puts the device back on the base.
TEST_F(BlockVmdk, SnapshotWithoutAReadOnlyMemberKeepsTheBaseWritableAndAnAbortUndoesIt)
{
    ImageDir dir;
    make_base_and_overlay(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    start_disk_on_base(qts, dir, false);
    qts.qmp_assert_success(kAddOverlay);

    JsonValue aborted = qts.qmp("{'execute': 'transaction', 'arguments': {'actions': ["
                                "{'type': 'blockdev-snapshot', 'data': {'node': 'base', 'overlay': 'ov'}}, "
                                "{'type': 'abort', 'data': {}}]}}");
    EXPECT_EQ(qtest::qmp_expect_error(aborted, "GenericError"), "Transaction aborted using Abort action");
    EXPECT_FALSE(node_info(qts, "ov").contains("backing_file"));
    // The overlay is free again: nothing holds it.
    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'ov'}}");
    qts.qmp_assert_success(kAddOverlay);

    qts.qmp_assert_success("{'execute': 'blockdev-snapshot', 'arguments': {'node': 'base', 'overlay': 'ov'}}");
    EXPECT_EQ(node_info(qts, "base")["ro"], false);
    EXPECT_EQ(node_info(qts, "ov")["backing_file"], "/dev/fdset/1");
    EXPECT_EQ(vm.qemu_io("ov", "write -q -P 0x22 64k 64k"), "");

    release_disk_and_sets(qts, {"ov", "base"}, baseline);
    vm.qts.reset();
    dir.io("overlay.vmdk", {"read -q -P 0x11 0 64k", "read -q -P 0x22 64k 64k"}, true);
}

// blockdev-snapshot-sync with mode=existing opens the overlay by name, so /dev/fdset/N works
// as well: the management layer made the overlay and passed it in.
TEST_F(BlockVmdk, SnapshotSyncReusesAnOverlayPassedInAnFdSet)
{
    ImageDir dir;
    make_base_and_overlay(dir);
    Emulator vm;
    QTestState& qts = *vm.qts;
    size_t baseline = qts.open_fds().size();
    start_disk_on_base(qts, dir, true);

    JsonValue unnamed = qts.qmp("{'execute': 'blockdev-snapshot-sync', 'arguments': {'node-name': 'base', "
                                "'snapshot-file': '/dev/fdset/2', 'format': 'vmdk', 'mode': 'existing'}}");
    EXPECT_EQ(qtest::qmp_expect_error(unnamed, "GenericError"), "New overlay node-name missing");
    qts.qmp_assert_success("{'execute': 'blockdev-snapshot-sync', 'arguments': {'node-name': 'base', "
                           "'snapshot-file': '/dev/fdset/2', 'snapshot-node-name': 'ov', 'format': 'vmdk', "
                           "'mode': 'existing'}}");
    JsonValue overlay = node_info(qts, "ov");
    // The image names base.vmdk, the backing node is another name: a json: name, as QEMU's.
    EXPECT_EQ(overlay["file"],
        "json:{\"backing\": {\"driver\": \"vmdk\", \"file\": {\"driver\": \"file\", \"filename\": "
        "\"/dev/fdset/1\"}}, \"driver\": \"vmdk\", \"file\": {\"driver\": \"file\", \"filename\": \"/dev/fdset/2\"}}")
        << dump(overlay);
    EXPECT_EQ(overlay["backing_file"], "/dev/fdset/1") << dump(overlay);
    EXPECT_EQ(node_info(qts, "base")["ro"], true);
    EXPECT_EQ(vm.qemu_io("ov", "read -q -P 0x11 0 64k"), "");
    EXPECT_EQ(vm.qemu_io("ov", "write -q -P 0x22 64k 64k"), "");

    // The overlay belongs to the device, not the monitor: it goes with the device.
    JsonValue owned = qts.qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'ov'}}");
    EXPECT_EQ(qtest::qmp_expect_error(owned, "GenericError"), "Node ov is in use");
    release_disk_and_sets(qts, {"base"}, baseline);
    EXPECT_EQ(qts.qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 0u);
    vm.qts.reset();
    dir.io("overlay.vmdk", {"read -q -P 0x11 0 64k", "read -q -P 0x22 64k 64k"}, true);
}

}  // namespace
