// libqtest for the C++ port: starts the emulator named by $QTEST_QEMU_BINARY the way QEMU's
// libqtest does (qtest and QMP sockets on which the test listens, -accel qtest), and gives
// GoogleTest tests a QMP client and wrappers for every qtest verb.
//
// Protocol failures (the emulator died, a reply was not "OK", a server message was not
// JSON) throw QTestError; GoogleTest reports the exception as a failure of the running test.
// An exit status that differs from the expected one is reported with ADD_FAILURE when the
// emulator is stopped.
//
// Environment: QTEST_QEMU_BINARY (required), QTEST_LOG (echo QMP traffic and the qtest log
// to stderr), QTEST_STOP (SIGSTOP the emulator right after it starts). Two knobs exist so
// that the suite can be run against a distribution QEMU built without the qtest
// accelerator: QTEST_ACCEL (default "qtest") and QTEST_NO_AUDIO=1 (leave out "-audio none",
// which QEMU 7.2 rejects).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "qobject/json.h"
#include "util/unique_fd.h"

namespace qtest {

using qemu::JsonValue;

class QTestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One QMP connection: frames the byte stream into JSON messages and keeps the events that
// arrive while a reply is awaited. QTestState owns one; tests open more for extra monitors.
class QmpConnection {
public:
    explicit QmpConnection(qemu::UniqueFd socket, bool echo_to_stderr = false);
    ~QmpConnection();
    QmpConnection(const QmpConnection&) = delete;
    QmpConnection& operator=(const QmpConnection&) = delete;

    // Connects to a unix socket (e.g. a -qmp unix:PATH,server=on,wait=off monitor).
    static std::unique_ptr<QmpConnection> connect_unix(const std::string& path);

    // Parses request (QEMU's dialect: single quotes allowed), sends it with "\n", and
    // returns the next message that is not an event; events on the way are stashed.
    JsonValue command(std::string_view request);
    void send(std::string_view request);
    void send_raw(std::string_view bytes);
    // send, with fds attached to the same sendmsg as SCM_RIGHTS (at most 15 fds).
    void send_with_fds(std::span<const int> fds, std::string_view request);
    // The next non-event message; events are stashed.
    JsonValue receive();
    // The next message, event or not.
    JsonValue receive_dict();
    // Whether a message arrives within timeout (without taking it).
    bool poll_message(std::chrono::milliseconds timeout);

    // Returns the first stashed event called name (removing it), else reads and discards
    // messages until it arrives.
    JsonValue eventwait(std::string_view name);
    // Returns and removes a stashed event called name, if any; reads nothing.
    std::optional<JsonValue> event_ref(std::string_view name);

    // True once the server closed the connection.
    bool at_eof() const { return m_eof; }
    int fd() const { return m_socket.get(); }
    void close() { m_socket.reset(); }

private:
    JsonValue next_message();
    bool read_more(std::optional<std::chrono::milliseconds> timeout);

    qemu::UniqueFd m_socket;
    bool m_echo = false;
    bool m_eof = false;
    std::unique_ptr<qemu::JsonStreamer> m_streamer;
    std::deque<qemu::Result<JsonValue>> m_incoming;
    std::deque<JsonValue> m_events;
};

// An fd the emulator inherits, as a management layer passes fds for -add-fd: the test's fd
// parent_fd is open in the emulator as number child_fd, without close-on-exec.
struct InheritedFd {
    int parent_fd;
    int child_fd;
};

class QTestState {
public:
    // Starts the emulator with extra_args (shell words, as in QEMU's qtest_init), reads the
    // QMP greeting and negotiates capabilities.
    static std::unique_ptr<QTestState> init(std::string_view extra_args, std::span<const InheritedFd> inherit = {});
    // The same without reading the greeting or negotiating.
    static std::unique_ptr<QTestState> init_without_qmp_handshake(
        std::string_view extra_args, std::span<const InheritedFd> inherit = {});

    // Stops the emulator as quit() does.
    ~QTestState();
    QTestState(const QTestState&) = delete;
    QTestState& operator=(const QTestState&) = delete;

    pid_t pid() const { return m_pid; }
    QmpConnection& qmp_connection() { return *m_qmp; }
    // The greeting that init() read (null for init_without_qmp_handshake).
    const JsonValue& greeting() const { return m_greeting; }

    // ---- QMP ----
    JsonValue qmp(std::string_view request) { return m_qmp->command(request); }
    void qmp_send(std::string_view request) { m_qmp->send(request); }
    void qmp_send_raw(std::string_view bytes) { m_qmp->send_raw(bytes); }
    JsonValue qmp_receive() { return m_qmp->receive(); }
    JsonValue qmp_receive_dict() { return m_qmp->receive_dict(); }
    JsonValue qmp_fds(std::span<const int> fds, std::string_view request);
    JsonValue qmp_eventwait(std::string_view name) { return m_qmp->eventwait(name); }
    std::optional<JsonValue> qmp_event_ref(std::string_view name) { return m_qmp->event_ref(name); }
    // Runs request and returns its "return" member; throws if the reply is an error.
    JsonValue qmp_assert_success(std::string_view request);
    // human-monitor-command; returns the output text.
    std::string hmp(std::string_view command_line);

    // ---- qtest ----
    // Sends one line and returns the reply line (IRQ notifications are consumed on the way).
    std::string qtest_command(std::string_view line);
    bool big_endian();
    void outb(uint16_t port, uint8_t value);
    void outw(uint16_t port, uint16_t value);
    void outl(uint16_t port, uint32_t value);
    uint8_t inb(uint16_t port);
    uint16_t inw(uint16_t port);
    uint32_t inl(uint16_t port);
    void writeb(uint64_t addr, uint8_t value);
    void writew(uint64_t addr, uint16_t value);
    void writel(uint64_t addr, uint32_t value);
    void writeq(uint64_t addr, uint64_t value);
    uint8_t readb(uint64_t addr);
    uint16_t readw(uint64_t addr);
    uint32_t readl(uint64_t addr);
    uint64_t readq(uint64_t addr);
    // Hex transfer ("read"/"write").
    void memread(uint64_t addr, std::span<uint8_t> out);
    void memwrite(uint64_t addr, std::span<const uint8_t> data);
    // Base64 transfer ("b64read"/"b64write").
    void bufread(uint64_t addr, std::span<uint8_t> out);
    void bufwrite(uint64_t addr, std::span<const uint8_t> data);
    void memset(uint64_t addr, uint8_t value, uint64_t size);
    // Each returns the virtual clock after the move.
    int64_t clock_step_next();
    int64_t clock_step(int64_t ns);
    int64_t clock_set(int64_t ns);
    // Whether an intercepted IRQ line was last reported raised.
    bool get_irq(int num);

    // ---- teardown ----
    // The exit status quit() expects (default 0).
    void set_expected_status(int status) { m_expected_status = status; }
    // SIGTERM, wait up to 30 s (then SIGKILL), and check the exit status. Idempotent.
    void quit();
    // Waits for the emulator to exit by itself; returns the waitpid status, or nullopt
    // if it is still running after timeout.
    std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

    // The fds open in the emulator now (from /proc/PID/fd).
    std::vector<int> open_fds() const;
    // What fd points to in the emulator (its /proc/PID/fd link), or "" if it is not open.
    std::string fd_target(int fd) const;
    // The link targets of all of the emulator's fds.
    std::multiset<std::string> open_fd_targets() const;
    // How many of the emulator's fds are the memfd called name.
    size_t count_memfds(std::string_view name) const;
    // Fds close asynchronously after a disconnect: waits until the emulator has expected
    // fds open; false if it still has not after timeout.
    bool wait_open_fd_count(size_t expected, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

private:
    QTestState() = default;
    static std::unique_ptr<QTestState> start(std::string_view extra_args, std::span<const InheritedFd> inherit);
    std::string qtest_read_line();
    std::string qtest_ok(std::string_view line);
    uint64_t qtest_ok_number(std::string_view line);
    void check_exit_status(int wait_status);

    pid_t m_pid = -1;
    std::optional<int> m_wait_status;
    int m_expected_status = 0;
    qemu::UniqueFd m_qtest;
    std::string m_qtest_buffer;
    std::unique_ptr<QmpConnection> m_qmp;
    JsonValue m_greeting;
    std::vector<bool> m_irq_level = std::vector<bool>(256);
    bool m_echo = false;
    std::optional<bool> m_big_endian;
};

// A close-on-exec memfd called name: the emulator's /proc/PID/fd names it
// "/memfd:NAME (deleted)", so a test can see which fd the emulator holds.
qemu::UniqueFd make_memfd(std::string_view name);

// The fds a process has open, from /proc/PID/fd.
std::vector<int> process_open_fds(pid_t pid);

// Runs $QTEST_QEMU_BINARY with exactly args (no qtest or QMP wiring), for option-error
// tests: the output and how it ended.
struct ProcessResult {
    // The exit code, or -signal if a signal (including the timeout's SIGKILL) ended it.
    int exit_code = 0;
    bool timed_out = false;
    std::string out;
    std::string err;
};
ProcessResult run_emulator(const std::vector<std::string>& args,
    std::chrono::milliseconds timeout = std::chrono::seconds(30), std::span<const InheritedFd> inherit = {});

// The binary named by $QTEST_QEMU_BINARY; prints QEMU's message and exits 1 if unset.
std::string qemu_binary();

// Reply helpers in the style of QEMU's qmp_rsp_is_err / qmp_expect_error_and_unref.
bool qmp_rsp_is_err(const JsonValue& reply);
// Checks reply is an error of class cls (with desc and no return) and returns its desc.
std::string qmp_expect_error(const JsonValue& reply, std::string_view cls);

}  // namespace qtest
