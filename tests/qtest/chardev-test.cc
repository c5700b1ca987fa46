// The QMP chardev commands against the running emulator: chardev-add for each backend and
// its failures, chardev-remove, query-chardev, query-chardev-backends and the ringbuf
// commands. The texts were checked against QEMU 7.2; the suite passes against it with
// QTEST_QEMU_BINARY=/usr/bin/qemu-system-x86_64 QTEST_ACCEL=tcg QTEST_NO_AUDIO=1.
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::qmp_expect_error;
using qtest::QTestState;

constexpr const char* kCommonArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

std::string temp_path(std::string_view tag)
{
    static int counter = 0;
    return std::string(g_get_tmp_dir()) + "/chardev-test-" + std::to_string(getpid()) + "-" + std::string(tag) + "-" +
        std::to_string(counter++);
}

JsonValue add(QTestState& qts, std::string_view id, std::string_view backend)
{
    return qts.qmp("{ 'execute': 'chardev-add', 'arguments': { 'id': '" + std::string(id) +
        "', 'backend': " + std::string(backend) + " } }");
}

// query-chardev's entry for label, or null.
JsonValue query_entry(QTestState& qts, std::string_view label)
{
    for (const auto& entry : qts.qmp_assert_success("{ 'execute': 'query-chardev' }")) {
        if (entry["label"] == label) {
            return entry;
        }
    }
    return JsonValue();
}

// query-chardev entries compared member by member: the order on the wire is not part of
// the protocol (7.2's follows its hash table).
void expect_chardev_info(const JsonValue& entry, std::string_view label, std::string_view filename, bool open)
{
    ASSERT_TRUE(entry.is_object()) << dump(entry);
    EXPECT_EQ(entry.size(), 3u) << dump(entry);
    EXPECT_EQ(entry["label"], label) << dump(entry);
    EXPECT_EQ(entry["filename"], filename) << dump(entry);
    EXPECT_EQ(entry["frontend-open"], open) << dump(entry);
}

TEST(ChardevAdd, NullThenDuplicateId)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue reply = add(*qts, "n1", "{ 'type': 'null', 'data': {} }");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(reply["return"], JsonValue::object());
    expect_chardev_info(query_entry(*qts, "n1"), "n1", "null", false);

    EXPECT_EQ(qmp_expect_error(add(*qts, "n1", "{ 'type': 'null', 'data': {} }"), "GenericError"),
        "Chardev with id 'n1' already exists");
}

TEST(ChardevAdd, RingbufSizeMustBeAPowerOfTwo)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(add(*qts, "r1", "{ 'type': 'ringbuf', 'data': { 'size': 1000 } }"), "GenericError"),
        "Failed to add chardev 'r1': size of ringbuf chardev must be power of two");
    // The failed id is free again.
    EXPECT_TRUE(query_entry(*qts, "r1").is_null());
    qts->qmp_assert_success(
        "{ 'execute': 'chardev-add', 'arguments': { 'id': 'r1', 'backend': { 'type': 'ringbuf', 'data': { 'size': "
        "1024 } } } }");
    EXPECT_EQ(query_entry(*qts, "r1")["filename"], "ringbuf");
}

// QEMU 7.2 aborts on a ring it cannot allocate; ours refuses that one command. 2^62 bytes
// is past any address space, so the refusal does not depend on the host's overcommit.
TEST(ChardevAdd, RingbufTooLargeForMemoryIsRefusedAndTheEmulatorCarriesOn)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(
                  add(*qts, "big", "{ 'type': 'ringbuf', 'data': { 'size': 4611686018427387904 } }"), "GenericError"),
        "Failed to add chardev 'big': Could not allocate 4611686018427387904 bytes for ringbuf 'big': Cannot allocate "
        "memory");
    EXPECT_TRUE(query_entry(*qts, "big").is_null());
    qts->qmp_assert_success(
        "{ 'execute': 'chardev-add', 'arguments': { 'id': 'big', 'backend': { 'type': 'ringbuf', 'data': { 'size': "
        "1024 } } } }");
    EXPECT_EQ(query_entry(*qts, "big")["filename"], "ringbuf");
}

TEST(ChardevAdd, FileIsCreatedAndListed)
{
    auto qts = QTestState::init(kCommonArgs);
    std::string path = temp_path("file");
    JsonValue reply = add(*qts, "f1", "{ 'type': 'file', 'data': { 'out': '" + path + "' } }");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    struct stat st { };
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0);
    expect_chardev_info(query_entry(*qts, "f1"), "f1", "file", false);
    unlink(path.c_str());
}

TEST(ChardevAdd, FileInAMissingDirectoryFailsWithPrefix)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(
        qmp_expect_error(add(*qts, "f2", "{ 'type': 'file', 'data': { 'out': '/nonexistent/x' } }"), "GenericError"),
        "Failed to add chardev 'f2': Could not open '/nonexistent/x': No such file or directory");
    EXPECT_TRUE(query_entry(*qts, "f2").is_null());
}

TEST(ChardevAdd, UnixServerSocketAcceptsAConnection)
{
    auto qts = QTestState::init(kCommonArgs);
    std::string path = temp_path("sock");
    JsonValue reply = add(*qts, "s1",
        "{ 'type': 'socket', 'data': { 'addr': { 'type': 'unix', 'data': { 'path': '" + path +
            "' } }, 'server': true, 'wait': false } }");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
    EXPECT_EQ(reply["return"], JsonValue::object());
    EXPECT_EQ(query_entry(*qts, "s1")["filename"], "disconnected:unix:" + path + ",server=on");

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
    // The emulator accepts from its main loop; the label stops saying "disconnected".
    std::string filename;
    for (int i = 0; i < 100; ++i) {
        filename = query_entry(*qts, "s1")["filename"].get<std::string>();
        if (!filename.starts_with("disconnected:")) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(filename, "unix:" + path + ",server=on");
    expect_chardev_info(query_entry(*qts, "s1"), "s1", "unix:" + path + ",server=on", false);
    close(fd);
    // ...and says it again once the peer has gone.
    for (int i = 0; i < 100; ++i) {
        filename = query_entry(*qts, "s1")["filename"].get<std::string>();
        if (filename.starts_with("disconnected:")) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(filename, "disconnected:unix:" + path + ",server=on");
    qts->qmp_assert_success("{ 'execute': 'chardev-remove', 'arguments': { 'id': 's1' } }");
    unlink(path.c_str());
}

// Polls query-chardev until the socket chardev's name says whether a peer is connected.
std::string wait_for_filename_prefix(QTestState& qts, std::string_view label, bool disconnected)
{
    std::string filename;
    for (int i = 0; i < 250; ++i) {
        filename = query_entry(qts, label)["filename"].get<std::string>();
        if (filename.starts_with("disconnected:") == disconnected) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return filename;
}

int connect_unix(const std::string& path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
    timeval timeout{.tv_sec = 30, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return fd;
}

// yank cuts the connection of a socket chardev: the peer reads the end at once, the server
// chardev is disconnected and takes the next client. Only socket chardevs are instances.
TEST(Yank, CutsASocketChardevsPeerAndTheServerTakesTheNextOne)
{
    std::string path = temp_path("yank");
    auto qts = QTestState::init(
        std::string(kCommonArgs) + " -chardev socket,id=s1,path=" + path + ",server=on,wait=off -chardev null,id=n1");
    JsonValue instances = qts->qmp_assert_success("{ 'execute': 'query-yank' }");
    // libqtest's monitor chardev and s1 in command-line order, then -qtest's, which QEMU
    // makes with the late backends.
    EXPECT_EQ(dump(instances),
        R"([{"type": "chardev", "id": "char0"}, {"type": "chardev", "id": "s1"}, {"type": "chardev", "id": "qtest"}])");
    JsonValue not_found = qts->qmp("{ 'execute': 'yank', 'arguments': { 'instances': ["
                                   "{ 'type': 'chardev', 'id': 's1' }, { 'type': 'chardev', 'id': 'n1' } ] } }");
    EXPECT_EQ(qmp_expect_error(not_found, "DeviceNotFound"), "Instance not found");

    int first = connect_unix(path);
    EXPECT_EQ(wait_for_filename_prefix(*qts, "s1", false), "unix:" + path + ",server=on");
    qts->qmp_assert_success(
        "{ 'execute': 'yank', 'arguments': { 'instances': [ { 'type': 'chardev', 'id': 's1' } ] } }");
    char byte = 0;
    EXPECT_EQ(recv(first, &byte, 1, 0), 0) << strerror(errno);
    close(first);
    EXPECT_EQ(wait_for_filename_prefix(*qts, "s1", true), "disconnected:unix:" + path + ",server=on");

    int second = connect_unix(path);
    EXPECT_EQ(wait_for_filename_prefix(*qts, "s1", false), "unix:" + path + ",server=on");
    close(second);
    qts.reset();
    unlink(path.c_str());
}

TEST(ChardevAdd, PtyReturnsItsPath)
{
    auto qts = QTestState::init(kCommonArgs);
    JsonValue reply = qts->qmp_assert_success(
        "{ 'execute': 'chardev-add', 'arguments': { 'id': 'p1', 'backend': { 'type': 'pty', 'data': {} } } }");
    ASSERT_TRUE(reply.contains("pty") && reply["pty"].is_string()) << dump(reply);
    std::string pty = reply["pty"].get<std::string>();
    EXPECT_TRUE(
        pty.starts_with("/dev/pts/") && pty.size() > 9 && pty.find_first_not_of("0123456789", 9) == std::string::npos)
        << pty;
    EXPECT_EQ(query_entry(*qts, "p1")["filename"], "pty:" + pty);
}

TEST(ChardevAdd, UnknownBackendType)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(qmp_expect_error(add(*qts, "b1", "{ 'type': 'bogus', 'data': {} }"), "GenericError"),
        "Parameter 'type' does not accept value 'bogus'");
}

TEST(ChardevRemove, NotFoundBusyAndSuccess)
{
    auto qts = QTestState::init(kCommonArgs);
    EXPECT_EQ(
        qmp_expect_error(qts->qmp("{ 'execute': 'chardev-remove', 'arguments': { 'id': 'nope' } }"), "GenericError"),
        "Chardev 'nope' not found");
    // libqtest's QMP monitor sits on -chardev socket,id=char0.
    EXPECT_EQ(query_entry(*qts, "char0")["frontend-open"], true);
    EXPECT_EQ(
        qmp_expect_error(qts->qmp("{ 'execute': 'chardev-remove', 'arguments': { 'id': 'char0' } }"), "GenericError"),
        "Chardev 'char0' is busy");
    qts->qmp_assert_success(
        "{ 'execute': 'chardev-add', 'arguments': { 'id': 'n1', 'backend': { 'type': 'null', 'data': {} } } }");
    qts->qmp_assert_success("{ 'execute': 'chardev-remove', 'arguments': { 'id': 'n1' } }");
    EXPECT_TRUE(query_entry(*qts, "n1").is_null());
}

TEST(ChardevRemove, SecondMonitorChardevIsBusy)
{
    auto qts = QTestState::init(std::string(kCommonArgs) + " -chardev null,id=mon1 -mon chardev=mon1,mode=control");
    expect_chardev_info(query_entry(*qts, "mon1"), "mon1", "null", true);
    EXPECT_EQ(
        qmp_expect_error(qts->qmp("{ 'execute': 'chardev-remove', 'arguments': { 'id': 'mon1' } }"), "GenericError"),
        "Chardev 'mon1' is busy");
}

TEST(ChardevQuery, BackendsIncludeEveryImplementedDriver)
{
    auto qts = QTestState::init(kCommonArgs);
    std::set<std::string> names;
    for (const auto& backend : qts->qmp_assert_success("{ 'execute': 'query-chardev-backends' }")) {
        ASSERT_EQ(backend.size(), 1u) << dump(backend);
        EXPECT_TRUE(names.insert(backend["name"].get<std::string>()).second) << dump(backend);
    }
    for (const char* name : {"null", "socket", "stdio", "file", "pipe", "pty", "ringbuf"}) {
        EXPECT_TRUE(names.contains(name)) << name;
    }
}

class Ringbuf : public ::testing::Test {
protected:
    void SetUp() override
    {
        qts = QTestState::init(std::string(kCommonArgs) + " -chardev null,id=mon1 -mon chardev=mon1,mode=control");
        qts->qmp_assert_success(
            "{ 'execute': 'chardev-add', 'arguments': { 'id': 'r2', 'backend': { 'type': 'ringbuf', 'data': { "
            "'size': 16 } } } }");
    }
    std::unique_ptr<QTestState> qts;
};

TEST_F(Ringbuf, Utf8AndBase64RoundTrip)
{
    qts->qmp_assert_success("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': 'hello' } }");
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': 100 } }"),
        "hello");
    qts->qmp_assert_success(
        "{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': 'aGVsbG8=', 'format': 'base64' } }");
    EXPECT_EQ(qts->qmp_assert_success(
                  "{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': 3, 'format': 'base64' } }"),
        "aGVs");
    EXPECT_EQ(qts->qmp_assert_success(
                  "{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': 100, 'format': 'utf8' } }"),
        "lo");
    // Empty now.
    EXPECT_EQ(
        qts->qmp_assert_success("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': 100 } }"), "");
}

TEST_F(Ringbuf, Errors)
{
    EXPECT_EQ(
        qmp_expect_error(
            qts->qmp("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'nope', 'data': 'x' } }"), "GenericError"),
        "Device 'nope' not found");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'nope', 'size': 1 } }"),
                  "GenericError"),
        "Device 'nope' not found");
    EXPECT_EQ(
        qmp_expect_error(
            qts->qmp("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'mon1', 'data': 'x' } }"), "GenericError"),
        "mon1 is not a ringbuf device");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'mon1', 'size': 1 } }"),
                  "GenericError"),
        "mon1 is not a ringbuf device");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': -1 } }"),
                  "GenericError"),
        "size must be greater than zero");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': '!!!', "
                                        "'format': 'base64' } }"),
                  "GenericError"),
        "Base64 data contains invalid characters");
    // Only the alphabet, '=' and newlines; a space or a NUL makes it invalid, and nothing
    // from a refused write reaches the buffer.
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': 'aGVs "
                                        "bG8=', 'format': 'base64' } }"),
                  "GenericError"),
        "Base64 data contains invalid characters");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': "
                                        "'aGVs\\u0000!!', 'format': 'base64' } }"),
                  "GenericError"),
        "Base64 data contains invalid characters");
    qts->qmp_assert_success(
        "{ 'execute': 'ringbuf-write', 'arguments': { 'device': 'r2', 'data': 'aGVs\\nbG8=', 'format': 'base64' } }");
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'ringbuf-read', 'arguments': { 'device': 'r2', 'size': 100 } }"),
        "hello");
}

}  // namespace
