// An emulator whose HMP qemu-io output the test can read, for the block qtests
// (block-vmdk-test, block-vvfat-test): qemu-io prints to the emulator's stdout, so fd 1
// points to an unlinked file while the emulator starts (it inherits it), then goes back to
// the test's own stdout.
#pragma once

#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "tests/qtest/libqtest.h"

namespace qtest {

// The machine the block qtests run: no devices, no CPU.
constexpr const char* kBlockTestArgs = "-nodefaults -machine none";

inline std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

// Passes fd to the emulator's set over QMP (SCM_RIGHTS) as a member called opaque.
inline void add_fd(QTestState& qts, int fd, int64_t set, const std::string& opaque)
{
    JsonValue reply = qts.qmp_fds(std::span<const int>(&fd, 1),
        "{'execute': 'add-fd', 'arguments': {'fdset-id': " + std::to_string(set) + ", 'opaque': '" + opaque + "'}}");
    ASSERT_TRUE(reply.contains("return")) << dump(reply);
}

class EmulatorStdout {
public:
    EmulatorStdout()
    {
        std::fflush(stdout);
        m_saved = qemu::UniqueFd(::dup(STDOUT_FILENO));
        m_file = qemu::UniqueFd(::open(g_get_tmp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
        EXPECT_TRUE(m_saved.valid() && m_file.valid());
        ::dup2(m_file.get(), STDOUT_FILENO);
    }
    // Call once the emulator runs: the test's output goes to its own stdout again.
    void restore()
    {
        if (m_saved.valid()) {
            std::fflush(stdout);
            ::dup2(m_saved.get(), STDOUT_FILENO);
            m_saved.reset();
        }
    }
    ~EmulatorStdout() { restore(); }
    EmulatorStdout(const EmulatorStdout&) = delete;
    EmulatorStdout& operator=(const EmulatorStdout&) = delete;

    // What the emulator printed since the last call (it flushes after every qemu-io command).
    std::string take()
    {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::pread(m_file.get(), buf, sizeof(buf), m_offset)) > 0) {
            out.append(buf, static_cast<size_t>(n));
            m_offset += n;
        }
        return out;
    }

private:
    qemu::UniqueFd m_saved;
    qemu::UniqueFd m_file;
    off_t m_offset = 0;
};

struct Emulator {
    EmulatorStdout out;
    std::unique_ptr<QTestState> qts;

    explicit Emulator(const std::string& args = kBlockTestArgs, std::span<const InheritedFd> inherit = {})
    {
        qts = QTestState::init(args, inherit);
        out.restore();
    }
    // HMP qemu-io on node: what the monitor answered followed by what qemu-io printed.
    std::string qemu_io(const std::string& node, const std::string& command)
    {
        std::string reply = qts->hmp("qemu-io " + node + " \"" + command + "\"");
        return reply + out.take();
    }
};

}  // namespace qtest
