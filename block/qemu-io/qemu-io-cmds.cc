// qemu-io's commands: the table (names, argument counts, the permission a command needs),
// help, and the dispatcher with QEMU's argument-count messages. The commands themselves
// are in qemu-io-cmds-*.cc, by concern. Option letters are parsed with getopt, as QEMU
// does, so its "invalid option" texts come for free.
#include <getopt.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "block/qemu-io/qemu-io-cmds.h"

namespace qemu::qemu_io {

namespace {

int help_f(Session&, const Command&, int argc, char** argv);

// Sorted by name, as QEMU lists them in `help`.
const Command kCommands[] = {
    {"abort", nullptr, abort_f, 0, 0, nullptr, "simulate a program crash using abort(3)", kNoFileOk | kGlobal},
    {"aio_flush", nullptr, aio_flush_f, 0, 0, nullptr, "completes all outstanding aio requests"},
    {"aio_read", nullptr, aio_read_f, 1, -1, "[-Ciqv] [-P pattern] off len [len..]",
        "asynchronously reads a number of bytes"},
    {"aio_write", nullptr, aio_write_f, 1, -1, "[-Cfiquz] [-P pattern] off len [len..]",
        "asynchronously writes a number of bytes", 0, block::perm::kWrite},
    {"alloc", nullptr, alloc_f, 1, 2, "offset [count]", "checks if offset is allocated in the file"},
    {"break", nullptr, break_f, 2, 2, "event tag", "sets a breakpoint on event and tags the stopped request as tag"},
    {"close", "c", close_f, 0, 0, nullptr, "close the current open file"},
    {"discard", "d", discard_f, 2, -1, "[-Cq] off len", "discards a number of bytes at a specified offset", 0,
        block::perm::kWrite},
    {"flush", "f", flush_f, 0, 0, nullptr, "flush all in-core file state to disk"},
    {"help", "?", help_f, 0, 1, "[command]", "help for one or all commands", kGlobal},
    {"info", "i", info_f, 0, 0, nullptr, "prints information about the current file"},
    {"length", "l", length_f, 0, 0, nullptr, "gets the length of the current file"},
    {"map", nullptr, map_f, 0, 0, "", "prints the allocated areas of a file"},
    {"open", "o", open_f, 1, -1, "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
        "open the file specified by path", kNoFileOk | kGlobal},
    {"quit", "q", quit_f, 0, 0, nullptr, "exit the program", kGlobal},
    {"read", "r", read_f, 2, -1, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
        "reads a number of bytes at a specified offset"},
    {"readv", nullptr, readv_f, 2, -1, "[-Cqv] [-P pattern] off len [len..]",
        "reads a number of bytes at a specified offset"},
    {"remove_break", nullptr, remove_break_f, 1, 1, "tag", "remove a breakpoint by tag"},
    {"reopen", nullptr, reopen_f, 0, -1, "[(-r|-w)] [-c cache] [-o options]", "reopens an image with new options"},
    {"resume", nullptr, resume_f, 1, 1, "tag", "resumes the request tagged as tag"},
    {"sigraise", nullptr, sigraise_f, 1, 1, "signal", "raises a signal", kNoFileOk | kGlobal},
    {"sleep", nullptr, sleep_f, 1, 1, nullptr, "waits for the given value in milliseconds", kNoFileOk | kGlobal},
    {"truncate", "t", truncate_f, 1, 3, "[-m prealloc_mode] off", "truncates the current file at the given offset", 0,
        block::perm::kWrite | block::perm::kResize},
    {"wait_break", nullptr, wait_break_f, 1, 1, "tag", "waits for the suspension of a request"},
    {"write", "w", write_f, 2, -1, "[-bcCfnquz] [-P pattern | -s source_file] off len",
        "writes a number of bytes at a specified offset", 0, block::perm::kWrite},
    {"writev", nullptr, writev_f, 2, -1, "[-Cfq] [-P pattern] off len [len..]",
        "writes a number of bytes at a specified offset", 0, block::perm::kWrite},
};

const Command* find_command(std::string_view name)
{
    for (const Command& cmd : kCommands) {
        if (name == cmd.name || (cmd.altname && name == cmd.altname)) {
            return &cmd;
        }
    }
    return nullptr;
}

void help_oneline(const char* name, const Command& cmd)
{
    std::printf("%s ", name);
    if (cmd.args) {
        std::printf("%s ", cmd.args);
    }
    std::printf("-- %s\n", cmd.oneline);
}

int help_f(Session&, const Command&, int argc, char** argv)
{
    if (argc == 1) {
        for (const Command& cmd : kCommands) {
            help_oneline(cmd.name, cmd);
        }
        std::printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    const Command* cmd = find_command(argv[1]);
    if (!cmd) {
        std::printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    help_oneline(argv[1], *cmd);
    std::string_view text = help_text(cmd->name);
    if (!text.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return 0;
}

// Whether QEMU 7.2's command runs the event loop (a synchronous request waits in it), so
// that the aio requests before it complete first. These do not: they only start requests,
// act on breakpoints, or print what is already known. sleep runs the loop for its time
// only, without waiting for every request (sleep_f).
bool polls(const Command& cmd)
{
    static constexpr std::string_view kNonPolling[] = {
        "aio_read", "aio_write", "break", "remove_break", "resume", "wait_break", "help", "length", "info", "quit", "sleep",
    };
    for (std::string_view name : kNonPolling) {
        if (cmd.name == name) {
            return false;
        }
    }
    return true;
}

int dispatch(Session& s, const Command& cmd, std::vector<char*>& argv)
{
    int argc = static_cast<int>(argv.size()) - 1;  // argv ends with a null pointer
    if (!(cmd.flags & kGlobal) && !(cmd.flags & kNoFileOk) && !s.blk) {
        std::fflush(stdout);
        std::fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    int given = argc - 1;
    if (given < cmd.argmin || (cmd.argmax != -1 && given > cmd.argmax)) {
        std::fflush(stdout);
        if (cmd.argmax == -1) {
            std::fprintf(
                stderr, "bad argument count %d to %s, expected at least %d arguments\n", given, argv[0], cmd.argmin);
        } else if (cmd.argmin == cmd.argmax) {
            std::fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", given, argv[0], cmd.argmin);
        } else {
            std::fprintf(stderr, "bad argument count %d to %s, expected between %d and %d arguments\n", given, argv[0],
                cmd.argmin, cmd.argmax);
        }
        return -EINVAL;
    }
    if (cmd.perm && s.blk && (cmd.perm & ~s.blk->perm())) {
        auto granted = s.blk->set_perm(s.blk->perm() | cmd.perm, s.blk->shared_perm());
        if (!granted) {
            error_report(granted.error().desc);
            return error_code(granted.error());
        }
    }
    if (polls(cmd)) {
        s.drain();
    }
    optind = 0;  // glibc: a full getopt reset for the next argument vector
    int ret = cmd.fn(s, cmd, argc, argv.data());
    // QEMU's aio request runs until it first yields, so one that meets a breakpoint is
    // suspended before the command returns and a `resume` after it finds it. Ours may run
    // on a worker: under blkdebug, the command waits for it to get that far.
    std::string_view name = cmd.name;
    if ((name == "aio_read" || name == "aio_write") && s.aio.parking() && s.blk && block::find_debug_node(s.blk->root())) {
        s.aio.settle_workers();
    }
    return ret;
}

}  // namespace

void Session::report(uint64_t number, std::move_only_function<void()> print)
{
    aio_reports.emplace(number, std::move(print));
    for (auto it = aio_reports.begin(); it != aio_reports.end() && it->first == aio_printed;
         it = aio_reports.erase(it)) {
        it->second();
        ++aio_printed;
    }
}

void Session::drain()
{
    while (aio_printed != aio_issued || aio.busy()) {
        // A request waiting at a breakpoint would keep this wait going forever (QEMU's
        // does): nothing can `resume` it now, so it goes on.
        if (release_held) {
            release_held();
        } else if (blk) {
            block::resume_parked_requests(blk->root());
        }
        aio.poll(true);
    }
}

int run_command(Session& session, std::string_view line)
{
    // Words are split on single spaces; empty words vanish (breakline).
    std::vector<std::string> words;
    size_t pos = 0;
    while (pos <= line.size()) {
        size_t space = line.find(' ', pos);
        if (space == std::string_view::npos) {
            space = line.size();
        }
        if (space > pos) {
            words.emplace_back(line.substr(pos, space - pos));
        }
        pos = space + 1;
    }
    if (words.empty()) {
        return 0;
    }
    std::vector<char*> argv;
    for (std::string& word : words) {
        argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    const Command* cmd = find_command(words[0]);
    if (!cmd) {
        std::fflush(stdout);
        std::fprintf(stderr, "command \"%s\" not found\n", words[0].c_str());
        return -EINVAL;
    }
    return dispatch(session, *cmd, argv);
}

}  // namespace qemu::qemu_io
