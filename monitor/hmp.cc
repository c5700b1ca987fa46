// HMP commands, one table: name, argument synopsis, help text and handler.
#include "monitor/hmp.h"

#include <array>
#include <string>
#include <vector>

#include "monitor/hmp-block.h"
#include "monitor/monitor-host.h"
#include "monitor/version.h"
#include "qapi/qapi-commands.h"

namespace qemu::monitor {

namespace {

struct HmpOutput {
    std::string text;
    void line(std::string_view s)
    {
        text += s;
        text += "\r\n";
    }
};

using HmpHandler = void (*)(qapi::QmpContext&, std::string_view args, HmpOutput& out);

struct HmpCommand {
    std::string_view name;
    std::string_view params;
    std::string_view help;
    HmpHandler handler;
};

void info_status(qapi::QmpContext& ctx, std::string_view, HmpOutput& out)
{
    qapi::RunState state = ctx.host.runstate();
    std::string text = std::string("VM status: ") + (ctx.host.is_running() ? "running" : "paused");
    if (!ctx.host.is_running() && state != qapi::RunState::paused) {
        text += " (" + std::string(qapi::RunState_str(state)) + ")";
    }
    out.line(text);
}

void info_version(qapi::QmpContext&, std::string_view, HmpOutput& out)
{
    EmulatorVersion version = emulator_version();
    // QEMU prints the version and the package string with nothing between them.
    out.line(std::string(QEMU_VERSION) + version.package);
}

void info_name(qapi::QmpContext& ctx, std::string_view, HmpOutput& out)
{
    if (auto name = ctx.host.name()) {
        out.line(*name);
    }
}

// The block commands produce "\n"-terminated text; the monitor ends lines with "\r\n".
void put_lines(HmpOutput& out, const std::string& text)
{
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) {
            out.text += text.substr(start);
            break;
        }
        out.line(std::string_view(text).substr(start, end - start));
        start = end + 1;
    }
}

void info_block(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_info_block(ctx, args));
}

void info_blockstats(qapi::QmpContext& ctx, std::string_view, HmpOutput& out)
{
    put_lines(out, hmp_info_blockstats(ctx));
}

void do_qemu_io(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_qemu_io(ctx, args));
}

void do_eject(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_eject(ctx, args));
}

void do_block_set_io_throttle(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_block_set_io_throttle(ctx, args));
}

void do_change(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_change(ctx, args));
}

void do_drive_add(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_drive_add(ctx, args));
}

void do_drive_del(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_drive_del(ctx, args));
}

void do_snapshot_blkdev(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    put_lines(out, hmp_snapshot_blkdev(ctx, args));
}

void do_stop(qapi::QmpContext& ctx, std::string_view, HmpOutput&)
{
    ctx.host.drain_block_requests();  // vm_stop drains, as QMP's stop does in dispatch
    ctx.host.stop();
}

void do_cont(qapi::QmpContext& ctx, std::string_view, HmpOutput&)
{
    ctx.host.start();
}

void do_quit(qapi::QmpContext& ctx, std::string_view, HmpOutput&)
{
    ctx.host.request_shutdown(qapi::ShutdownCause::host_qmp_quit);
}

void do_system_reset(qapi::QmpContext& ctx, std::string_view, HmpOutput&)
{
    ctx.host.reset(qapi::ShutdownCause::host_qmp_system_reset);
}

constexpr std::array kInfoCommands = {
    HmpCommand{"block", "[-n] [-v] [device]",
        "show info of one block device or all block devices (-n: show named nodes; -v: show details)", info_block},
    HmpCommand{"blockstats", "", "show block device statistics", info_blockstats},
    HmpCommand{"name", "", "show the current VM name", info_name},
    HmpCommand{"status", "", "show the current VM status (running|paused)", info_status},
    HmpCommand{"version", "", "show the version of QEMU", info_version},
};

void do_info(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out);
void do_help(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out);

constexpr std::array kCommands = {
    HmpCommand{"block_set_io_throttle", "device bps bps_rd bps_wr iops iops_rd iops_wr",
        "change I/O throttle limits for a block drive", do_block_set_io_throttle},
    HmpCommand{"change", "device [-f] filename [format [read-only-mode]]",
        "change a removable medium, optional format, use -f to force the operation", do_change},
    HmpCommand{"cont|c", "", "resume emulation", do_cont},
    HmpCommand{"drive_add",
        "[-n] [[<domain>:]<bus>:]<slot>\n[file=file][,if=type][,bus=n]\n[,unit=m][,media=d][,index=i]\n"
        "[,snapshot=on|off][,cache=on|off]\n[,readonly=on|off][,copy-on-read=on|off]",
        "add drive to PCI storage controller", do_drive_add},
    HmpCommand{"drive_del", "device", "remove host block device", do_drive_del},
    HmpCommand{"eject", "[-f] device", "eject a removable medium (use -f to force it)", do_eject},
    HmpCommand{"help|?", "[cmd]", "show the help", do_help},
    HmpCommand{"info", "[subcommand]", "show various information about the system state", do_info},
    HmpCommand{"qemu-io", "[-d] [device] \"[command]\"", "run a qemu-io command on a block device", do_qemu_io},
    HmpCommand{"quit|q", "", "quit the emulator", do_quit},
    HmpCommand{"snapshot_blkdev", "[-n] device [new-image-file] [format]",
        "initiates a live snapshot\n\t\t\tof device. If a new image file is specified, the\n\t\t\tnew image file will "
        "become the new root image.\n\t\t\tIf format is specified, the snapshot file will\n\t\t\tbe created in that "
        "format.\n\t\t\tThe default format is qcow2.  The -n flag requests QEMU\n\t\t\tto reuse the image found in "
        "new-image-file, instead of\n\t\t\trecreating it from scratch.",
        do_snapshot_blkdev},
    HmpCommand{"stop|s", "", "stop emulation", do_stop},
    HmpCommand{"system_reset", "", "reset the system", do_system_reset},
};

bool name_matches(std::string_view names, std::string_view word)
{
    while (!names.empty()) {
        size_t bar = names.find('|');
        if (names.substr(0, bar) == word) {
            return true;
        }
        if (bar == std::string_view::npos) {
            break;
        }
        names.remove_prefix(bar + 1);
    }
    return false;
}

std::string_view first_word(std::string_view& rest)
{
    size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) {
        rest = {};
        return {};
    }
    rest.remove_prefix(start);
    size_t end = rest.find_first_of(" \t");
    std::string_view word = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    size_t next = rest.find_first_not_of(" \t");
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next);
    return word;
}

// A command that takes no arguments refuses any, naming itself by its table entry and
// pointing at the help for the name as typed (QEMU's monitor_parse_arguments).
bool refuse_arguments(const HmpCommand& command, std::string_view typed, std::string_view rest, HmpOutput& out)
{
    if (!command.params.empty() || rest.empty()) {
        return false;
    }
    out.line(std::string(command.name) + ": extraneous characters at the end of line");
    out.line("Try \"help " + std::string(typed) + "\" for more information");
    return true;
}

template <size_t N>
void list_commands(const std::array<HmpCommand, N>& table, std::string_view prefix, HmpOutput& out)
{
    for (const auto& command : table) {
        std::string line = std::string(prefix) + std::string(command.name) + " " + std::string(command.params) + " -- " +
                           std::string(command.help);
        out.line(line);
    }
}

void do_info(qapi::QmpContext& ctx, std::string_view args, HmpOutput& out)
{
    std::string_view rest = args;
    std::string_view sub = first_word(rest);
    if (sub.empty()) {
        list_commands(kInfoCommands, "info ", out);
        return;
    }
    for (const auto& command : kInfoCommands) {
        if (name_matches(command.name, sub)) {
            if (!refuse_arguments(command, "info " + std::string(sub), rest, out)) {
                command.handler(ctx, rest, out);
            }
            return;
        }
    }
    out.line("unknown command: 'info " + std::string(sub) + "'");
}

void do_help(qapi::QmpContext&, std::string_view args, HmpOutput& out)
{
    std::string_view rest = args;
    std::string_view topic = first_word(rest);
    if (topic == "info") {
        list_commands(kInfoCommands, "info ", out);
        return;
    }
    for (const auto& command : kCommands) {
        if (topic.empty() || name_matches(command.name, topic)) {
            // drive_add's synopsis spans lines; the monitor ends each with "\r\n".
            put_lines(out,
                std::string(command.name) + " " + std::string(command.params) + " -- " + std::string(command.help) +
                    "\n");
        }
    }
}

}  // namespace

std::string hmp_execute(qapi::QmpContext& ctx, std::string_view command_line)
{
    HmpOutput out;
    std::string_view rest = command_line;
    std::string_view name = first_word(rest);
    if (name.empty()) {
        return out.text;
    }
    for (const auto& command : kCommands) {
        if (name_matches(command.name, name)) {
            if (!refuse_arguments(command, name, rest, out)) {
                command.handler(ctx, rest, out);
            }
            return out.text;
        }
    }
    out.line("unknown command: '" + std::string(name) + "'");
    return out.text;
}

}  // namespace qemu::monitor

namespace qapi {

qemu::Result<std::string> qmp_human_monitor_command(QmpContext& ctx, const std::string& command_line,
                                                    const std::optional<int64_t>&)
{
    return qemu::monitor::hmp_execute(ctx, command_line);
}

}  // namespace qapi
