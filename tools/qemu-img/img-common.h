// What the qemu-img subcommands share: cache-mode names, opening an image through the block
// layer the way img_open does (read-only or not, -f/--image-opts, -U, cache modes), and the
// -o option lists, checked against each driver's create options.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "block/image-create.h"
#include "block/node-filename.h"
#include "util/error.h"

namespace qemu::img {

// bdrv_parse_cache_mode's result.
struct CacheMode {
    bool direct = false;
    bool no_flush = false;
    bool writethrough = false;
};

std::optional<CacheMode> parse_cache_mode(std::string_view mode);

// Where every image a subcommand opens or creates is looked up: the fd sets main filled
// from --add-fd, so /dev/fdset/N names reach them. main sets it once, before any
// subcommand runs; it is the one piece of process-wide state the subcommands share.
void set_open_context(OpenContext context);
const OpenContext& open_context();

// How one image is opened.
struct ImageRequest {
    std::string name;  // a filename, or an option string with image_opts
    std::optional<std::string> format;
    bool image_opts = false;
    bool read_write = false;
    bool force_share = false;
    bool resize = false;
    // info only looks at metadata: it takes no permission on the image.
    bool no_io = false;
    // BDRV_O_NO_BACKING: leave the backing file the image names closed (info, create -u).
    bool no_backing = false;
    // Refuse others writing meanwhile (only convert's sources do; BDRV_O_NO_SHARE).
    bool no_share = false;
    CacheMode cache;
    std::optional<std::string> aio;  // file.aio
};

// The graph and the backend over it; the graph outlives the backend, which points into it.
struct OpenImage {
    std::unique_ptr<block::BlockGraph> graph;
    std::unique_ptr<block::BlockBackend> blk;

    block::BlockNode& root() { return blk->root(); }
};

// img_open: on failure the error text is already "Could not open 'NAME': ...".
Result<OpenImage> open_image(const ImageRequest& request);

// The name QEMU shows for an opened image: the file's name, unless --image-opts or json:
// gave a driver's strong options (raw's offset or size, null-co's size: options a plain
// filename cannot carry), which makes it a json: name.
std::string image_display_name(block::BlockNode& root, const ImageRequest& request);

// QEMU prints a QDict (a json: name, a check report) in its hash order (node-filename.h).
using block::qdict_bucket;

// The protocol node at the bottom of a node's `file` chain.
block::BlockNode& protocol_node(block::BlockNode& node);

// A JSON string literal as QEMU's qemu-img writes one (quotes and backslashes escaped).
std::string json_string(std::string_view text);

// accumulate_options: several -o join with commas; a list must be non-empty and must not
// end in a lone comma.
bool is_valid_option_list(std::string_view list);
std::string accumulate_options(std::optional<std::string> previous, std::string_view next);
// has_help_option: "help" or "?" as an element of the list.
bool has_help_option(std::string_view list);

using block::add_old_style_options;
using block::CreateRequest;
using block::formatting_line;
using block::merged_create_opts;
using block::parse_create_options;

// -o help: the format's options alone, or with a filename those of the protocol too; 1 (with
// QEMU's message) for a format that is unknown or cannot create.
int print_create_help(std::string_view format, std::optional<std::string_view> filename);

}  // namespace qemu::img
