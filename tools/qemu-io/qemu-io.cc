// qemu-io's main: the command line (QEMU 7.2's options and messages), opening the image,
// and the command loop, from -c arguments or interactively from stdin.
#include "block/qemu-io/qemu-io.h"

#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "util/fdset-cmdline.h"
#include "util/osdep.h"
#include "util/qemu-option.h"
#include "util/sandbox.h"

namespace qemu::qemu_io {

namespace {

void usage(const char* name)
{
    std::printf("Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
                "QEMU Disk exerciser\n"
                "\n"
                "  --object OBJECTDEF   define an object such as 'secret' for\n"
                "                       passwords and/or encryption keys\n"
                "  --image-opts         treat file as option string\n"
                "  -c, --cmd STRING     execute command with its arguments\n"
                "                       from the given string\n"
                "  -f, --format FMT     specifies the block driver to use\n"
                "  -r, --read-only      export read-only\n"
                "  -s, --snapshot       use snapshot file\n"
                "  -n, --nocache        disable host cache, short for -t none\n"
                "  -C, --copy-on-read   enable copy-on-read\n"
                "  -m, --misalign       misalign allocations for O_DIRECT\n"
                "  -k, --native-aio     use kernel AIO implementation\n"
                "                       (Linux only, prefer use of -i)\n"
                "  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
                "  -t, --cache=MODE     use the given cache mode for the image\n"
                "  -d, --discard=MODE   use the given discard mode for the image\n"
                "  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
                "                       specify tracing options\n"
                "                       see qemu-img(1) man page for full description\n"
                "  -U, --force-share    force shared permissions\n"
                "  -h, --help           display this help and exit\n"
                "  -V, --version        output version information and exit\n"
                "\n"
                "See '%s -c help' for information on available commands.\n"
                "\n"
                "See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
                "More information on the QEMU project at <https://qemu.org>.\n",
        name, name);
}

int command_loop(Session& session, const std::vector<std::string>& commands)
{
    int last_error = 0;
    if (!commands.empty()) {
        for (size_t i = 0; !session.quit && i < commands.size(); ++i) {
            int ret = run_command(session, commands[i]);
            if (ret < 0) {
                last_error = ret;
            }
        }
        return last_error;
    }
    std::string line;
    while (!session.quit) {
        std::printf("qemu-io> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) {
            break;
        }
        int ret = run_command(session, line);
        if (ret < 0) {
            last_error = ret;
        }
        std::fflush(stdout);
    }
    return last_error;
}

enum LongOnly { kImageOpts = 256, kObject, kAddFd, kSandbox };

}  // namespace

}  // namespace qemu::qemu_io

int main(int argc, char** argv)
{
    using namespace qemu::qemu_io;
    qemu::qemu_init_early_signals();
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {"cmd", required_argument, nullptr, 'c'},
        {"format", required_argument, nullptr, 'f'},
        {"read-only", no_argument, nullptr, 'r'},
        {"snapshot", no_argument, nullptr, 's'},
        {"nocache", no_argument, nullptr, 'n'},
        {"copy-on-read", no_argument, nullptr, 'C'},
        {"misalign", no_argument, nullptr, 'm'},
        {"native-aio", no_argument, nullptr, 'k'},
        {"aio", required_argument, nullptr, 'i'},
        {"discard", required_argument, nullptr, 'd'},
        {"cache", required_argument, nullptr, 't'},
        {"trace", required_argument, nullptr, 'T'},
        {"object", required_argument, nullptr, kObject},
        {"image-opts", no_argument, nullptr, kImageOpts},
        {"add-fd", required_argument, nullptr, kAddFd},
        {"sandbox", required_argument, nullptr, kSandbox},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    // As QEMU's error_init: messages name the program by its base name.
    const char* slash = std::strrchr(argv[0], '/');
    const char* progname = slash ? slash + 1 : argv[0];
    // --add-fd (ours, as the emulator's -add-fd): its descriptors go into these sets before
    // the image is opened, and `open` reaches them as /dev/fdset/N too.
    qemu::FdSetRegistry fdsets;
    std::vector<qemu::AddFdSpec> add_fds;
    std::optional<std::string> seal;  // --sandbox fs=deny, as given
    bool misalign = false;
    bool image_opts = false;
    OpenRequest request;
    std::vector<std::string> commands;
    std::optional<std::string> format;
    int c;
    while ((c = getopt_long(argc, argv, "hVc:d:f:rsnCmki:t:T:U", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case 's':
            error_report("snapshot=on is not supported");
            return 1;
        case 'n':
            request.flags.cache_direct = true;
            request.writethrough = false;
            break;
        case 'C':
            break;  // copy-on-read needs a backing file, which no driver here has
        case 'd':
            if (!parse_discard_mode(optarg, request)) {
                error_report(std::string("Invalid discard option: ") + optarg);
                return 1;
            }
            break;
        case 'f':
            format = optarg;
            break;
        case 'c':
            commands.emplace_back(optarg);
            break;
        case 'r':
            request.flags.read_write = false;
            break;
        case 'm':
            misalign = true;
            break;
        case 'k':
            request.aio = "native";
            break;
        case 'i':
            if (std::string_view(optarg) != "threads" && std::string_view(optarg) != "native" &&
                std::string_view(optarg) != "io_uring") {
                error_report(std::string("Invalid aio option: ") + optarg);
                return 1;
            }
            request.aio = optarg;
            break;
        case 't':
            if (!parse_cache_mode(optarg, request)) {
                error_report(std::string("Invalid cache option: ") + optarg);
                return 1;
            }
            break;
        case 'T':
            break;  // no trace events in this build
        case 'U':
            request.force_share = true;
            break;
        case 'V':
            std::printf("qemu-io version " QEMU_VERSION
                        "\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
            return 0;
        case 'h':
            usage(progname);
            return 0;
        case kImageOpts:
            image_opts = true;
            break;
        case kObject:
            // No user-creatable object type here: "help" lists none and ends the run.
            if (qemu::object_option_lists_types(optarg)) {
                std::printf("List of user creatable objects:\n");
                return 0;
            }
            error_report("--object is not supported");
            return 1;
        case kAddFd: {
            std::string option = std::string("--add-fd ") + optarg;
            auto spec = qemu::parse_add_fd_spec(option, optarg);
            if (!spec) {
                error_report(option + ": " + spec.error().desc);
                return 1;
            }
            add_fds.push_back(std::move(*spec));
            break;
        }
        case kSandbox: {
            auto opts = qemu::parse_tool_sandbox_options(optarg);
            if (!opts) {
                error_report(std::string("--sandbox ") + optarg + ": " + opts.error().desc);
                return 1;
            }
            seal = opts->deny_fs ? std::optional<std::string>(optarg) : std::nullopt;
            break;
        }
        default:
            usage(progname);
            return 1;
        }
    }
    if (argc - optind > 1) {
        usage(progname);
        return 1;
    }
    if (format && image_opts) {
        error_report("--image-opts and -f are mutually exclusive");
        return 1;
    }
    if (auto added = qemu::add_inherited_fds(fdsets, add_fds); !added) {
        error_report(added.error().desc);
        return 1;
    }
    // Without --add-fd, /dev/fdset/N names stay what they are in QEMU's qemu-io: paths.
    Session session(add_fds.empty() ? qemu::OpenContext{} : qemu::OpenContext{.fdsets = &fdsets});
    session.misalign = misalign;
    session.image_opts = image_opts;
    // --sandbox fs=deny (ours): sealed once the descriptors are in their sets, before the
    // image is opened.
    if (seal) {
        if (auto sealed = qemu::seal_filesystem(fdsets); !sealed) {
            error_report("--sandbox " + *seal + ": " + sealed.error().desc);
            return 1;
        }
    }
    if (argc - optind == 1) {
        qemu::block::BlockOptions options;
        bool opened;
        if (session.image_opts) {
            auto parsed = qemu::QemuOpts::parse(argv[optind]);
            if (!parsed) {
                error_report(parsed.error().desc);
                return 1;
            }
            for (const auto& [key, value] : parsed->entries()) {
                options[key] = value;
            }
            opened = open_file(session, std::nullopt, request, std::move(options));
        } else {
            if (format) {
                options.emplace("driver", *format);
            }
            opened = open_file(session, std::string(argv[optind]), request, std::move(options));
        }
        if (!opened) {
            return 1;
        }
    }
    // Requests on workers may wait at breakpoints until `resume`, as QEMU's do.
    session.aio.set_parking(true);
    int ret = command_loop(session, commands);
    // blk_unref at exit: the aio requests still in flight complete and report first.
    session.drain();
    session.blk.reset();
    std::fflush(stdout);
    return ret < 0 ? 1 : 0;
}
