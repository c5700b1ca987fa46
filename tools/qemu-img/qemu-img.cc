// qemu-img's main: the global options (-h, -V, -T) and the table of subcommands.
#include <getopt.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "util/fdset-cmdline.h"
#include "util/osdep.h"
#include "util/qemu-option.h"
#include "util/sandbox.h"

namespace qemu::img {

namespace {

struct Command {
    std::string_view name;
    int (*handler)(int argc, char** argv);
};

// The subcommands this build has, in QEMU's order.
constexpr Command kCommands[] = {
    {"amend", img_amend},
    {"bench", img_bench},
    {"check", img_check},
    {"compare", img_compare},
    {"convert", img_convert},
    {"create", img_create},
    {"dd", img_dd},
    {"info", img_info},
    {"map", img_map},
    {"measure", img_measure},
    {"resize", img_resize},
    {"snapshot", img_snapshot},
};

// This build has no trace events, so a plain event name (not a pattern) names none; QEMU
// warns about that and carries on.
void warn_unknown_trace_event(std::string_view spec)
{
    auto opts = qemu::QemuOpts::parse(spec, "enable");
    if (!opts) {
        return;
    }
    auto event = opts->get("enable");
    if (event && *event != "help" && event->find_first_of("*?") == std::string::npos) {
        warn_report("trace event '" + *event + "' does not exist");
    }
}

}  // namespace

}  // namespace qemu::img

int main(int argc, char** argv)
{
    using namespace qemu::img;
    qemu::qemu_init_early_signals();
    // --add-fd (ours, as the emulator's -add-fd) may stand anywhere: the descriptors go into
    // their sets before any subcommand opens an image.
    auto add_fds = qemu::take_add_fd_args(argc, argv);
    if (!add_fds) {
        error_report(add_fds.error().desc);
        return 1;
    }
    qemu::FdSetRegistry fdsets;
    if (auto added = qemu::add_inherited_fds(fdsets, *add_fds); !added) {
        error_report(added.error().desc);
        return 1;
    }
    // --sandbox fs=deny (ours): sealed once the descriptors are in their sets, before any
    // image is opened.
    auto sandbox = qemu::take_option_values(argc, argv, "--sandbox");
    if (!sandbox) {
        error_report(sandbox.error().desc);
        return 1;
    }
    for (const std::string& value : *sandbox) {
        auto opts = qemu::parse_tool_sandbox_options(value);
        if (!opts) {
            error_report("--sandbox " + value + ": " + opts.error().desc);
            return 1;
        }
        if (opts->deny_fs) {
            if (auto sealed = qemu::seal_filesystem(fdsets); !sealed) {
                error_report("--sandbox " + value + ": " + sealed.error().desc);
                return 1;
            }
        }
    }
    // Without --add-fd, /dev/fdset/N names stay what they are in QEMU's qemu-img: paths.
    if (!add_fds->empty()) {
        set_open_context(qemu::OpenContext{.fdsets = &fdsets});
    }
    if (argc < 2) {
        return usage_error("Not enough arguments");
    }
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {"trace", required_argument, nullptr, 'T'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+:hVT:", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'V':
            std::printf("qemu-img version " QEMU_VERSION
                        "\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
            return 0;
        case 'T':
            warn_unknown_trace_event(optarg);
            break;
        default:
            break;
        }
    }
    if (optind >= argc) {
        return 0;
    }
    std::string_view name = argv[optind];
    char** command_argv = argv + optind;
    int command_argc = argc - optind;
    // Each subcommand parses its own options from the start of its argv.
    optind = 0;
    for (const Command& command : kCommands) {
        if (command.name == name) {
            int ret = command.handler(command_argc, command_argv);
            std::fflush(stdout);
            return ret;
        }
    }
    return usage_error("Command not found: " + std::string(name));
}
