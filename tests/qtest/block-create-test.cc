// blockdev-create on descriptors the emulator was given: a vdi image made on an fd-set
// member named by /dev/fdset/N, and a twoGbMaxExtentSparse vmdk whose descriptor and
// extents are named members of one set; the images open again from the same set, pass
// the real qemu-img check where it is installed, and every dup a job or a node took is
// given back. The event order around the command's reply is QEMU's (the interop
// comparison checks it against QEMU 7.2; here only that the job concludes).
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

class TempDir {
public:
    TempDir()
    {
        std::string pattern = std::string(g_get_tmp_dir()) + "/block-create-test-XXXXXX";
        m_path = g_mkdtemp(pattern.data()) ? pattern : "";
        EXPECT_FALSE(m_path.empty());
    }
    ~TempDir()
    {
        std::string command = "rm -rf '" + m_path + "'";
        EXPECT_EQ(std::system(command.c_str()), 0);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return m_path + "/" + name; }
    qemu::UniqueFd create(const std::string& name) const
    {
        return qemu::UniqueFd(::open(file(name).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    }

private:
    std::string m_path;
};

void add_fd(QTestState& qts, int fd, int set, const std::string& opaque)
{
    std::string request =
        "{'execute': 'add-fd', 'arguments': {'fdset-id': " + std::to_string(set) + ", 'opaque': '" + opaque + "'}}";
    JsonValue reply = qts.qmp_fds(std::span<const int>(&fd, 1), request);
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
}

// Starts a create job and waits until it has concluded; returns its query-jobs entry.
JsonValue create(QTestState& qts, const std::string& id, const std::string& options)
{
    qts.qmp_assert_success(
        "{'execute': 'blockdev-create', 'arguments': {'job-id': '" + id + "', 'options': " + options + "}}");
    for (;;) {
        JsonValue event = qts.qmp_eventwait("JOB_STATUS_CHANGE");
        if (event["data"]["id"] == id && event["data"]["status"] == "concluded") {
            break;
        }
    }
    JsonValue jobs = qts.qmp_assert_success("{'execute': 'query-jobs'}");
    for (const JsonValue& job : jobs) {
        if (job["id"] == id) {
            return job;
        }
    }
    ADD_FAILURE() << "job " << id << " missing from " << dump(jobs);
    return {};
}

void dismiss(QTestState& qts, const std::string& id)
{
    qts.qmp_assert_success("{'execute': 'job-dismiss', 'arguments': {'id': '" + id + "'}}");
}

size_t fds_into(QTestState& qts, const TempDir& dir)
{
    size_t count = 0;
    for (const auto& target : qts.open_fd_targets()) {
        count += target.starts_with(dir.file("")) ? 1 : 0;
    }
    return count;
}

// The real qemu-img's verdict, where Debian's qemu-utils is installed.
bool qemu_img_check(const std::string& path)
{
    std::string command = "/usr/bin/qemu-img check -q '" + path + "'";
    return std::system(command.c_str()) == 0;
}

TEST(BlockdevCreate, VdiOnAnFdSetMember)
{
    TempDir dir;
    auto qts = QTestState::init("-nodefaults -machine none");
    {
        qemu::UniqueFd image = dir.create("disk.vdi");
        add_fd(*qts, image.get(), 1, "disk.vdi");
    }
    EXPECT_EQ(fds_into(*qts, dir), 1u);

    JsonValue job = create(*qts, "file", "{'driver': 'file', 'filename': '/dev/fdset/1', 'size': 0}");
    EXPECT_FALSE(job.contains("error")) << dump(job);
    job = create(
        *qts, "vdi", "{'driver': 'vdi', 'file': {'driver': 'file', 'filename': '/dev/fdset/1'}, 'size': 67108864}");
    EXPECT_FALSE(job.contains("error")) << dump(job);
    EXPECT_EQ(job["current-progress"], 1);
    dismiss(*qts, "file");
    dismiss(*qts, "vdi");
    // The nodes the jobs opened are gone, and their dups with them.
    EXPECT_EQ(fds_into(*qts, dir), 1u);

    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vdi', 'node-name': 'd0', "
                            "'file': {'driver': 'file', 'filename': '/dev/fdset/1'}}}");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0x5a 1M 64k\""), "");
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-named-block-nodes', 'arguments': {'flat': true}}");
    EXPECT_EQ(block[0]["node-name"], "d0") << dump(block);
    EXPECT_EQ(block[0]["image"]["virtual-size"], 67108864) << dump(block);
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd0'}}");
    EXPECT_EQ(fds_into(*qts, dir), 1u);
    if (::access("/usr/bin/qemu-img", X_OK) == 0) {
        EXPECT_TRUE(qemu_img_check(dir.file("disk.vdi")));
    }
}

TEST(BlockdevCreate, SplitVmdkFromNamedMembersOfOneSet)
{
    TempDir dir;
    auto qts = QTestState::init("-nodefaults -machine none");
    for (const char* name : {"disk.vmdk", "disk-s001.vmdk", "disk-s002.vmdk"}) {
        qemu::UniqueFd fd = dir.create(name);
        add_fd(*qts, fd.get(), 3, name);
    }
    EXPECT_EQ(fds_into(*qts, dir), 3u);
    auto file = [](const std::string& name) { return "{'driver': 'file', 'filename': '/dev/fdset/3/" + name + "'}"; };
    // Two extents: 2 GiB and 1 MiB.
    JsonValue job = create(*qts, "k",
        "{'driver': 'vmdk', 'subformat': 'twoGbMaxExtentSparse', 'size': 2148532224, 'file': " + file("disk.vmdk") +
            ", 'extents': [" + file("disk-s001.vmdk") + ", " + file("disk-s002.vmdk") + "]}");
    EXPECT_FALSE(job.contains("error")) << dump(job);
    dismiss(*qts, "k");
    EXPECT_EQ(fds_into(*qts, dir), 3u);

    // One extent too few is QEMU's error, found after the job started.
    job = create(*qts, "short",
        "{'driver': 'vmdk', 'subformat': 'twoGbMaxExtentSparse', 'size': 2148532224, 'file': " + file("disk.vmdk") +
            ", 'extents': [" + file("disk-s001.vmdk") + "]}");
    EXPECT_EQ(job["error"], "Extent [1] not specified") << dump(job);
    dismiss(*qts, "short");
    EXPECT_EQ(fds_into(*qts, dir), 3u);
    job = create(*qts, "k",
        "{'driver': 'vmdk', 'subformat': 'twoGbMaxExtentSparse', 'size': 2148532224, 'file': " + file("disk.vmdk") +
            ", 'extents': [" + file("disk-s001.vmdk") + ", " + file("disk-s002.vmdk") + "]}");
    EXPECT_FALSE(job.contains("error")) << dump(job);

    // The descriptor names its extents relative to itself: they resolve to the set's
    // other members.
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vmdk', 'node-name': 'v', "
                            "'file': " +
        file("disk.vmdk") + "}}");
    EXPECT_EQ(qts->hmp("qemu-io v \"write -P 0x33 2047M 2M\""), "");
    EXPECT_EQ(qts->hmp("qemu-io v \"read -P 0x33 2047M 2M\"").find("Pattern verification failed"), std::string::npos);
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    size_t found = 0;
    for (const JsonValue& node : nodes) {
        if (node["node-name"] == "v") {
            EXPECT_EQ(node["image"]["virtual-size"], 2148532224LL) << dump(node);
            ++found;
        }
    }
    EXPECT_EQ(found, 1u) << dump(nodes);
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v'}}");
    EXPECT_EQ(fds_into(*qts, dir), 3u);
    if (::access("/usr/bin/qemu-img", X_OK) == 0) {
        EXPECT_TRUE(qemu_img_check(dir.file("disk.vmdk")));
    }
}

}  // namespace
