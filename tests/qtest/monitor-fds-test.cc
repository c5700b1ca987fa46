// Fds received on a QMP socket (SCM_RIGHTS) that no command takes. As in QEMU 7.2 (checked
// against /usr/bin/qemu-system-x86_64 with QTEST_ACCEL=tcg QTEST_NO_AUDIO=1):
//  - an fd sent with a command that takes none stays pending in the chardev, and a later
//    getfd sent without an fd takes it;
//  - a newer batch closes and replaces the older pending one;
//  - pending fds are closed when the client disconnects.
// Each case checks, through /proc/PID/fd, that the emulator ends with its baseline fds.
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QmpConnection;
using qtest::QTestState;

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

constexpr const char* kArgs = "-nodefaults -machine none";

TEST(MonitorFds, FdWithACommandThatTakesNoneStaysPendingForGetfd)
{
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    {
        qemu::UniqueFd a = qtest::make_memfd("pending-a");
        int raw = a.get();
        JsonValue reply = qts->qmp_fds(std::span<const int>(&raw, 1), "{ 'execute': 'query-status' }");
        EXPECT_TRUE(reply.contains("return")) << dump(reply);
    }
    EXPECT_EQ(qts->count_memfds("pending-a"), 1u);
    EXPECT_EQ(qts->open_fds().size(), baseline + 1);

    // getfd without an fd of its own takes the pending one.
    qts->qmp_assert_success("{ 'execute': 'getfd', 'arguments': { 'fdname': 'late' } }");
    EXPECT_EQ(qts->count_memfds("pending-a"), 1u);
    qts->qmp_assert_success("{ 'execute': 'closefd', 'arguments': { 'fdname': 'late' } }");
    EXPECT_EQ(qts->count_memfds("pending-a"), 0u);
    EXPECT_EQ(qts->open_fds().size(), baseline);
}

TEST(MonitorFds, NewerBatchClosesTheOlderPendingOne)
{
    auto qts = QTestState::init(kArgs);
    size_t baseline = qts->open_fds().size();
    for (const char* name : {"batch-a", "batch-b"}) {
        qemu::UniqueFd fd = qtest::make_memfd(name);
        int raw = fd.get();
        EXPECT_TRUE(qts->qmp_fds(std::span<const int>(&raw, 1), "{ 'execute': 'query-name' }").contains("return"));
    }
    EXPECT_EQ(qts->count_memfds("batch-a"), 0u);
    EXPECT_EQ(qts->count_memfds("batch-b"), 1u);
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
        qemu::UniqueFd a = qtest::make_memfd("disc-a");
        qemu::UniqueFd b = qtest::make_memfd("disc-b");
        int raw[2] = {a.get(), b.get()};
        mon->send_with_fds(raw, "{ 'execute': 'query-status' }");
        EXPECT_TRUE(mon->receive().contains("return"));
        EXPECT_EQ(qts->count_memfds("disc-a"), 1u);
        EXPECT_EQ(qts->count_memfds("disc-b"), 1u);
        // Plus the accepted connection itself.
        EXPECT_EQ(qts->open_fds().size(), baseline + 3);
    }
    EXPECT_TRUE(qts->wait_open_fd_count(baseline)) << qts->open_fds().size() << " != " << baseline;
    EXPECT_EQ(qts->count_memfds("disc-a"), 0u);
    EXPECT_EQ(qts->count_memfds("disc-b"), 0u);
    // The monitor still works for the next client.
    auto again = QmpConnection::connect_unix(path);
    EXPECT_TRUE(again->receive().contains("QMP"));
    again.reset();
    EXPECT_TRUE(qts->wait_open_fd_count(baseline));
    unlink(path.c_str());
}

}  // namespace
