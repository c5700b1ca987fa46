// qemu-io's opening of an image into a session, and the cache and discard mode names its
// options take. Kept apart from main so that the emulator's HMP qemu-io can link the
// commands without the tool's command line.
#include <string>

#include "block/qemu-io/qemu-io.h"

namespace qemu::qemu_io {

bool parse_cache_mode(std::string_view mode, OpenRequest& request)
{
    if (mode == "off" || mode == "none") {
        request.flags.cache_direct = true;
        request.flags.no_flush = false;
        request.writethrough = false;
    } else if (mode == "directsync") {
        request.flags.cache_direct = true;
        request.flags.no_flush = false;
        request.writethrough = true;
    } else if (mode == "writeback") {
        request.flags.cache_direct = false;
        request.flags.no_flush = false;
        request.writethrough = false;
    } else if (mode == "unsafe") {
        request.flags.cache_direct = false;
        request.flags.no_flush = true;
        request.writethrough = false;
    } else if (mode == "writethrough") {
        request.flags.cache_direct = false;
        request.flags.no_flush = false;
        request.writethrough = true;
    } else {
        return false;
    }
    return true;
}

bool parse_discard_mode(std::string_view mode, OpenRequest& request)
{
    if (mode == "off" || mode == "ignore") {
        request.flags.unmap = false;
    } else if (mode == "on" || mode == "unmap") {
        request.flags.unmap = true;
    } else {
        return false;
    }
    return true;
}

bool open_file(
    Session& session, std::optional<std::string> name, const OpenRequest& request, block::BlockOptions options)
{
    if (session.blk) {
        error_report("file open already, try 'help close'");
        return false;
    }
    if (request.aio) {
        options.emplace("file.aio", *request.aio);
    }
    if (request.force_share) {
        options.emplace("force-share", "on");
    }
    block::BackendOpenOptions how{.flags = request.flags, .force_share = request.force_share};
    auto blk = block::BlockBackend::open(session.graph, name, std::move(options), how);
    if (!blk) {
        std::string prefix = name ? "can't open device " + *name + ": " : "can't open: ";
        error_report(prefix + blk.error().desc);
        return false;
    }
    session.blk = std::move(*blk);
    session.blk->set_write_cache(!request.writethrough);
    return true;
}

}  // namespace qemu::qemu_io
