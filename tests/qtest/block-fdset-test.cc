// Images in fd sets: the QEMU 7.2 session of ../shared/reference/fdsets.md's appendix
// (blockdev-add over /dev/fdset/1, a write through HMP qemu-io, remove-fd leaving the set
// listed empty while the node holds a dup, blockdev-del giving it back), and the reopen
// paths that fd sets exist for: -drive's auto-read-only (read-only open, read-write on the
// first write) and blockdev-reopen, each with a set holding both access modes and with a
// set lacking one.
//
// Against Debian's QEMU 7.2 every case passes; only the fd-set error texts are not compared
// (7.2 says "Could not dup FD for /dev/fdset/N flags F: ...", this build the newer
// "Failed to find file descriptor with matching flags=0xF").
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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

// The order of keys in a QMP object is not significant: compare with keys sorted.
std::string canon(const JsonValue& value)
{
    return nlohmann::json::parse(value.dump()).dump();
}

std::string error_of(const JsonValue& reply)
{
    return qtest::qmp_expect_error(reply, "GenericError");
}

class TempImage {
public:
    TempImage()
    {
        static int counter = 0;
        m_path = std::string(g_get_tmp_dir()) + "/block-fdset-test-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++) + ".raw";
        qemu::UniqueFd fd(::open(m_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        EXPECT_TRUE(fd.valid());
        EXPECT_EQ(ftruncate(fd.get(), 1 << 20), 0);
    }
    ~TempImage() { ::unlink(m_path.c_str()); }
    TempImage(const TempImage&) = delete;
    TempImage& operator=(const TempImage&) = delete;

    const std::string& path() const { return m_path; }
    qemu::UniqueFd open(int flags) const { return qemu::UniqueFd(::open(m_path.c_str(), flags | O_CLOEXEC)); }
    bool holds(off_t offset, size_t length, uint8_t value) const
    {
        std::vector<uint8_t> data(length);
        qemu::UniqueFd fd = open(O_RDONLY);
        if (::pread(fd.get(), data.data(), length, offset) != static_cast<ssize_t>(length)) {
            return false;
        }
        return std::all_of(data.begin(), data.end(), [value](uint8_t byte) { return byte == value; });
    }

private:
    std::string m_path;
};

JsonValue send_fd(QTestState& qts, int fd, std::string_view request)
{
    return qts.qmp_fds(std::span<const int>(&fd, 1), request);
}

// query-fdsets sorted by id: QEMU 7.2 lists sets newest id first, later versions oldest.
JsonValue fdsets_by_id(QTestState& qts)
{
    JsonValue sets = qts.qmp_assert_success("{'execute': 'query-fdsets'}");
    std::vector<JsonValue> sorted(sets.begin(), sets.end());
    std::sort(sorted.begin(), sorted.end(),
        [](const JsonValue& a, const JsonValue& b) { return a["fdset-id"] < b["fdset-id"]; });
    return JsonValue(sorted);
}

size_t fds_pointing_to(QTestState& qts, const std::string& path)
{
    auto targets = qts.open_fd_targets();
    return targets.count(path);
}

TEST(FdsetImage, AppendixSessionOfQemu72)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qemu::UniqueFd rw = image.open(O_RDWR);
    qemu::UniqueFd ro = image.open(O_RDONLY);
    qemu::UniqueFd other = image.open(O_RDONLY);
    JsonValue added = send_fd(*qts, rw.get(), "{'execute': 'add-fd', 'arguments': {'fdset-id': 1, 'opaque': 'rw'}}");
    ASSERT_TRUE(added.contains("return")) << dump(added);
    EXPECT_EQ(added["return"]["fdset-id"], 1);
    added = send_fd(*qts, ro.get(), "{'execute': 'add-fd', 'arguments': {'fdset-id': 1, 'opaque': 'ro'}}");
    ASSERT_TRUE(added.contains("return")) << dump(added);
    added = send_fd(*qts, other.get(), "{'execute': 'add-fd', 'arguments': {}}");
    ASSERT_TRUE(added.contains("return")) << dump(added);
    EXPECT_EQ(added["return"]["fdset-id"], 0);
    int other_fd = added["return"]["fd"];
    EXPECT_EQ(fds_pointing_to(*qts, image.path()), 3u);

    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'file': {'driver': 'file', 'filename': '/dev/fdset/1'}}}");
    // The node holds a dup of the read-write member.
    EXPECT_EQ(fds_pointing_to(*qts, image.path()), 4u);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0xab 0 4k\""), "");
    EXPECT_TRUE(image.holds(0, 4096, 0xab));
    EXPECT_TRUE(image.holds(4096, 4096, 0));

    std::string missing = error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', "
                                            "'node-name': 'd1', 'read-only': true, 'file': {'driver': 'file', "
                                            "'filename': '/dev/fdset/7'}}}"));
    EXPECT_FALSE(missing.empty());
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd2', "
                                "'file': {'driver': 'file', 'filename': '/dev/fdset/abc'}}}")),
        "Could not parse fdset /dev/fdset/abc");

    qts->qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 1}}");
    JsonValue sets = fdsets_by_id(*qts);
    EXPECT_EQ(canon(sets),
        canon(JsonValue::parse(
            R"([{"fdset-id": 0, "fds": [{"fd": )" + std::to_string(other_fd) + R"(}]}, {"fdset-id": 1, "fds": []}])")))
        << dump(sets);
    // The members are closed; set 0's fd and the node's dup remain.
    EXPECT_EQ(fds_pointing_to(*qts, image.path()), 2u);

    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'd0'}}");
    sets = fdsets_by_id(*qts);
    EXPECT_EQ(canon(sets),
        canon(JsonValue::parse(R"([{"fdset-id": 0, "fds": [{"fd": )" + std::to_string(other_fd) + R"(}]}])")))
        << dump(sets);
    EXPECT_EQ(fds_pointing_to(*qts, image.path()), 1u);
}

// A drive without a medium gets one from an fd set, as a management layer swaps images
// behind a drive: blockdev-change-medium takes a dup of the member, the next change or an
// eject gives it back.
TEST(FdsetImage, ChangeMediumTakesADupAndEjectGivesItBack)
{
    TempImage first;
    TempImage second;
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=cd0");
    qemu::UniqueFd first_rw = first.open(O_RDWR);
    qemu::UniqueFd second_ro = second.open(O_RDONLY);
    ASSERT_TRUE(send_fd(*qts, first_rw.get(), "{'execute': 'add-fd', 'arguments': {'fdset-id': 1}}").contains("return"));
    ASSERT_TRUE(
        send_fd(*qts, second_ro.get(), "{'execute': 'add-fd', 'arguments': {'fdset-id': 2}}").contains("return"));
    auto inserted = [&] {
        JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
        EXPECT_EQ(block.size(), 1u) << dump(block);
        return block[0].contains("inserted") ? block[0]["inserted"] : JsonValue();
    };

    // Set 2 has only a read-only member: the medium must be asked for read-only.
    std::string refused = error_of(qts->qmp("{'execute': 'blockdev-change-medium', 'arguments': {'device': "
                                            "'cd0', 'filename': '/dev/fdset/2', 'format': 'raw'}}"));
    EXPECT_TRUE(refused == "Failed to find file descriptor with matching flags=0x2" ||
        refused.starts_with("Could not dup FD for /dev/fdset/2 flags 2"))
        << refused;
    EXPECT_TRUE(inserted().is_null());
    EXPECT_EQ(fds_pointing_to(*qts, second.path()), 1u);
    qts->qmp_assert_success("{'execute': 'blockdev-change-medium', 'arguments': {'device': 'cd0', "
                            "'filename': '/dev/fdset/2', 'format': 'raw', 'read-only-mode': 'read-only'}}");
    EXPECT_EQ(fds_pointing_to(*qts, second.path()), 2u);
    EXPECT_EQ(inserted()["file"], "/dev/fdset/2");
    EXPECT_EQ(inserted()["ro"], true);

    qts->qmp_assert_success("{'execute': 'blockdev-change-medium', 'arguments': {'device': 'cd0', "
                            "'filename': '/dev/fdset/1', 'format': 'raw', 'read-only-mode': 'read-write'}}");
    EXPECT_EQ(fds_pointing_to(*qts, second.path()), 1u);
    EXPECT_EQ(fds_pointing_to(*qts, first.path()), 2u);
    EXPECT_EQ(inserted()["file"], "/dev/fdset/1");
    EXPECT_EQ(inserted()["ro"], false);
    EXPECT_EQ(qts->hmp("qemu-io cd0 \"write -P 0x5c 0 4k\""), "");
    EXPECT_TRUE(first.holds(0, 4096, 0x5c));

    qts->qmp_assert_success("{'execute': 'eject', 'arguments': {'device': 'cd0'}}");
    EXPECT_EQ(fds_pointing_to(*qts, first.path()), 1u);
    EXPECT_TRUE(inserted().is_null());
    qts->qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 1}}");
    qts->qmp_assert_success("{'execute': 'remove-fd', 'arguments': {'fdset-id': 2}}");
    EXPECT_EQ(fds_pointing_to(*qts, first.path()), 0u);
    EXPECT_EQ(fds_pointing_to(*qts, second.path()), 0u);
}

// -drive file=/dev/fdset/N with the sets QEMU's auto-read-only can and cannot use.
struct AutoReadOnly : ::testing::Test {
    TempImage image;
    std::string drive_args = std::string(kArgs) +
        " -add-fd fd=3,set=1 -add-fd fd=4,set=1"
        " -drive if=none,id=drive0,file=/dev/fdset/1,format=raw";
};

TEST_F(AutoReadOnly, SetWithBothModesOpensReadOnlyThenReopensOnFirstWrite)
{
    qemu::UniqueFd ro = image.open(O_RDONLY);
    qemu::UniqueFd rw = image.open(O_RDWR);
    InheritedFd inherit[] = {{ro.get(), 3}, {rw.get(), 4}};
    auto qts = QTestState::init(drive_args, inherit);
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u);
    // The node is read-write; only its descriptor is read-only until somebody writes.
    EXPECT_EQ(block[0]["inserted"]["ro"], false);
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x42 0 512\""), "");
    EXPECT_TRUE(image.holds(0, 512, 0x42));
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x43 512 512\""), "");
    EXPECT_TRUE(image.holds(512, 512, 0x43));
}

TEST_F(AutoReadOnly, SetWithOnlyReadOnlyFdStartsButCannotWrite)
{
    qemu::UniqueFd ro = image.open(O_RDONLY);
    qemu::UniqueFd ro2 = image.open(O_RDONLY);
    InheritedFd inherit[] = {{ro.get(), 3}, {ro2.get(), 4}};
    auto qts = QTestState::init(drive_args, inherit);
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"read 0 512\""), "");
    std::string refused = qts->hmp("qemu-io drive0 \"write -P 0x42 0 512\"");
    EXPECT_FALSE(refused.empty());
    EXPECT_TRUE(refused.ends_with("\r\n")) << refused;
    EXPECT_TRUE(image.holds(0, 512, 0));
    // The failed reopen left the drive as it was: reads still work.
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"read 0 512\""), "");
}

TEST_F(AutoReadOnly, SetWithOnlyReadWriteFdFailsAtStartup)
{
    qemu::UniqueFd rw = image.open(O_RDWR);
    qemu::UniqueFd rw2 = image.open(O_RDWR);
    InheritedFd inherit[] = {{rw.get(), 3}, {rw2.get(), 4}};
    auto result =
        qtest::run_emulator({"-nodefaults", "-display", "none", "-machine", "none", "-add-fd", "fd=3,set=1", "-add-fd",
                                "fd=4,set=1", "-drive", "if=none,id=drive0,file=/dev/fdset/1,format=raw"},
            std::chrono::seconds(30), inherit);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_TRUE(result.err.starts_with("qemu-system-x86_64: -drive if=none,id=drive0,file=/dev/fdset/1,format=raw: "))
        << result.err;
}

// blockdev-reopen from read-only to read-write asks the set for its O_RDWR member.
TEST(FdsetReopen, ReadOnlyToReadWriteUsesTheSetsReadWriteFd)
{
    TempImage image;
    qemu::UniqueFd ro = image.open(O_RDONLY);
    qemu::UniqueFd rw = image.open(O_RDWR);
    InheritedFd inherit[] = {{ro.get(), 3}, {rw.get(), 4}};
    auto qts = QTestState::init(std::string(kArgs) + " -add-fd fd=3,set=1 -add-fd fd=4,set=1", inherit);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'file', 'node-name': 'f0', "
                            "'filename': '/dev/fdset/1'}}}");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 0 512\""), "Block node is read-only\r\n");
    qts->qmp_assert_success("{'execute': 'blockdev-reopen', 'arguments': {'options': [{'driver': 'raw', "
                            "'node-name': 'd0', 'read-only': false, 'file': 'f0'}]}}");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0x77 0 512\""), "");
    EXPECT_TRUE(image.holds(0, 512, 0x77));
}

TEST(FdsetReopen, SetWithoutReadWriteFdKeepsTheNodeReadOnly)
{
    TempImage image;
    qemu::UniqueFd ro = image.open(O_RDONLY);
    InheritedFd inherit[] = {{ro.get(), 3}};
    auto qts = QTestState::init(std::string(kArgs) + " -add-fd fd=3,set=1", inherit);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'file', 'node-name': 'f0', "
                            "'filename': '/dev/fdset/1'}}}");
    std::string refused = error_of(qts->qmp("{'execute': 'blockdev-reopen', 'arguments': {'options': [{'driver': "
                                            "'raw', 'node-name': 'd0', 'read-only': false, 'file': 'f0'}]}}"));
    EXPECT_FALSE(refused.empty());
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}")[0]["ro"], true);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 0 512\""), "Block node is read-only\r\n");
    EXPECT_TRUE(image.holds(0, 512, 0));
}

}  // namespace

namespace {

// Makes image a 4 MiB dynamic vdi as qemu-img create -f vdi does (UUIDs left zero).
void make_empty_vdi(const TempImage& image)
{
    std::vector<uint8_t> header(1024, 0);
    auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&header[at], &v, 4); };
    put32(0x40, 0xBEDA107F);
    put32(0x44, 0x00010001);
    put32(0x48, 0x180);
    put32(0x4C, 1);
    put32(0x154, 0x200);
    put32(0x158, 0x400);
    put32(0x168, 512);
    put32(0x170, 4 << 20);
    put32(0x178, 1 << 20);
    put32(0x180, 4);
    std::memset(&header[0x200], 0xFF, 16);
    qemu::UniqueFd fd = image.open(O_RDWR | O_TRUNC);
    ASSERT_EQ(::write(fd.get(), header.data(), header.size()), 1024);
}

uint32_t u32_at(const TempImage& image, off_t at)
{
    uint32_t v = 0;
    qemu::UniqueFd fd = image.open(O_RDONLY);
    EXPECT_EQ(::pread(fd.get(), &v, 4, at), 4);
    return v;
}

}  // namespace

// A vdi node over an fd set: the first write to a block appends it to the data area and
// records it in the header and the block map, exactly where QEMU 7.2 puts them.
TEST(FdsetImage, VdiNodeOverAnFdSetAllocatesBlocksLikeQemu)
{
    TempImage image;
    make_empty_vdi(image);
    auto qts = QTestState::init(kArgs);
    qemu::UniqueFd rw = image.open(O_RDWR);
    JsonValue added = send_fd(*qts, rw.get(), "{'execute': 'add-fd', 'arguments': {'fdset-id': 1}}");
    ASSERT_TRUE(added.contains("return")) << dump(added);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vdi', 'node-name': 'v0', "
                            "'file': {'driver': 'file', 'filename': '/dev/fdset/1'}}}");
    EXPECT_EQ(qts->hmp("qemu-io v0 \"write -P 0xcd 2M 4k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io v0 \"write -P 0xce 0 512\""), "");
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v0'}}");
    struct stat st { };
    ASSERT_EQ(::stat(image.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0x400 + 2 * (1 << 20));
    EXPECT_EQ(u32_at(image, 0x184), 2u);  // blocks_allocated
    EXPECT_EQ(u32_at(image, 0x200), 1u);  // block 0 -> data block 1
    EXPECT_EQ(u32_at(image, 0x204), 0xFFFFFFFFu);
    EXPECT_EQ(u32_at(image, 0x208), 0u);  // block 2 -> data block 0
    EXPECT_TRUE(image.holds(0x400, 4096, 0xcd));
    EXPECT_TRUE(image.holds(0x400 + 4096, 4096, 0));
    EXPECT_TRUE(image.holds(0x400 + (1 << 20), 512, 0xce));
}

// -drive format=vdi over a set with both access modes: opened read-only, reopened
// read-write by the first write, which then allocates as usual.
TEST(FdsetImage, VdiDriveReopensReadWriteOnItsFirstWrite)
{
    TempImage image;
    make_empty_vdi(image);
    qemu::UniqueFd ro = image.open(O_RDONLY);
    qemu::UniqueFd rw = image.open(O_RDWR);
    InheritedFd inherit[] = {{ro.get(), 3}, {rw.get(), 4}};
    auto qts = QTestState::init(std::string(kArgs) +
            " -add-fd fd=3,set=1 -add-fd fd=4,set=1 -drive if=none,id=drive0,file=/dev/fdset/1,format=vdi",
        inherit);
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x42 3M 512\""), "");
    EXPECT_EQ(u32_at(image, 0x184), 1u);
    EXPECT_EQ(u32_at(image, 0x20C), 0u);
    EXPECT_TRUE(image.holds(0x400, 512, 0x42));
}
