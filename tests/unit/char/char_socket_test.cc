// The socket backend, unix and TCP: server and client, wait=on, fd passing with its
// pending/replace/close rules, one client at a time, reconnect, and fd=.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "char/registry.h"
#include "char/socket.h"
#include "char_test_util.h"

using namespace std::chrono_literals;

namespace qemu::chr {
namespace {

using test::count_open_fds;
using test::RecordingFrontend;
using test::run_for;
using test::run_until;

struct Captured {
    std::vector<std::string> info, error;
    ChardevReporter reporter()
    {
        return ChardevReporter{
            [this](std::string_view m) { info.emplace_back(m); },
            [this](std::string_view m) { error.emplace_back(m); },
            [](std::string_view) {},
        };
    }
};

UniqueFd connect_unix(const std::string& path)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
        return UniqueFd();
    }
    return fd;
}

UniqueFd connect_tcp(uint16_t port)
{
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0) {
        return UniqueFd();
    }
    return fd;
}

UniqueFd listen_unix(const std::string& path)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0 || ::listen(fd.get(), 4) < 0) {
        return UniqueFd();
    }
    return fd;
}

// Sends text with fds attached (SCM_RIGHTS), as a QMP client's send_fd_scm does.
void send_with_fds(int sock, std::string_view text, const std::vector<int>& fds)
{
    iovec iov{const_cast<char*>(text.data()), text.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    if (!fds.empty()) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

std::string recv_some(int fd, size_t want)
{
    std::string out;
    while (out.size() < want) {
        char buf[256];
        ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - out.size()), 0);
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

ChardevOptions socket_opts(std::string id, SocketOptions sock)
{
    ChardevOptions options;
    options.id = std::move(id);
    options.backend = std::move(sock);
    return options;
}

SocketOptions unix_server(const std::string& path, bool wait = false)
{
    SocketOptions sock;
    sock.path = path;
    sock.server = true;
    sock.wait = wait;
    return sock;
}

SocketOptions tcp_server()
{
    SocketOptions sock;
    sock.host = "127.0.0.1";
    sock.port = "0";
    sock.server = true;
    sock.wait = false;
    return sock;
}

class CharSocket : public ::testing::Test {
protected:
    test::TempDir m_dir;
    std::string m_path = m_dir.path("sock");
    Captured m_out;
    ChardevRegistry m_reg{m_out.reporter()};
};

// The server mainloop case for either address family: connect, talk both ways, hang up.
void exercise_server(Chardev* chr, const std::function<UniqueFd()>& connect, const std::string& disconnected_name)
{
    EXPECT_EQ(chr->filename(), disconnected_name);
    EXPECT_FALSE(chr->is_open());
    EXPECT_TRUE(chr->supports_gcontext());
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect();
    ASSERT_TRUE(client);
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1; }));
    EXPECT_TRUE(chr->is_open());
    ASSERT_EQ(::send(client.get(), "hello", 5, 0), 5);
    ASSERT_TRUE(run_until([&] { return fe.data == "hello"; }));
    ASSERT_EQ(chr->write_all("world").value(), 5u);
    EXPECT_EQ(recv_some(client.get(), 5), "world");
    client.reset();
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_EQ(chr->filename(), disconnected_name);
    EXPECT_EQ(chr->write_all("dropped").value(), 7u) << "writes with no peer are dropped";
    chr->detach();
}

TEST_F(CharSocket, UnixServerMainloop)
{
    Chardev* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    exercise_server(chr, [&] { return connect_unix(m_path); }, "disconnected:unix:" + m_path + ",server=on");
    EXPECT_TRUE(m_out.info.empty());
}

TEST_F(CharSocket, UnixServerConnectedFilename)
{
    Chardev* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    EXPECT_EQ(chr->filename(), "unix:" + m_path + ",server=on");
    EXPECT_TRUE(chr->can_pass_fds());
}

TEST_F(CharSocket, TcpServerMainloop)
{
    auto* chr = dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("t", tcp_server())).value());
    ASSERT_NE(chr, nullptr);
    auto port = chr->listen_port();
    ASSERT_TRUE(port && *port != 0);
    const std::string name = "disconnected:tcp:127.0.0.1:" + std::to_string(*port) + ",server=on";
    exercise_server(chr, [&] { return connect_tcp(*port); }, name);

    UniqueFd client = connect_tcp(*port);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    sockaddr_in local{};
    socklen_t len = sizeof local;
    getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
    EXPECT_EQ(chr->filename(), "tcp:127.0.0.1:" + std::to_string(*port) + ",server=on <-> 127.0.0.1:" +
                                   std::to_string(ntohs(local.sin_port)));
    EXPECT_FALSE(chr->can_pass_fds());
}

TEST_F(CharSocket, UnixServerWaitConnBlocksUntilAClientConnects)
{
    std::thread client_thread([path = m_path] {
        // The listener appears inside add(); keep trying until it is there.
        for (int i = 0; i < 500; i++) {
            if (UniqueFd fd = connect_unix(path)) {
                ::send(fd.get(), "x", 1, 0);
                std::this_thread::sleep_for(50ms);
                return;
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    auto chr = m_reg.add(socket_opts("w", unix_server(m_path, true)));
    client_thread.join();
    ASSERT_TRUE(chr);
    ASSERT_EQ(m_out.info.size(), 1u);
    EXPECT_EQ(m_out.info[0], "QEMU waiting for connection on: disconnected:unix:" + m_path + ",server=on");
    EXPECT_TRUE((*chr)->is_open());
    RecordingFrontend fe;
    ASSERT_TRUE((*chr)->attach(fe.callbacks()));
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1 && fe.data == "x"; }));
    (*chr)->detach();
}

TEST_F(CharSocket, TcpServerWaitConn)
{
    // Take a free port first so the client thread knows where to go.
    SocketOptions probe = tcp_server();
    uint16_t port = *dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("probe", probe)).value())->listen_port();
    ASSERT_TRUE(m_reg.remove("probe"));
    std::thread client_thread([port] {
        for (int i = 0; i < 500; i++) {
            if (UniqueFd fd = connect_tcp(port)) {
                std::this_thread::sleep_for(50ms);
                return;
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    SocketOptions sock = tcp_server();
    sock.port = std::to_string(port);
    sock.wait = true;
    auto chr = m_reg.add(socket_opts("w", sock));
    client_thread.join();
    ASSERT_TRUE(chr);
    EXPECT_TRUE((*chr)->is_open());
    EXPECT_EQ(m_out.info.at(0),
              "QEMU waiting for connection on: disconnected:tcp:127.0.0.1:" + std::to_string(port) + ",server=on");
}

TEST_F(CharSocket, FdPassPendingTakenReplacedAndClosedOnDisconnect)
{
    auto* chr = dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("s", unix_server(m_path))).value());
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    const int baseline = count_open_fds();

    // One fd, sent non-blocking: it arrives blocking and close-on-exec.
    {
        UniqueFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        send_with_fds(client.get(), "A", {efd.get()});
    }
    ASSERT_TRUE(run_until([&] { return fe.data == "A"; }));
    EXPECT_EQ(chr->pending_fd_count(), 1u);
    auto taken = chr->take_msgfd();
    ASSERT_TRUE(taken && taken->valid());
    EXPECT_EQ(fcntl(taken->get(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(fcntl(taken->get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_FALSE(chr->take_msgfd()) << "taken fds are no longer pending";
    taken.reset();
    EXPECT_EQ(count_open_fds(), baseline);

    // Three fds, then a newer batch of two replaces (and closes) them.
    auto send_batch = [&](std::string_view text, int n) {
        std::vector<UniqueFd> owned;
        std::vector<int> raw;
        for (int i = 0; i < n; i++) {
            owned.emplace_back(eventfd(0, EFD_CLOEXEC));
            raw.push_back(owned.back().get());
        }
        send_with_fds(client.get(), text, raw);
    };
    send_batch("B", 3);
    ASSERT_TRUE(run_until([&] { return fe.data == "AB"; }));
    EXPECT_EQ(chr->pending_fd_count(), 3u);
    EXPECT_EQ(count_open_fds(), baseline + 3);
    send_batch("C", 2);
    ASSERT_TRUE(run_until([&] { return fe.data == "ABC"; }));
    EXPECT_EQ(chr->pending_fd_count(), 2u);
    EXPECT_EQ(count_open_fds(), baseline + 2) << "the replaced batch is closed";
    auto all = chr->take_msgfds();
    EXPECT_EQ(all.size(), 2u);
    all.clear();
    EXPECT_EQ(count_open_fds(), baseline);

    // take_msgfd with several pending keeps one and closes the rest.
    send_batch("D", 3);
    ASSERT_TRUE(run_until([&] { return fe.data == "ABCD"; }));
    auto one = chr->take_msgfd();
    EXPECT_EQ(count_open_fds(), baseline + 1);
    one.reset();

    // Pending fds die with the connection.
    send_batch("E", 3);
    ASSERT_TRUE(run_until([&] { return fe.data == "ABCDE"; }));
    EXPECT_EQ(count_open_fds(), baseline + 3);
    client.reset();
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_EQ(chr->pending_fd_count(), 0u);
    EXPECT_EQ(count_open_fds(), baseline - 2) << "pending fds, the connection and our client end are closed";
    chr->detach();
}

TEST_F(CharSocket, FdsArriveWithTheFirstByteWhenTheFrontendReadsOneByteAtATime)
{
    auto* chr = dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("s", unix_server(m_path))).value());
    RecordingFrontend fe;
    fe.can_read = 1;
    size_t pending_after_first = 99;
    fe.on_read = [&] {
        if (fe.data.size() == 1) {
            pending_after_first = chr->pending_fd_count();
        }
    };
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    UniqueFd efd(eventfd(0, EFD_CLOEXEC));
    send_with_fds(client.get(), "{\"execute\":\"getfd\"}", {efd.get()});
    ASSERT_TRUE(run_until([&] { return fe.data.size() == 19; }));
    EXPECT_EQ(pending_after_first, 1u);
    EXPECT_EQ(chr->pending_fd_count(), 1u);
    chr->detach();
}

TEST_F(CharSocket, ReadingPausesWhileTheFrontendTakesNothing)
{
    auto* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    RecordingFrontend fe;
    fe.can_read = 0;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    ASSERT_EQ(::send(client.get(), "abc", 3, 0), 3);
    client.reset();  // the hangup must not lose the queued bytes
    run_for(50ms);
    EXPECT_EQ(fe.data, "");
    EXPECT_EQ(fe.count(ChardevEvent::Closed), 0u);
    fe.can_read = 4096;
    chr->accept_input();
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_EQ(fe.data, "abc");
    chr->detach();
}

TEST_F(CharSocket, TwoClientsAreServedOneAfterTheOther)
{
    auto* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd first = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1; }));
    UniqueFd second = connect_unix(m_path);
    ASSERT_TRUE(second) << "the second client waits in the backlog";
    ASSERT_EQ(::send(second.get(), "2", 1, 0), 1);
    ASSERT_EQ(::send(first.get(), "1", 1, 0), 1);
    ASSERT_TRUE(run_until([&] { return fe.data == "1"; }));
    run_for(50ms);
    EXPECT_EQ(fe.data, "1");
    EXPECT_EQ(fe.count(ChardevEvent::Opened), 1u);
    first.reset();
    ASSERT_TRUE(run_until([&] { return fe.data == "12"; }));
    EXPECT_EQ(fe.events,
              (std::vector<ChardevEvent>{ChardevEvent::Opened, ChardevEvent::Closed, ChardevEvent::Opened}));
    ASSERT_TRUE(chr->write_all("to-second"));
    EXPECT_EQ(recv_some(second.get(), 9), "to-second");
    chr->detach();
}

TEST_F(CharSocket, UnixClientMainloop)
{
    UniqueFd listener = listen_unix(m_path);
    ASSERT_TRUE(listener);
    SocketOptions sock;
    sock.path = m_path;
    Chardev* chr = m_reg.add(socket_opts("c", sock)).value();
    EXPECT_TRUE(chr->is_open()) << "a client connects synchronously";
    EXPECT_EQ(chr->filename(), "unix:" + m_path);
    UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(peer);
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1; }));
    ASSERT_EQ(::send(peer.get(), "in", 2, 0), 2);
    ASSERT_TRUE(run_until([&] { return fe.data == "in"; }));
    ASSERT_TRUE(chr->write_all("out"));
    EXPECT_EQ(recv_some(peer.get(), 3), "out");
    peer.reset();
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_EQ(chr->filename(), "disconnected:unix:" + m_path);
    chr->detach();
}

TEST_F(CharSocket, TcpClientMainloopAndRefusedConnect)
{
    auto* server = dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("srv", tcp_server())).value());
    uint16_t port = *server->listen_port();
    RecordingFrontend server_fe;
    ASSERT_TRUE(server->attach(server_fe.callbacks()));
    SocketOptions sock;
    sock.host = "127.0.0.1";
    sock.port = std::to_string(port);
    sock.nodelay = true;
    Chardev* client = m_reg.add(socket_opts("cli", sock)).value();
    EXPECT_TRUE(client->is_open());
    EXPECT_TRUE(client->filename().starts_with("tcp:127.0.0.1:"));
    EXPECT_TRUE(client->filename().ends_with(" <-> 127.0.0.1:" + std::to_string(port)));
    ASSERT_TRUE(client->write_all("ping"));
    ASSERT_TRUE(run_until([&] { return server_fe.data == "ping"; }));
    server->detach();
    ASSERT_TRUE(m_reg.remove("cli"));
    ASSERT_TRUE(m_reg.remove("srv"));

    sock.port = std::to_string(port);  // nobody listens there any more
    auto refused = m_reg.add(socket_opts("cli", sock));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc, "Failed to connect to '127.0.0.1:" + std::to_string(port) + "': Connection refused");
}

TEST_F(CharSocket, ClientReconnectReportsOnceAndReconnectsAfterServerDrop)
{
    SocketOptions sock;
    sock.path = m_path;
    sock.reconnect_ms = 50;
    Chardev* chr = m_reg.add(socket_opts("c", sock)).value();
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    run_for(250ms);
    ASSERT_EQ(m_out.error.size(), 1u) << "the failure is reported once, not per retry";
    EXPECT_EQ(m_out.error[0],
              "Unable to connect character device c: Failed to connect to '" + m_path + "': No such file or directory");
    EXPECT_FALSE(chr->is_open());

    UniqueFd listener = listen_unix(m_path);
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1; }));
    UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(peer);
    ASSERT_EQ(::send(peer.get(), "hi", 2, 0), 2);
    ASSERT_TRUE(run_until([&] { return fe.data == "hi"; }));

    // The server drops us: Closed, then a new connection on the timer.
    peer.reset();
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 2; }));
    EXPECT_EQ(fe.count(ChardevEvent::Closed), 1u);
    UniqueFd peer2(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(peer2);
    ASSERT_TRUE(chr->write_all("again"));
    EXPECT_EQ(recv_some(peer2.get(), 5), "again");

    // The server goes away entirely: a new failing streak is reported once more.
    peer2.reset();
    listener.reset();
    ::unlink(m_path.c_str());
    ASSERT_TRUE(run_until([&] { return m_out.error.size() == 2; }));
    run_for(200ms);
    EXPECT_EQ(m_out.error.size(), 2u);
    chr->detach();
}

TEST_F(CharSocket, FdSocketpairIsConnectedAtCreationAndOwned)
{
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd ours(pair[0]);
    const int baseline = count_open_fds();
    SocketOptions sock;
    sock.fd = std::to_string(pair[1]);  // the chardev owns pair[1] from here
    Chardev* chr = m_reg.add(socket_opts("m", sock)).value();
    EXPECT_TRUE(chr->is_open());
    EXPECT_EQ(chr->filename(), "unix:");
    EXPECT_TRUE(chr->can_pass_fds()) << "fd passing works on any AF_UNIX connection";
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Opened) == 1; }));
    {
        UniqueFd efd(eventfd(0, EFD_CLOEXEC));
        send_with_fds(ours.get(), " ", {efd.get()});
    }
    ASSERT_TRUE(run_until([&] { return fe.data == " "; }));
    EXPECT_TRUE(chr->take_msgfd());
    ASSERT_TRUE(chr->write_all("greeting"));
    EXPECT_EQ(recv_some(ours.get(), 8), "greeting");
    chr->detach();
    ASSERT_TRUE(m_reg.remove("m"));
    EXPECT_EQ(count_open_fds(), baseline - 1) << "removing the chardev closes its fd";
}

TEST_F(CharSocket, FdListeningSocketServesAsServer)
{
    UniqueFd listener = listen_unix(m_path);
    SocketOptions sock;
    sock.fd = std::to_string(listener.release());  // handed over to the chardev
    sock.server = true;
    Chardev* chr = m_reg.add(socket_opts("l", sock)).value();
    EXPECT_EQ(chr->filename(), "disconnected:unix:" + m_path + ",server=on");
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
}

TEST_F(CharSocket, WriteToAVanishedPeerIsADisconnectNotASignal)
{
    Chardev* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    client.reset();
    // Whether the hangup or the write notices first, the result is the same.
    EXPECT_EQ(chr->write_all("into the void").value(), 13u);
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_FALSE(chr->is_open());
    chr->detach();
}

TEST_F(CharSocket, RemovingAServerClosesEverythingAndUnlinksThePath)
{
    const int baseline = count_open_fds();
    Chardev* chr = m_reg.add(socket_opts("s", unix_server(m_path))).value();
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    ASSERT_TRUE(m_reg.remove("s"));
    EXPECT_EQ(count_open_fds(), baseline + 1);  // only our client end remains
    EXPECT_NE(::access(m_path.c_str(), F_OK), 0);
}

TEST_F(CharSocket, MoreThanSixteenFdsAreTruncatedWithoutLeaking)
{
    auto* chr = dynamic_cast<SocketChardev*>(m_reg.add(socket_opts("s", unix_server(m_path))).value());
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    UniqueFd client = connect_unix(m_path);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
    const int baseline = count_open_fds();
    {
        std::vector<UniqueFd> owned;
        std::vector<int> raw;
        for (int i = 0; i < 20; i++) {
            owned.emplace_back(eventfd(0, EFD_CLOEXEC));
            raw.push_back(owned.back().get());
        }
        send_with_fds(client.get(), "T", raw);
    }
    ASSERT_TRUE(run_until([&] { return fe.data == "T"; }));
    EXPECT_EQ(chr->pending_fd_count(), SocketChardev::kMaxFds);
    EXPECT_EQ(count_open_fds(), baseline + static_cast<int>(SocketChardev::kMaxFds));
    chr->take_msgfds();
    EXPECT_EQ(count_open_fds(), baseline);
    chr->detach();
}

TEST_F(CharSocket, AbstractUnixServer)
{
    const std::string name = "char-test-" + std::to_string(getpid());
    SocketOptions sock = unix_server(name);
    sock.abstract = true;
    Chardev* chr = m_reg.add(socket_opts("a", sock)).value();
    EXPECT_EQ(chr->filename(), "disconnected:unix:" + name + ",abstract=on,tight=on,server=on");
    UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path + 1, name.data(), name.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&sun), len), 0);
    ASSERT_TRUE(run_until([&] { return chr->is_open(); }));
}

}  // namespace
}  // namespace qemu::chr
