// qemu-io's commands that do not touch the image: quit, sleep, sigraise, abort, and
// blkdebug's breakpoint commands (which find no breakpoint in this build).
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

int sleep_f(Session&, const Command&, int, char** argv)
{
    char* end = nullptr;
    long ms = std::strtol(argv[1], &end, 0);
    if (ms < 0 || *end != '\0') {
        std::printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
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

// blkdebug's breakpoints. This build has no blkdebug driver, so, as QEMU with an image
// that has none, there is no breakpoint to set, remove or resume.
int break_f(Session&, const Command&, int, char**)
{
    std::printf("Could not set breakpoint: %s\n", std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int remove_break_f(Session&, const Command&, int, char** argv)
{
    std::printf("Could not remove breakpoint %s: %s\n", argv[1], std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int resume_f(Session&, const Command&, int, char**)
{
    std::printf("Could not resume request: %s\n", std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int wait_break_f(Session&, const Command&, int, char** argv)
{
    // QEMU polls until blkdebug suspends a request, which without blkdebug never happens,
    // so it waits forever; failing at once is the useful answer.
    std::printf("Could not wait for breakpoint %s: %s\n", argv[1], std::strerror(ENOTSUP));
    return -ENOTSUP;
}

}  // namespace qemu::qemu_io
