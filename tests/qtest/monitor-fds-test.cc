// Fds received on a QMP socket (SCM_RIGHTS) that no command takes. As in QEMU 7.2 (checked
// against /usr/bin/qemu-system-x86_64 with QTEST_ACCEL=tcg QTEST_NO_AUDIO=1):
//  - an fd sent with a command that takes none stays pending in the chardev, and a later
//    getfd sent without an fd takes it;
//  - a newer batch closes and replaces the older pending one;
//  - pending fds are closed when the client disconnects.
// Each case checks, through /proc/PID/fd, that the emulator ends with its baseline fds.
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QmpConnection;
using qtest::QTestState;

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

// A memfd whose /proc link names it, so the test can see which one the emulator holds.
qemu::UniqueFd named_memfd(const std::string& name)
{
    int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    return qemu::UniqueFd(fd);
}

// The /proc/PID/fd link targets of the emulator's fds.
std::multiset<std::string> fd_targets(const QTestState& qts)
{
    std::multiset<std::string> targets;
    for (int fd : qts.open_fds()) {
        std::string link = "/proc/" + std::to_string(qts.pid()) + "/fd/" + std::to_string(fd);
        char buf[4096];
        ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
        if (n > 0) {
            targets.insert(std::string(buf, static_cast<size_t>(n)));
        }
    }
    return targets;
}

size_t count_memfds(const QTestState& qts, const std::string& name)
{
    return fd_targets(qts).count("/memfd:" + name + " (deleted)");
}

// The fd count changes asynchronously after a disconnect; wait for it.
bool wait_fd_count(const QTestState& qts, size_t expected)
{
    for (int i = 0; i < 250; ++i) {
        if (qts.open_fds().size() == expected) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

constexpr const char* kArgs = "-nodefaults -machine none";

TEST(MonitorFds, FdWithACommandThatTakesNoneStaysPendingForGetfd)
{
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    {
        qemu::UniqueFd a = named_memfd("pending-a");
        int raw = a.get();
        JsonValue reply = qts->qmp_fds(std::span<const int>(&raw, 1), "{ 'execute': 'query-status' }");
        EXPECT_TRUE(reply.contains("return")) << dump(reply);
    }
    EXPECT_EQ(count_memfds(*qts, "pending-a"), 1u);
    EXPECT_EQ(qts->open_fds().size(), baseline + 1);

    // getfd without an fd of its own takes the pending one.
    qts->qmp_assert_success("{ 'execute': 'getfd', 'arguments': { 'fdname': 'late' } }");
    EXPECT_EQ(count_memfds(*qts, "pending-a"), 1u);
    qts->qmp_assert_success("{ 'execute': 'closefd', 'arguments': { 'fdname': 'late' } }");
    EXPECT_EQ(count_memfds(*qts, "pending-a"), 0u);
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(MonitorFds, NewerBatchClosesTheOlderPendingOne)
{
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    for (const char* name : {"batch-a", "batch-b"}) {
        qemu::UniqueFd fd = named_memfd(name);
        int raw = fd.get();
        EXPECT_TRUE(qts->qmp_fds(std::span<const int>(&raw, 1), "{ 'execute': 'query-name' }").contains("return"));
    }
    EXPECT_EQ(count_memfds(*qts, "batch-a"), 0u);
    EXPECT_EQ(count_memfds(*qts, "batch-b"), 1u);
    EXPECT_EQ(qts->open_fds().size(), baseline + 1);

    qts->qmp_assert_success("{ 'execute': 'getfd', 'arguments': { 'fdname': 'b' } }");
    qts->qmp_assert_success("{ 'execute': 'closefd', 'arguments': { 'fdname': 'b' } }");
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(MonitorFds, PendingFdsAreClosedOnDisconnect)
{
    std::string path = std::string(g_get_tmp_dir()) + "/monitor-fds-test-" + std::to_string(getpid()) + ".sock";
    auto qts = QTestState::init(std::string(kArgs) + " -qmp unix:" + path + ",server=on,wait=off");
    size_t baseline = qts->open_fds().size();
    {
        auto mon = QmpConnection::connect_unix(path);
        EXPECT_TRUE(mon->receive().contains("QMP"));
        EXPECT_TRUE(mon->command("{ 'execute': 'qmp_capabilities' }").contains("return"));
        qemu::UniqueFd a = named_memfd("disc-a");
        qemu::UniqueFd b = named_memfd("disc-b");
        int raw[2] = {a.get(), b.get()};
        mon->send_with_fds(raw, "{ 'execute': 'query-status' }");
        EXPECT_TRUE(mon->receive().contains("return"));
        EXPECT_EQ(count_memfds(*qts, "disc-a"), 1u);
        EXPECT_EQ(count_memfds(*qts, "disc-b"), 1u);
        // Plus the accepted connection itself.
        EXPECT_EQ(qts->open_fds().size(), baseline + 3);
    }
    EXPECT_TRUE(wait_fd_count(*qts, baseline)) << qts->open_fds().size() << " != " << baseline;
    EXPECT_EQ(count_memfds(*qts, "disc-a"), 0u);
    EXPECT_EQ(count_memfds(*qts, "disc-b"), 0u);
    // The monitor still works for the next client.
    auto again = QmpConnection::connect_unix(path);
    EXPECT_TRUE(again->receive().contains("QMP"));
    again.reset();
    EXPECT_TRUE(wait_fd_count(*qts, baseline));
    unlink(path.c_str());
}

}  // namespace
