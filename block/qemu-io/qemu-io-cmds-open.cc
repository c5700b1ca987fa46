// qemu-io's open, close and reopen: what the session has open and with which options.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "block/qemu-io/qemu-io-cmds.h"
#include "block/reopen.h"
#include "util/qemu-option.h"

namespace qemu::qemu_io {

namespace {

// The current settings of a node as a full reopen option set, so that a reopen changes
// only what it names (bdrv_reopen with keep_old_opts).
block::BlockOptions current_options(block::BlockNode& node)
{
    block::BlockOptions options = node.open_options();
    options["driver"] = std::string(node.driver().format_name);
    const block::OpenFlags& flags = node.flags();
    options["read-only"] = flags.read_write ? "off" : "on";
    options["auto-read-only"] = flags.auto_read_only ? "on" : "off";
    options["cache.direct"] = flags.cache_direct ? "on" : "off";
    options["cache.no-flush"] = flags.no_flush ? "on" : "off";
    options["discard"] = flags.unmap ? "unmap" : "ignore";
    options["force-share"] = flags.force_share ? "on" : "off";
    static constexpr const char* kDetect[] = {"off", "on", "unmap"};
    options["detect-zeroes"] = kDetect[static_cast<int>(flags.detect_zeroes)];
    if (block::BlockNode* file = node.file()) {
        options["file"] = file->node_name();
    }
    return options;
}

}  // namespace

int open_f(Session& s, const Command& cmd, int argc, char** argv)
{
    OpenRequest request;
    block::BlockOptions options;
    bool have_options = false;
    int c;
    while ((c = getopt(argc, argv, "snCro:ki:t:d:U")) != -1) {
        switch (c) {
        case 's':
            error_report("snapshot=on is not supported");
            return -EINVAL;
        case 'n':
            request.flags.cache_direct = true;
            request.writethrough = false;
            break;
        case 'C':
            break;  // copy-on-read has nothing to copy from without backing files
        case 'r':
            request.flags.read_write = false;
            break;
        case 'k':
            request.aio = "native";
            break;
        case 't':
            if (!parse_cache_mode(optarg, request)) {
                error_report(std::string("Invalid cache option: ") + optarg);
                return -EINVAL;
            }
            break;
        case 'd':
            if (!parse_discard_mode(optarg, request)) {
                error_report(std::string("Invalid discard option: ") + optarg);
                return -EINVAL;
            }
            break;
        case 'i':
            if (std::string_view(optarg) != "threads" && std::string_view(optarg) != "native" &&
                std::string_view(optarg) != "io_uring") {
                error_report(std::string("Invalid aio option: ") + optarg);
                return -EINVAL;
            }
            request.aio = optarg;
            break;
        case 'o': {
            if (s.image_opts) {
                std::printf("--image-opts and 'open -o' are mutually exclusive\n");
                return -EINVAL;
            }
            auto parsed = QemuOpts::parse(optarg);
            if (!parsed) {
                error_report(parsed.error().desc);
                return -EINVAL;
            }
            for (const auto& [key, value] : parsed->entries()) {
                options[key] = value;
            }
            have_options = true;
            break;
        }
        case 'U':
            request.force_share = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (s.image_opts && optind == argc - 1) {
        auto parsed = QemuOpts::parse(argv[optind]);
        if (!parsed) {
            error_report(parsed.error().desc);
            return -EINVAL;
        }
        for (const auto& [key, value] : parsed->entries()) {
            options[key] = value;
        }
        have_options = true;
        optind++;
    }
    (void)have_options;
    bool opened;
    if (optind == argc - 1) {
        opened = open_file(s, std::string(argv[optind]), request, std::move(options));
    } else if (optind == argc) {
        opened = open_file(s, std::nullopt, request, std::move(options));
    } else {
        return usage(cmd);
    }
    return opened ? 0 : -EINVAL;
}

int close_f(Session& s, const Command&, int, char**)
{
    s.blk.reset();
    return 0;
}

int reopen_f(Session& s, const Command& cmd, int argc, char** argv)
{
    block::BlockNode& root = s.blk->root();
    OpenRequest cache{.flags = root.flags(), .writethrough = !s.blk->write_cache_enabled()};
    bool read_write = !root.read_only();
    bool has_rw = false;
    bool has_cache = false;
    block::BlockOptions given;
    int c;
    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (!parse_cache_mode(optarg, cache)) {
                error_report(std::string("Invalid cache option: ") + optarg);
                return -EINVAL;
            }
            has_cache = true;
            break;
        case 'o': {
            auto parsed = QemuOpts::parse(optarg);
            if (!parsed) {
                error_report(parsed.error().desc);
                return -EINVAL;
            }
            for (const auto& [key, value] : parsed->entries()) {
                given[key] = value;
            }
            break;
        }
        case 'r':
        case 'w':
            if (has_rw) {
                error_report("Only one -r/-w option may be given");
                return -EINVAL;
            }
            read_write = c == 'w';
            has_rw = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind != argc) {
        return usage(cmd);
    }
    if (given.contains("read-only")) {
        if (has_rw) {
            error_report("Cannot set both -r/-w and 'read-only'");
            return -EINVAL;
        }
    } else {
        given["read-only"] = read_write ? "off" : "on";
    }
    if (given.contains("cache.direct") || given.contains("cache.no-flush")) {
        if (has_cache) {
            error_report("Cannot set both -c and the cache options");
            return -EINVAL;
        }
    } else {
        given["cache.direct"] = cache.flags.cache_direct ? "on" : "off";
        given["cache.no-flush"] = cache.flags.no_flush ? "on" : "off";
    }
    if (!read_write) {
        // As QEMU's qemu-io: going read-only with -r (or staying so) first gives up the
        // write permission, so the next write asks for it again and is refused.
        uint64_t keep = s.blk->perm() & ~(block::perm::kWrite | block::perm::kWriteUnchanged);
        if (auto dropped = s.blk->set_perm(keep, s.blk->shared_perm()); !dropped) {
            error_report(dropped.error().desc);
            return -EINVAL;
        }
    }
    block::BlockOptions options = current_options(root);
    for (auto& [key, value] : given) {
        options[key] = std::move(value);
    }
    if (std::ranges::any_of(options, [](const auto& kv) { return kv.first.starts_with("file."); })) {
        options.erase("file");  // the child is described inline instead
    }
    if (auto done = block::reopen(root, std::move(options)); !done) {
        error_report(done.error().desc);
        return -EINVAL;
    }
    s.blk->set_write_cache(!cache.writethrough);
    return 0;
}

}  // namespace qemu::qemu_io
