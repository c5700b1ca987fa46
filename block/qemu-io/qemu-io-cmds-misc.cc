// qemu-io's commands that do not touch the image: quit, sleep, sigraise, abort, and
// blkdebug's breakpoint commands.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "block/qemu-io/qemu-io-cmds.h"

namespace qemu::qemu_io {

int quit_f(Session& s, const Command&, int, char**)
{
    s.quit = true;
    return 0;
}

int sleep_f(Session& s, const Command&, int, char** argv)
{
    char* end = nullptr;
    long ms = std::strtol(argv[1], &end, 0);
    if (ms < 0 || *end != '\0') {
        std::printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    // As QEMU's timer wait in its event loop: requests that complete meanwhile are
    // reported, and one parked at a breakpoint stays parked (a test can kill the process
    // there). The wait wakes each millisecond while requests are in flight.
    // A year bounds the wait, so the deadline cannot overflow the clock's nanoseconds.
    constexpr long kLongestMs = 365L * 24 * 3600 * 1000;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min(ms, kLongestMs));
    for (auto now = std::chrono::steady_clock::now(); now < deadline; now = std::chrono::steady_clock::now()) {
        s.aio.poll(false);
        auto left = deadline - now;
        std::this_thread::sleep_for(s.aio.busy() ? std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1))
                                                 : left);
    }
    s.aio.poll(false);
    return 0;
}

int sigraise_f(Session&, const Command&, int, char** argv)
{
    int64_t sig = cvtnum(argv[1]);
    if (sig < 0) {
        print_cvtnum_err(sig, argv[1]);
        return static_cast<int>(sig);
    }
    if (sig > NSIG) {
        std::printf("signal argument '%s' is too large to be a valid signal\n", argv[1]);
        return -EINVAL;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    raise(static_cast<int>(sig));
    return 0;
}

int abort_f(Session&, const Command&, int, char**)
{
    abort();
}

// blkdebug's breakpoints: they act on the first node down the image's primary children
// whose driver takes them (a blkdebug node), and without one fail with ENOTSUP, as QEMU.
namespace {

block::BlockNode* debug_node(Session& s)
{
    return block::find_debug_node(s.blk->root());
}

}  // namespace

int break_f(Session& s, const Command&, int, char** argv)
{
    block::BlockNode* node = debug_node(s);
    int ret = node ? node->driver().debug_breakpoint(*node, argv[1], argv[2]) : -ENOTSUP;
    if (ret < 0) {
        std::printf("Could not set breakpoint: %s\n", std::strerror(-ret));
    }
    return ret;
}

int remove_break_f(Session& s, const Command&, int, char** argv)
{
    block::BlockNode* node = debug_node(s);
    int ret = node ? node->driver().debug_remove_breakpoint(*node, argv[1]) : -ENOTSUP;
    if (ret < 0) {
        std::printf("Could not remove breakpoint %s: %s\n", argv[1], std::strerror(-ret));
    }
    return ret;
}

int resume_f(Session& s, const Command&, int, char** argv)
{
    block::BlockNode* node = debug_node(s);
    int ret = node ? node->driver().debug_resume(*node, argv[1]) : -ENOTSUP;
    if (ret < 0) {
        std::printf("Could not resume request: %s\n", std::strerror(-ret));
    }
    return ret;
}

int wait_break_f(Session& s, const Command&, int, char** argv)
{
    block::BlockNode* node = debug_node(s);
    // QEMU polls until a request is suspended under the tag. Ours poll while aio requests
    // are in flight: one that meets the breakpoint waits there and wakes this poll. With
    // nothing left in flight none can be suspended later: where QEMU would wait forever,
    // this fails.
    while (node && !node->driver().debug_is_suspended(*node, argv[1])) {
        if (!s.aio.busy()) {
            break;
        }
        s.aio.poll(true);
    }
    if (node && node->driver().debug_is_suspended(*node, argv[1])) {
        return 0;
    }
    std::printf("Could not wait for breakpoint %s: %s\n", argv[1], std::strerror(node ? ENOENT : ENOTSUP));
    return node ? -ENOENT : -ENOTSUP;
}

}  // namespace qemu::qemu_io
