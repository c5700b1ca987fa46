// The qtest server as a Chardev frontend: Opened arrives from the main loop, input comes in
// arbitrary chunks, each complete line is answered on the same chardev, and the server
// detaches when it goes away.
#include <glib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "char/chardev.h"
#include "system/guest-memory.h"
#include "system/qtest-clock.h"
#include "system/qtest.h"

namespace qemu {
namespace {

// A backend that is always open and records what the frontend writes.
class RecordingChardev : public chr::Chardev {
public:
    using Chardev::Chardev;
    std::string_view driver() const override { return "recording"; }
    std::string filename() const override { return "recording"; }
    bool is_open() const override { return true; }
    Result<size_t> write_all(std::span<const uint8_t> data) override
    {
        written.append(reinterpret_cast<const char*>(data.data()), data.size());
        return data.size();
    }

    void deliver(std::string_view bytes)
    {
        ASSERT_GT(frontend_can_read(), 0u);
        frontend_read(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    }
    void hang_up() { frontend_event(chr::ChardevEvent::Closed); }

    std::string written;
};

void run_main_loop_briefly()
{
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(QtestChardev, AnswersLinesOnTheChardevAndLogsTheConnection)
{
    std::string log_path = ::testing::TempDir() + "qtest-chardev-test.log";
    RecordingChardev chardev("qtest");
    {
        GuestMemory memory = GuestMemory::create(1 << 20).value();
        VirtualClock clock;
        QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = log_path});
        ASSERT_TRUE(server.attach(chardev).has_value());
        EXPECT_TRUE(chardev.has_frontend());
        run_main_loop_briefly();
        EXPECT_NE(read_file(log_path).find("] OPENED\n"), std::string::npos);

        chardev.deliver("writeb 0 0x2a\nread");
        EXPECT_EQ(chardev.written, "OK\n");
        chardev.deliver("b 0\nclock_step 5\n");
        EXPECT_EQ(chardev.written, "OK\nOK 0x000000000000002a\nOK 5\n");

        chardev.hang_up();
        EXPECT_NE(read_file(log_path).find("] CLOSED\n"), std::string::npos);
    }
    // The server detached itself when it was destroyed.
    EXPECT_FALSE(chardev.has_frontend());
    std::remove(log_path.c_str());
}

TEST(QtestChardev, ExplicitDetachFreesTheChardevForAnotherFrontend)
{
    RecordingChardev chardev("qtest");
    GuestMemory memory;
    VirtualClock clock;
    QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"});
    ASSERT_TRUE(server.attach(chardev).has_value());
    server.detach();
    EXPECT_FALSE(chardev.has_frontend());
    QtestServer other(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"});
    ASSERT_TRUE(other.attach(chardev).has_value());
    run_main_loop_briefly();
    chardev.deliver("endianness\n");
    EXPECT_EQ(chardev.written, "OK little\n");
}

TEST(QtestChardev, ABusyChardevIsRefused)
{
    RecordingChardev chardev("qtest");
    GuestMemory memory;
    VirtualClock clock;
    QtestServer first(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"});
    QtestServer second(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"});
    ASSERT_TRUE(first.attach(chardev).has_value());
    EXPECT_FALSE(second.attach(chardev).has_value());
    run_main_loop_briefly();
    chardev.deliver("endianness\n");
    EXPECT_EQ(chardev.written, "OK little\n");
}

}  // namespace
}  // namespace qemu
