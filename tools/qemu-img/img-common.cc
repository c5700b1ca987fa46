// Opening images and handling create options for qemu-img (see img-common.h).
#include "tools/qemu-img/img-common.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "block/drivers.h"
#include "block/node-filename.h"
#include "tools/qemu-img/img-report.h"
#include "qobject/json.h"
#include "util/qemu-option.h"

namespace qemu::img {

std::optional<CacheMode> parse_cache_mode(std::string_view mode)
{
    if (mode == "none" || mode == "off") {
        return CacheMode{.direct = true};
    }
    if (mode == "directsync") {
        return CacheMode{.direct = true, .writethrough = true};
    }
    if (mode == "writeback") {
        return CacheMode{};
    }
    if (mode == "unsafe") {
        return CacheMode{.no_flush = true};
    }
    if (mode == "writethrough") {
        return CacheMode{.writethrough = true};
    }
    return std::nullopt;
}

namespace {

OpenContext g_open_context;

}  // namespace

void set_open_context(OpenContext context)
{
    g_open_context = context;
}

const OpenContext& open_context()
{
    return g_open_context;
}

Result<OpenImage> open_image(const ImageRequest& request)
{
    OpenImage image;
    image.graph = std::make_unique<block::BlockGraph>(g_open_context);
    block::BlockOptions options;
    std::optional<std::string> filename;
    if (request.image_opts) {
        auto parsed = QemuOpts::parse(request.name);
        if (!parsed) {
            return std::unexpected(std::move(parsed).error());
        }
        for (const auto& [key, value] : parsed->entries()) {
            options[key] = value;
        }
    } else {
        filename = request.name;
        if (request.format) {
            options.emplace("driver", *request.format);
        }
    }
    if (request.aio) {
        options.emplace("file.aio", *request.aio);
    }
    // -U is the force-share option of every node, as QEMU passes it down the graph: a format
    // node's file child shares writing too, not only the backend.
    block::OpenFlags flags{.read_write = request.read_write,
        .cache_direct = request.cache.direct,
        .no_flush = request.cache.no_flush,
        .force_share = request.force_share && !request.read_write,
        .no_backing = request.no_backing,
        .no_io = request.no_io};
    auto fail = [&](Error error) -> Result<OpenImage> {
        error.prepend("Could not open '" + request.name + "': ");
        return std::unexpected(std::move(error));
    };
    // Sharing everything while writing would let two writers in; QEMU refuses before opening.
    if (request.force_share && request.read_write) {
        return fail(Error{.desc = "force-share=on can only be used with read-only images"});
    }
    if (request.no_io) {
        auto root = image.graph->open(filename, std::move(options), flags);
        if (!root) {
            return fail(std::move(root).error());
        }
        auto blk = block::BlockBackend::attach(std::move(*root), 0, block::perm::kAll);
        if (!blk) {
            return fail(std::move(blk).error());
        }
        image.blk = std::move(*blk);
    } else {
        block::BackendOpenOptions how{
            .flags = flags, .no_share = request.no_share, .force_share = request.force_share, .resize = request.resize};
        auto blk = block::BlockBackend::open(*image.graph, filename, std::move(options), how);
        if (!blk) {
            return fail(std::move(blk).error());
        }
        image.blk = std::move(*blk);
    }
    image.blk->set_write_cache(!request.cache.writethrough);
    return image;
}

std::string json_string(std::string_view text)
{
    std::string out = "\"";
    for (char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
        }
        out += ch;
    }
    return out + "\"";
}

namespace {

// The options as given, flattened to dotted keys, each as the JSON text QEMU would print
// for it: strings from an option list, typed values from a json: name.
using GivenOptions = std::map<std::string, std::string>;

void flatten_given(const JsonValue& value, const std::string& prefix, GivenOptions& out)
{
    if (value.is_object()) {
        for (const auto& [key, member] : value.items()) {
            flatten_given(member, prefix.empty() ? key : prefix + "." + key, out);
        }
    } else if (value.is_string()) {
        out.emplace(prefix, json_string(value.get<std::string>()));
    } else if (!value.is_array()) {
        out.emplace(prefix, value.dump());
    }
}

std::optional<GivenOptions> given_options(const ImageRequest& request)
{
    GivenOptions given;
    if (request.image_opts) {
        auto parsed = QemuOpts::parse(request.name);
        if (!parsed) {
            return std::nullopt;
        }
        for (const auto& [key, value] : parsed->entries()) {
            given[key] = json_string(value);  // the last one counts, as in QemuOpts
        }
    } else if (request.name.starts_with("json:")) {
        auto parsed = json_parse(std::string_view(request.name).substr(5));
        if (!parsed || !parsed->is_object()) {
            return std::nullopt;
        }
        flatten_given(*parsed, "", given);
    }
    return given;
}

}  // namespace

std::string image_display_name(block::BlockNode& root, const ImageRequest& request)
{
    auto given = given_options(request);
    if (!given) {
        return root.filename();
    }
    // The values as the user typed them: strings from an option list, typed from json:.
    auto json =
        block::json_filename(root, [&](block::BlockNode&, const std::string& key) -> std::optional<std::string> {
            auto it = given->find(key);
            return it == given->end() ? std::nullopt : std::optional(it->second);
        });
    return json ? "json:" + *json : root.filename();
}

block::BlockNode& protocol_node(block::BlockNode& node)
{
    block::BlockNode* at = &node;
    while (at->driver().protocol_name.empty() && at->file()) {
        at = at->file();
    }
    return *at;
}

bool is_valid_option_list(std::string_view list)
{
    if (list.empty()) {
        return false;
    }
    // An odd run of commas at the end is a separator with nothing after it.
    size_t commas = 0;
    for (size_t i = list.size(); i > 0 && list[i - 1] == ','; --i) {
        commas++;
    }
    return commas % 2 == 0;
}

std::string accumulate_options(std::optional<std::string> previous, std::string_view next)
{
    if (!previous) {
        return std::string(next);
    }
    return *previous + "," + std::string(next);
}

bool has_help_option(std::string_view list)
{
    auto parsed = QemuOpts::parse(list);
    if (!parsed) {
        return false;
    }
    for (const auto& [key, value] : parsed->entries()) {
        if (key == "help" || key == "?") {
            return true;
        }
    }
    return false;
}

namespace {

std::string_view type_name(block::CreateOptType type)
{
    switch (type) {
    case block::CreateOptType::String:
        return "str";
    case block::CreateOptType::Bool:
        return "bool (on/off)";
    case block::CreateOptType::Number:
        return "num";
    case block::CreateOptType::Size:
        return "size";
    }
    return "";
}

// qemu_opts_print_help: one line per option, sorted by name.
void print_option_lines(std::vector<block::CreateOptionDesc> descs)
{
    std::ranges::sort(descs, {}, &block::CreateOptionDesc::name);
    for (const block::CreateOptionDesc& desc : descs) {
        std::string left = std::string(desc.name) + "=<" + std::string(type_name(desc.type)) + ">";
        std::printf("  %-22s - %.*s\n", left.c_str(), static_cast<int>(desc.help.size()), desc.help.data());
    }
}

}  // namespace

int print_create_help(std::string_view format, std::optional<std::string_view> filename)
{
    const block::BlockDriver* driver = block::find_driver(format);
    if (!driver) {
        error_report("Unknown file format '" + std::string(format) + "'");
        return 1;
    }
    if (!driver->create) {
        error_report("Format driver '" + std::string(format) + "' does not support image creation");
        return 1;
    }
    if (filename) {
        std::printf("Supported options:\n");
        print_option_lines(merged_create_opts(format, *filename));
        return 0;
    }
    std::printf("Supported %.*s options:\n", static_cast<int>(format.size()), format.data());
    print_option_lines({driver->create_opts.begin(), driver->create_opts.end()});
    std::printf("\nThe protocol level may support further options.\n"
                "Specify the target filename to include those options.\n");
    return 0;
}

}  // namespace qemu::img
