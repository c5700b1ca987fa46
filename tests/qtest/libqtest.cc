// libqtest for the C++ port (see libqtest.h): process start and stop, the QMP client and the
// qtest line client.
#include "tests/qtest/libqtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "util/error.h"

namespace qtest {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kAcceptTimeout = 50s;
constexpr auto kQuitTimeout = 30s;
// libqtest itself waits forever for a reply; a bound turns a hung emulator into a failure
// of the test at hand instead of a suite timeout.
constexpr auto kReplyTimeout = 60s;
constexpr size_t kMaxFds = 16;

[[noreturn]] void fail(const std::string& message)
{
    throw QTestError(message);
}

std::string errno_text(const char* what)
{
    return qemu::errno_message(what, errno);
}

bool env_set(const char* name)
{
    const char* value = std::getenv(name);
    return value && *value;
}

// A new unix stream socket and the address of path, for bind or connect.
std::pair<qemu::UniqueFd, sockaddr_un> unix_socket(const std::string& path)
{
    qemu::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        fail(errno_text("socket"));
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        fail("socket path too long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return {std::move(fd), addr};
}

qemu::UniqueFd listen_unix(const std::string& path)
{
    ::unlink(path.c_str());
    auto [fd, addr] = unix_socket(path);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
        fail(errno_text(("bind " + path).c_str()));
    }
    if (::listen(fd.get(), 1) < 0) {
        fail(errno_text("listen"));
    }
    // A structured binding is not moved from implicitly (clang holds to that; GCC 12 lets
    // it pass).
    return std::move(fd);
}

std::string describe_wait_status(int status)
{
    if (WIFEXITED(status)) {
        return "exit status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")" +
            (WCOREDUMP(status) ? " (core dumped)" : "");
    }
    return "wait status " + std::to_string(status);
}

// Polls waitpid until the child exits or timeout passes.
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout)
{
    auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t got = ::waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            return status;
        }
        if (got < 0 && errno != EINTR) {
            return std::nullopt;
        }
        if (Clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(10ms);
    }
}

int poll_ms(std::chrono::milliseconds timeout)
{
    return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

std::string to_hex(std::span<const uint8_t> data)
{
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * data.size());
    for (uint8_t byte : data) {
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
    }
    return out;
}

std::string hexnum(uint64_t value)
{
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%" PRIx64, value);
    return buf;
}

// In a forked child before exec: makes each parent_fd appear as child_fd without
// close-on-exec. Every source is first moved above all targets so that a target never
// overwrites a source still to be placed. Only async-signal-safe calls.
void place_inherited_fds(std::span<const InheritedFd> inherit)
{
    int above = 3;
    for (const InheritedFd& entry : inherit) {
        above = std::max(above, entry.child_fd + 1);
    }
    int moved[kMaxFds];
    size_t count = std::min(inherit.size(), kMaxFds);
    for (size_t i = 0; i < count; i++) {
        moved[i] = ::fcntl(inherit[i].parent_fd, F_DUPFD_CLOEXEC, above);
    }
    for (size_t i = 0; i < count; i++) {
        if (moved[i] < 0 || ::dup2(moved[i], inherit[i].child_fd) < 0) {
            ::_exit(126);
        }
    }
}

}  // namespace

std::string qemu_binary()
{
    const char* binary = std::getenv("QTEST_QEMU_BINARY");
    if (!binary) {
        std::fprintf(stderr, "Environment variable QTEST_QEMU_BINARY required\n");
        std::exit(1);
    }
    return binary;
}

// ---------------------------------------------------------------- QmpConnection

QmpConnection::QmpConnection(qemu::UniqueFd socket, bool echo_to_stderr)
    : m_socket(std::move(socket)), m_echo(echo_to_stderr)
{
    m_streamer = std::make_unique<qemu::JsonStreamer>(
        [this](qemu::Result<JsonValue> message) { m_incoming.push_back(std::move(message)); });
}

QmpConnection::~QmpConnection() = default;

std::unique_ptr<QmpConnection> QmpConnection::connect_unix(const std::string& path)
{
    auto [fd, addr] = unix_socket(path);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
        fail(errno_text(("connect " + path).c_str()));
    }
    return std::make_unique<QmpConnection>(std::move(fd), env_set("QTEST_LOG"));
}

void QmpConnection::send_raw(std::string_view bytes)
{
    if (m_echo) {
        std::fprintf(stderr, "[qmp ->] %.*s", static_cast<int>(bytes.size()), bytes.data());
    }
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::send(m_socket.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(errno_text("QMP send"));
        }
        done += static_cast<size_t>(n);
    }
}

namespace {
std::string request_text(std::string_view request)
{
    auto value = qemu::json_parse(request);
    if (!value) {
        fail("request is not valid JSON (" + value.error().desc + "): " + std::string(request));
    }
    return qemu::json_to_string(*value) + "\n";
}
}  // namespace

void QmpConnection::send(std::string_view request)
{
    send_raw(request_text(request));
}

void QmpConnection::send_with_fds(std::span<const int> fds, std::string_view request)
{
    if (fds.empty() || fds.size() >= kMaxFds) {
        fail("qmp_fds: between 1 and 15 fds can be sent, not " + std::to_string(fds.size()));
    }
    std::string text = request_text(request);
    if (m_echo) {
        std::fprintf(stderr, "[qmp -> +%zu fds] %s", fds.size(), text.c_str());
    }
    iovec iov{text.data(), text.size()};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    do {
        n = ::sendmsg(m_socket.get(), &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        fail(errno_text("QMP sendmsg"));
    }
    // The fds went with the first byte; the rest of a short write goes as plain data.
    if (static_cast<size_t>(n) < text.size()) {
        send_raw(std::string_view(text).substr(static_cast<size_t>(n)));
    }
}

bool QmpConnection::read_more(std::optional<std::chrono::milliseconds> timeout)
{
    if (m_eof) {
        return false;
    }
    pollfd pfd{m_socket.get(), POLLIN, 0};
    int ready;
    do {
        ready = ::poll(&pfd, 1, timeout ? poll_ms(*timeout) : -1);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        return false;
    }
    char buf[4096];
    ssize_t n;
    do {
        n = ::recv(m_socket.get(), buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        m_eof = true;
        m_streamer->flush();
        return true;
    }
    if (m_echo) {
        std::fprintf(stderr, "[qmp <-] %.*s", static_cast<int>(n), buf);
    }
    m_streamer->feed(std::span<const char>(buf, static_cast<size_t>(n)));
    return true;
}

bool QmpConnection::poll_message(std::chrono::milliseconds timeout)
{
    auto deadline = Clock::now() + timeout;
    while (m_incoming.empty() && !m_eof) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0 || !read_more(left)) {
            break;
        }
    }
    return !m_incoming.empty();
}

JsonValue QmpConnection::next_message()
{
    auto deadline = Clock::now() + kReplyTimeout;
    while (m_incoming.empty()) {
        if (m_eof) {
            fail("QMP connection closed by QEMU: Broken pipe");
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0 || !read_more(left)) {
            if (!m_eof) {
                fail("timed out waiting for a QMP message");
            }
        }
    }
    qemu::Result<JsonValue> message = std::move(m_incoming.front());
    m_incoming.pop_front();
    if (!message) {
        fail("QMP JSON response parsing failed: " + message.error().desc);
    }
    if (!message->is_object()) {
        fail("QMP message is not an object: " + qemu::json_to_string(*message));
    }
    return std::move(*message);
}

JsonValue QmpConnection::receive_dict()
{
    return next_message();
}

JsonValue QmpConnection::receive()
{
    for (;;) {
        JsonValue message = next_message();
        if (!message.contains("event")) {
            return message;
        }
        m_events.push_back(std::move(message));
    }
}

JsonValue QmpConnection::command(std::string_view request)
{
    send(request);
    return receive();
}

std::optional<JsonValue> QmpConnection::event_ref(std::string_view name)
{
    for (auto it = m_events.begin(); it != m_events.end(); ++it) {
        if ((*it)["event"] == name) {
            JsonValue event = std::move(*it);
            m_events.erase(it);
            return event;
        }
    }
    return std::nullopt;
}

JsonValue QmpConnection::eventwait(std::string_view name)
{
    if (auto stashed = event_ref(name)) {
        return std::move(*stashed);
    }
    for (;;) {
        JsonValue message = next_message();
        if (message.contains("event") && message["event"] == name) {
            return message;
        }
    }
}

// ---------------------------------------------------------------- QTestState

std::unique_ptr<QTestState> QTestState::init_without_qmp_handshake(
    std::string_view extra_args, std::span<const InheritedFd> inherit)
{
    return start(extra_args, inherit);
}

std::unique_ptr<QTestState> QTestState::init(std::string_view extra_args, std::span<const InheritedFd> inherit)
{
    std::unique_ptr<QTestState> state = start(extra_args, inherit);
    state->m_greeting = state->m_qmp->receive();
    if (!state->m_greeting.contains("QMP")) {
        fail("QMP greeting expected, got: " + qemu::json_to_string(state->m_greeting));
    }
    state->qmp_assert_success("{'execute': 'qmp_capabilities'}");
    return state;
}

std::unique_ptr<QTestState> QTestState::start(std::string_view extra_args, std::span<const InheritedFd> inherit)
{
    if (inherit.size() > kMaxFds) {
        fail("at most 16 fds can be inherited");
    }
    static std::atomic<unsigned> instance_counter{0};
    std::string binary = qemu_binary();
    std::string base = std::string(g_get_tmp_dir()) + "/qtest-" + std::to_string(::getpid()) + "-" +
        std::to_string(instance_counter++);
    std::string qtest_path = base + ".sock";
    std::string qmp_path = base + ".qmp";

    qemu::UniqueFd qtest_listener = listen_unix(qtest_path);
    qemu::UniqueFd qmp_listener = listen_unix(qmp_path);

    bool log = env_set("QTEST_LOG");
    const char* accel = std::getenv("QTEST_ACCEL");
    std::string command = "exec " + binary + " -qtest unix:" + qtest_path + " -qtest-log " +
        (log ? "/dev/fd/2" : "/dev/null") + " -chardev socket,path=" + qmp_path +
        ",id=char0 -mon chardev=char0,mode=control -display none" + (env_set("QTEST_NO_AUDIO") ? "" : " -audio none") +
        " " + std::string(extra_args) + " -accel " + (accel && *accel ? accel : "qtest");
    if (log) {
        std::fprintf(stderr, "starting QEMU: %s\n", command.c_str());
    }

    std::unique_ptr<QTestState> state(new QTestState());
    state->m_echo = log;
    pid_t pid = ::fork();
    if (pid < 0) {
        fail(errno_text("fork"));
    }
    if (pid == 0) {
        // The emulator must not outlive a test process that crashed.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        place_inherited_fds(inherit);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    state->m_pid = pid;
    if (env_set("QTEST_STOP")) {
        ::kill(pid, SIGSTOP);
    }

    // Accept the qtest connection, then QMP, noticing early if the emulator died.
    auto accept_one = [&](qemu::UniqueFd& listener, const std::string& path) {
        auto deadline = Clock::now() + kAcceptTimeout;
        for (;;) {
            pollfd pfd{listener.get(), POLLIN, 0};
            int ready = ::poll(&pfd, 1, 100);
            if (ready > 0) {
                qemu::UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (fd) {
                    ::unlink(path.c_str());
                    return fd;
                }
            }
            if (!state->m_wait_status) {
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    state->m_wait_status = status;
                }
            }
            if (state->m_wait_status || Clock::now() >= deadline) {
                ::unlink(qtest_path.c_str());
                ::unlink(qmp_path.c_str());
                std::string why = state->m_wait_status
                    ? "QEMU ended with " + describe_wait_status(*state->m_wait_status)
                    : std::string("Connection timed out");
                state->set_expected_status(
                    state->m_wait_status && WIFEXITED(*state->m_wait_status) ? WEXITSTATUS(*state->m_wait_status) : 0);
                fail("socket_accept failed: " + why);
            }
        }
    };
    state->m_qtest = accept_one(qtest_listener, qtest_path);
    state->m_qmp = std::make_unique<QmpConnection>(accept_one(qmp_listener, qmp_path), log);
    state->big_endian();
    return state;
}

QTestState::~QTestState()
{
    quit();
}

void QTestState::check_exit_status(int wait_status)
{
    if (WIFSIGNALED(wait_status)) {
        ADD_FAILURE() << "kill_qemu() detected QEMU death from " << describe_wait_status(wait_status);
    } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != m_expected_status) {
        ADD_FAILURE() << "kill_qemu() tried to terminate QEMU process but encountered exit status "
                      << WEXITSTATUS(wait_status) << " (expected " << m_expected_status << ")";
    }
}

std::optional<int> QTestState::wait_for_exit(std::chrono::milliseconds timeout)
{
    if (!m_wait_status && m_pid > 0) {
        m_wait_status = wait_child(m_pid, timeout);
    }
    return m_wait_status;
}

void QTestState::quit()
{
    if (m_pid <= 0) {
        return;
    }
    if (!m_wait_status) {
        ::kill(m_pid, SIGTERM);
        if (env_set("QTEST_STOP")) {
            ::kill(m_pid, SIGCONT);
        }
        m_wait_status = wait_child(m_pid, kQuitTimeout);
        if (!m_wait_status) {
            ::kill(m_pid, SIGKILL);
            int status = 0;
            while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) { }
            m_wait_status = status;
        }
    }
    check_exit_status(*m_wait_status);
    m_pid = -1;
    m_qtest.reset();
    if (m_qmp) {
        m_qmp->close();
    }
}

std::vector<int> QTestState::open_fds() const
{
    return process_open_fds(m_pid);
}

std::string QTestState::fd_target(int fd) const
{
    std::string link = "/proc/" + std::to_string(m_pid) + "/fd/" + std::to_string(fd);
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf));
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::multiset<std::string> QTestState::open_fd_targets() const
{
    std::multiset<std::string> targets;
    for (int fd : open_fds()) {
        if (std::string target = fd_target(fd); !target.empty()) {
            targets.insert(std::move(target));
        }
    }
    return targets;
}

size_t QTestState::count_memfds(std::string_view name) const
{
    return open_fd_targets().count("/memfd:" + std::string(name) + " (deleted)");
}

bool QTestState::wait_open_fd_count(size_t expected, std::chrono::milliseconds timeout) const
{
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (open_fds().size() == expected) {
            return true;
        }
        if (Clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(20ms);
    }
}

JsonValue QTestState::qmp_fds(std::span<const int> fds, std::string_view request)
{
    m_qmp->send_with_fds(fds, request);
    return m_qmp->receive();
}

JsonValue QTestState::qmp_assert_success(std::string_view request)
{
    JsonValue reply = qmp(request);
    if (!reply.contains("return")) {
        fail("QMP command failed: " + std::string(request) + " -> " + qemu::json_to_string(reply));
    }
    return reply["return"];
}

std::string QTestState::hmp(std::string_view command_line)
{
    JsonValue request = {
        {"execute", "human-monitor-command"}, {"arguments", {{"command-line", std::string(command_line)}}}};
    JsonValue reply = qmp(qemu::json_to_string(request));
    if (!reply.contains("return") || !reply["return"].is_string()) {
        fail("human-monitor-command failed: " + qemu::json_to_string(reply));
    }
    return reply["return"].get<std::string>();
}

// ---- qtest ----

std::string QTestState::qtest_read_line()
{
    auto deadline = Clock::now() + kReplyTimeout;
    for (;;) {
        size_t newline = m_qtest_buffer.find('\n');
        if (newline != std::string::npos) {
            std::string line = m_qtest_buffer.substr(0, newline);
            m_qtest_buffer.erase(0, newline + 1);
            return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd pfd{m_qtest.get(), POLLIN, 0};
        int ready = left.count() > 0 ? ::poll(&pfd, 1, poll_ms(left)) : 0;
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            fail("timed out waiting for a qtest reply");
        }
        char buf[4096];
        ssize_t n = ::recv(m_qtest.get(), buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fail("qtest connection closed by QEMU: Broken pipe");
        }
        m_qtest_buffer.append(buf, static_cast<size_t>(n));
    }
}

std::string QTestState::qtest_command(std::string_view line)
{
    if (!m_qtest) {
        fail("qtest connection is closed");
    }
    std::string text = std::string(line) + "\n";
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::send(m_qtest.get(), text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(errno_text("qtest send"));
        }
        done += static_cast<size_t>(n);
    }
    for (;;) {
        std::string reply = qtest_read_line();
        // Interrupt notifications may come before any reply.
        if (reply.rfind("IRQ ", 0) == 0) {
            bool raise = reply.rfind("IRQ raise ", 0) == 0;
            // "IRQ raise " and "IRQ lower " have the same length.
            int num = std::atoi(reply.c_str() + 10);
            if (num >= 0 && static_cast<size_t>(num) < m_irq_level.size()) {
                m_irq_level[static_cast<size_t>(num)] = raise;
            }
            continue;
        }
        return reply;
    }
}

std::string QTestState::qtest_ok(std::string_view line)
{
    std::string reply = qtest_command(line);
    if (reply == "OK") {
        return {};
    }
    if (reply.rfind("OK ", 0) != 0) {
        fail("qtest: '" + std::string(line) + "' was answered '" + reply + "'");
    }
    return reply.substr(3);
}

uint64_t QTestState::qtest_ok_number(std::string_view line)
{
    std::string text = qtest_ok(line);
    char* end = nullptr;
    errno = 0;
    uint64_t value = std::strtoull(text.c_str(), &end, 0);
    if (text.empty() || errno || *end) {
        fail("qtest: '" + std::string(line) + "' answered with no number: '" + text + "'");
    }
    return value;
}

bool QTestState::big_endian()
{
    if (!m_big_endian) {
        std::string reply = qtest_ok("endianness");
        if (reply != "big" && reply != "little") {
            fail("qtest: unexpected endianness '" + reply + "'");
        }
        m_big_endian = reply == "big";
    }
    return *m_big_endian;
}

void QTestState::outb(uint16_t port, uint8_t value)
{
    qtest_ok("outb " + hexnum(port) + " " + hexnum(value));
}
void QTestState::outw(uint16_t port, uint16_t value)
{
    qtest_ok("outw " + hexnum(port) + " " + hexnum(value));
}
void QTestState::outl(uint16_t port, uint32_t value)
{
    qtest_ok("outl " + hexnum(port) + " " + hexnum(value));
}
uint8_t QTestState::inb(uint16_t port)
{
    return static_cast<uint8_t>(qtest_ok_number("inb " + hexnum(port)));
}
uint16_t QTestState::inw(uint16_t port)
{
    return static_cast<uint16_t>(qtest_ok_number("inw " + hexnum(port)));
}
uint32_t QTestState::inl(uint16_t port)
{
    return static_cast<uint32_t>(qtest_ok_number("inl " + hexnum(port)));
}

void QTestState::writeb(uint64_t addr, uint8_t value)
{
    qtest_ok("writeb " + hexnum(addr) + " " + hexnum(value));
}
void QTestState::writew(uint64_t addr, uint16_t value)
{
    qtest_ok("writew " + hexnum(addr) + " " + hexnum(value));
}
void QTestState::writel(uint64_t addr, uint32_t value)
{
    qtest_ok("writel " + hexnum(addr) + " " + hexnum(value));
}
void QTestState::writeq(uint64_t addr, uint64_t value)
{
    qtest_ok("writeq " + hexnum(addr) + " " + hexnum(value));
}
uint8_t QTestState::readb(uint64_t addr)
{
    return static_cast<uint8_t>(qtest_ok_number("readb " + hexnum(addr)));
}
uint16_t QTestState::readw(uint64_t addr)
{
    return static_cast<uint16_t>(qtest_ok_number("readw " + hexnum(addr)));
}
uint32_t QTestState::readl(uint64_t addr)
{
    return static_cast<uint32_t>(qtest_ok_number("readl " + hexnum(addr)));
}
uint64_t QTestState::readq(uint64_t addr)
{
    return qtest_ok_number("readq " + hexnum(addr));
}

void QTestState::memread(uint64_t addr, std::span<uint8_t> out)
{
    if (out.empty()) {
        return;
    }
    std::string line = "read " + hexnum(addr) + " " + hexnum(out.size());
    std::string hex = qtest_ok(line);
    if (hex.size() != 2 + 2 * out.size() || hex.rfind("0x", 0) != 0) {
        fail("qtest: '" + line + "' answered '" + hex + "'");
    }
    for (size_t i = 0; i < out.size(); i++) {
        out[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 + 2 * i, 2), nullptr, 16));
    }
}

void QTestState::memwrite(uint64_t addr, std::span<const uint8_t> data)
{
    if (data.empty()) {
        return;
    }
    qtest_ok("write " + hexnum(addr) + " " + hexnum(data.size()) + " 0x" + to_hex(data));
}

void QTestState::bufread(uint64_t addr, std::span<uint8_t> out)
{
    if (out.empty()) {
        return;
    }
    std::string line = "b64read " + hexnum(addr) + " " + hexnum(out.size());
    std::string encoded = qtest_ok(line);
    gsize len = 0;
    guchar* decoded = g_base64_decode(encoded.c_str(), &len);
    bool size_ok = len == out.size();
    if (size_ok) {
        std::memcpy(out.data(), decoded, len);
    }
    g_free(decoded);
    if (!size_ok) {
        fail("qtest: '" + line + "' returned " + std::to_string(len) + " bytes");
    }
}

void QTestState::bufwrite(uint64_t addr, std::span<const uint8_t> data)
{
    if (data.empty()) {
        return;
    }
    char* encoded = g_base64_encode(data.data(), data.size());
    std::string line = "b64write " + hexnum(addr) + " " + hexnum(data.size()) + " " + encoded;
    g_free(encoded);
    qtest_ok(line);
}

void QTestState::memset(uint64_t addr, uint8_t value, uint64_t size)
{
    qtest_ok("memset " + hexnum(addr) + " " + hexnum(size) + " " + hexnum(value));
}

int64_t QTestState::clock_step_next()
{
    return static_cast<int64_t>(qtest_ok_number("clock_step"));
}

int64_t QTestState::clock_step(int64_t ns)
{
    return static_cast<int64_t>(qtest_ok_number("clock_step " + std::to_string(ns)));
}

int64_t QTestState::clock_set(int64_t ns)
{
    return static_cast<int64_t>(qtest_ok_number("clock_set " + std::to_string(ns)));
}

bool QTestState::get_irq(int num)
{
    // A round trip makes sure every IRQ line QEMU sent before now has been read.
    qtest_command("inb 0");
    return num >= 0 && static_cast<size_t>(num) < m_irq_level.size() && m_irq_level[static_cast<size_t>(num)];
}

// ---------------------------------------------------------------- helpers

qemu::UniqueFd make_memfd(std::string_view name)
{
    qemu::UniqueFd fd(::memfd_create(std::string(name).c_str(), MFD_CLOEXEC));
    if (!fd) {
        fail(errno_text("memfd_create"));
    }
    return fd;
}

std::vector<int> process_open_fds(pid_t pid)
{
    std::vector<int> fds;
    std::string dir_path = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(dir_path.c_str());
    if (!dir) {
        return fds;
    }
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') {
            fds.push_back(std::atoi(entry->d_name));
        }
    }
    ::closedir(dir);
    std::sort(fds.begin(), fds.end());
    return fds;
}

ProcessResult run_emulator(
    const std::vector<std::string>& args, std::chrono::milliseconds timeout, std::span<const InheritedFd> inherit)
{
    if (inherit.size() > kMaxFds) {
        fail("at most 16 fds can be inherited");
    }
    std::string binary = qemu_binary();
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) < 0 || ::pipe2(err_pipe, O_CLOEXEC) < 0) {
        fail(errno_text("pipe"));
    }
    qemu::UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
    qemu::UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

    std::vector<char*> argv;
    argv.push_back(binary.data());
    std::vector<std::string> copies(args);
    for (std::string& arg : copies) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
        fail(errno_text("fork"));
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::dup2(null_fd, 0);
        ::dup2(out_write.get(), 1);
        ::dup2(err_write.get(), 2);
        place_inherited_fds(inherit);
        ::execv(binary.c_str(), argv.data());
        ::_exit(127);
    }
    out_write.reset();
    err_write.reset();

    ProcessResult result;
    auto deadline = Clock::now() + timeout;
    std::string* sinks[2] = {&result.out, &result.err};
    qemu::UniqueFd* sources[2] = {&out_read, &err_read};
    while (out_read || err_read) {
        pollfd pfds[2];
        nfds_t count = 0;
        int which[2];
        for (int i = 0; i < 2; i++) {
            if (*sources[i]) {
                pfds[count] = {sources[i]->get(), POLLIN, 0};
                which[count++] = i;
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        int ready = ::poll(pfds, count, poll_ms(left));
        if (ready < 0 && errno != EINTR) {
            break;
        }
        for (nfds_t i = 0; i < count && ready > 0; i++) {
            if (!pfds[i].revents) {
                continue;
            }
            char buf[4096];
            ssize_t n = ::read(pfds[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                sources[which[i]]->reset();
            } else {
                sinks[which[i]]->append(buf, static_cast<size_t>(n));
            }
        }
    }
    // Output closed: the process is exiting (or was killed above).
    std::optional<int> status = wait_child(pid, 5000ms);
    if (!status) {
        result.timed_out = true;
        ::kill(pid, SIGKILL);
        int raw = 0;
        ::waitpid(pid, &raw, 0);
        status = raw;
    }
    result.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -WTERMSIG(*status);
    return result;
}

bool qmp_rsp_is_err(const JsonValue& reply)
{
    return reply.is_object() && reply.contains("error");
}

std::string qmp_expect_error(const JsonValue& reply, std::string_view cls)
{
    EXPECT_TRUE(reply.is_object() && reply.contains("error")) << qemu::json_to_string(reply);
    EXPECT_FALSE(reply.contains("return")) << qemu::json_to_string(reply);
    if (!reply.contains("error") || !reply["error"].is_object()) {
        return {};
    }
    const JsonValue& error = reply["error"];
    EXPECT_EQ(error.value("class", std::string()), cls) << qemu::json_to_string(reply);
    EXPECT_TRUE(error.contains("desc") && error["desc"].is_string()) << qemu::json_to_string(reply);
    return error.contains("desc") && error["desc"].is_string() ? error["desc"].get<std::string>() : std::string();
}

}  // namespace qtest
