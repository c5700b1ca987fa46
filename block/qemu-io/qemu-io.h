// qemu-io: the block-layer exerciser, with QEMU 7.2's command line, commands and output.
// This header ties together its parts: the session (what is open), the command table,
// and the output helpers whose formats scripts (and QEMU's iotests filters) parse.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "util/aio-context.h"

namespace qemu::qemu_io {

// What is open, and how the next `open` opens by default.
struct Session {
    // context: where `open` and the command line's image look names up (the fd sets of
    // --add-fd in the tool).
    explicit Session(OpenContext context = {}) : graph(context) { }
    ~Session() { drain(); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    block::BlockGraph graph;
    // Where aio_read and aio_write complete. Their reports print in the order the
    // requests were issued, when a command polls (QEMU's sync I/O commands, aio_flush,
    // close) or at exit; so does the report of one that failed.
    AioContext aio;
    uint64_t aio_issued = 0;
    uint64_t aio_printed = 0;
    std::map<uint64_t, std::move_only_function<void()>> aio_reports;
    // Declared after what its requests' completions use: it drains as it goes.
    std::unique_ptr<block::BlockBackend> blk;

    // Numbers an aio request's report; report(n, ...) files it, printing every report
    // that is now next in line.
    uint64_t next_aio() { return aio_issued++; }
    void report(uint64_t number, std::move_only_function<void()> print);
    // Polls until every aio request has completed and its report is printed.
    void drain();
    // How drain lets go of requests held back, parked at breakpoints or (in the emulator)
    // waiting for I/O limits, when the session's requests may be on other images than blk
    // (the emulator's, which lends it one drive at a time); unset, it resumes those parked
    // under blk.
    std::function<void()> release_held;
    bool image_opts = false;  // --image-opts: `open` takes an option string
    bool misalign = false;  // -m: buffers deliberately not aligned
    bool quit = false;
};

// How a file is opened: qemu-io's flags after -r/-n/-t/-d/-i/-U.
struct OpenRequest {
    block::OpenFlags flags{.read_write = true, .unmap = true};
    bool writethrough = true;
    bool force_share = false;
    std::optional<std::string> aio;
};

// Opens into the session; prints QEMU's "can't open" error and returns false on failure.
bool open_file(
    Session& session, std::optional<std::string> name, const OpenRequest& request, block::BlockOptions options);

// bdrv_parse_cache_mode / bdrv_parse_discard_flags; false if the text is not a mode.
bool parse_cache_mode(std::string_view mode, OpenRequest& request);
bool parse_discard_mode(std::string_view mode, OpenRequest& request);

// Runs one command line; negative errno on failure, as qemuio_command.
int run_command(Session& session, std::string_view line);

// Output helpers (qemu-io-output.cc).
std::string cvtstr(double value);
// cvtnum: a size with optional suffix; negative errno if it is not one.
int64_t cvtnum(std::string_view text);
void print_cvtnum_err(int64_t rc, std::string_view arg);
timespec elapsed_since(const timespec& start);
timespec now();
void print_report(
    const char* op, const timespec& t, int64_t offset, int64_t count, int64_t total, int cnt, bool machine);
void dump_buffer(std::span<const uint8_t> buf, int64_t offset);
// "%s is not a valid pattern byte" unless arg is 0..255.
int parse_pattern(std::string_view arg);
// error_report(): "qemu-io: " + text on stderr.
void error_report(std::string_view text);

// The extended help text of each command, as `help CMD` prints it after the one-liner.
std::string_view help_text(std::string_view command);

}  // namespace qemu::qemu_io
