// The parts of qemu-io's command engine shared by its files: the command table's row, the
// argument and buffer helpers, and the command functions, grouped by the file that
// defines them. Internal to block/qemu-io/; users run commands through qemu-io.h.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "block/qemu-io/qemu-io.h"
#include "util/error.h"

namespace qemu::qemu_io {

constexpr unsigned kNoFileOk = 1;  // runs without an open image
constexpr unsigned kGlobal = 2;  // runs whatever the state

struct Command;
using CommandFn = int (*)(Session&, const Command&, int argc, char** argv);

struct Command {
    const char* name;
    const char* altname;
    CommandFn fn;
    int argmin;
    int argmax;  // -1: unlimited
    const char* args;
    const char* oneline;
    unsigned flags = 0;
    uint64_t perm = 0;  // taken on the backend before the command runs
};

// Prints the command's one-line usage; returns -EINVAL.
int usage(const Command& cmd);

// An I/O buffer filled with a byte; -m shifts it off alignment on purpose.
class IoBuffer {
public:
    IoBuffer(size_t len, int pattern, bool misalign) : m_storage(len + (misalign ? 16 : 0) + 1, 0)
    {
        m_offset = misalign ? 16 : 0;
        m_len = len;
        std::memset(data(), pattern, len);
    }
    uint8_t* data() { return m_storage.data() + m_offset; }
    std::span<uint8_t> span() { return {data(), m_len}; }

private:
    std::vector<uint8_t> m_storage;
    size_t m_offset;
    size_t m_len;
};

// A failed request's errno as a negative return value (-EIO when it has none).
int error_code(const Error& err);
bool verify_pattern(std::span<const uint8_t> data, int pattern);

// Parses "off" and a list of lengths into one buffer split as an iovec.
struct Vectored {
    std::unique_ptr<IoBuffer> buffer;
    std::vector<iovec> iov;
    int64_t size = 0;
};

std::optional<Vectored> create_iovec(Session& s, char** argv, int count, int pattern);

// Offset and length arguments with QEMU's messages; false after printing the error.

bool parse_offset_length(char** argv, int64_t* offset, int64_t* count, int* ret);

// qemu-io-cmds-read.cc
int read_f(Session& s, const Command& cmd, int argc, char** argv);
int readv_f(Session& s, const Command& cmd, int argc, char** argv);
int aio_read_f(Session& s, const Command& cmd, int argc, char** argv);

// qemu-io-cmds-write.cc
int write_f(Session& s, const Command& cmd, int argc, char** argv);
int writev_f(Session& s, const Command& cmd, int argc, char** argv);
int aio_write_f(Session& s, const Command& cmd, int argc, char** argv);

// qemu-io-cmds-image.cc
int aio_flush_f(Session& s, const Command& cmd, int argc, char** argv);
int flush_f(Session& s, const Command& cmd, int argc, char** argv);
int discard_f(Session& s, const Command& cmd, int argc, char** argv);
int truncate_f(Session& s, const Command& cmd, int argc, char** argv);
int length_f(Session& s, const Command& cmd, int argc, char** argv);
int info_f(Session& s, const Command& cmd, int argc, char** argv);
int map_f(Session& s, const Command& cmd, int argc, char** argv);
int alloc_f(Session& s, const Command& cmd, int argc, char** argv);

// qemu-io-cmds-open.cc
int open_f(Session& s, const Command& cmd, int argc, char** argv);
int close_f(Session& s, const Command& cmd, int argc, char** argv);
int reopen_f(Session& s, const Command& cmd, int argc, char** argv);

// qemu-io-cmds-misc.cc
int quit_f(Session& s, const Command& cmd, int argc, char** argv);
int sleep_f(Session& s, const Command& cmd, int argc, char** argv);
int sigraise_f(Session& s, const Command& cmd, int argc, char** argv);
int abort_f(Session& s, const Command& cmd, int argc, char** argv);
int break_f(Session& s, const Command& cmd, int argc, char** argv);
int remove_break_f(Session& s, const Command& cmd, int argc, char** argv);
int resume_f(Session& s, const Command& cmd, int argc, char** argv);
int wait_break_f(Session& s, const Command& cmd, int argc, char** argv);

}  // namespace qemu::qemu_io
