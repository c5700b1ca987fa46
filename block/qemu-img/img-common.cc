// Opening images and handling create options for qemu-img (see img-common.h).
#include "block/qemu-img/img-common.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>
#include <vector>

#include "block/drivers.h"
#include "block/file-posix.h"
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

Result<OpenImage> open_image(const ImageRequest& request)
{
    OpenImage image;
    image.graph = std::make_unique<block::BlockGraph>();
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
    block::OpenFlags flags{
        .read_write = request.read_write, .cache_direct = request.cache.direct, .no_flush = request.cache.no_flush};
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

namespace {

// QEMU prints a node's options from a hash table, in the order of this hash of the key
// (bucket by bucket), so the json: name lists its keys in that order too.
unsigned qdict_bucket(std::string_view key)
{
    uint32_t value = 0x238F13AFu * static_cast<uint32_t>(key.size());
    for (size_t i = 0; i < key.size(); ++i) {
        value += static_cast<uint32_t>(static_cast<unsigned char>(key[i])) << (i * 5 % 24);
    }
    return (1103515243u * value + 12345u) % 512;
}

std::string json_object(std::vector<std::pair<std::string, std::string>> members)
{
    std::stable_sort(members.begin(), members.end(),
        [](const auto& a, const auto& b) { return qdict_bucket(a.first) < qdict_bucket(b.first); });
    std::string out = "{";
    for (size_t i = 0; i < members.size(); ++i) {
        out += (i ? ", \"" : "\"") + members[i].first + "\": " + members[i].second;
    }
    return out + "}";
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

}  // namespace

std::string image_display_name(block::BlockNode& root, const ImageRequest& request)
{
    std::string plain = root.filename();
    bool is_raw = &root.driver() == &block::kRawDriver;
    bool is_vpc = &root.driver() == &block::kVpcDriver;
    if (!request.image_opts || (!is_raw && !is_vpc) || !root.file()) {
        return plain;
    }
    auto parsed = QemuOpts::parse(request.name);
    if (!parsed) {
        return plain;
    }
    // Only options that change what the image is (QEMU's strong runtime options) show: raw's
    // offset and size, vpc's force_size_calc. The key order is that of QEMU's QDict.
    std::vector<std::pair<std::string, std::string>> members;
    if (is_vpc) {
        if (auto value = parsed->get("force_size_calc")) {
            members.emplace_back("force_size_calc", json_string(*value));
        }
    }
    members.emplace_back("driver", json_string(root.driver().format_name));
    if (is_raw) {
        for (std::string_view key : {"offset", "size"}) {
            if (auto value = parsed->get(key)) {
                members.emplace_back(std::string(key), json_string(*value));
            }
        }
    }
    if (members.size() == 1) {
        return plain;
    }
    block::BlockNode& file = *root.file();
    members.emplace_back("file",
        json_object({{"driver", json_string(file.driver().format_name)}, {"filename", json_string(file.filename())}}));
    return "json:" + json_object(std::move(members));
}

block::BlockNode& protocol_node(block::BlockNode& node)
{
    block::BlockNode* at = &node;
    while (at->driver().protocol_name.empty() && at->file()) {
        at = at->file();
    }
    return *at;
}

std::optional<int64_t> allocated_file_size(block::BlockNode& node)
{
    block::BlockNode& bottom = protocol_node(node);
    if (&bottom.driver() != &block::kFileDriver) {
        return std::nullopt;
    }
    struct stat st { };
    if (fstat(block::file_posix::state_of(bottom).fd.get(), &st) != 0) {
        return std::nullopt;
    }
    return static_cast<int64_t>(st.st_blocks) * 512;
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

Result<void> parse_create_options(std::string_view list, CreateRequest& request)
{
    auto parsed = QemuOpts::parse(list);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    for (const auto& [key, value] : parsed->entries()) {
        if (key == "size") {
            auto size = parse_option_size(key, value);
            if (!size) {
                return std::unexpected(std::move(size).error());
            }
            request.size = *size;
        } else if (key == "nocow") {
            TRY_VOID(parse_option_bool(key, value));
            request.nocow = value;
        } else if (key == "preallocation") {
            request.preallocation = value;
        } else if (key == "extent_size_hint") {
            auto size = parse_option_size(key, value);
            if (!size) {
                return std::unexpected(std::move(size).error());
            }
            request.extent_size_hint = *size;
        } else {
            return make_error("Invalid parameter '" + key + "'");
        }
    }
    return {};
}

std::string formatting_line(const CreateRequest& request)
{
    // The size is printed as the signed number QEMU keeps it in.
    std::string line = "Formatting '" + request.filename + "', fmt=" + request.format +
        " size=" + std::to_string(static_cast<int64_t>(request.size.value_or(0)));
    if (request.nocow) {
        line += " nocow=" + *request.nocow;
    }
    if (request.preallocation) {
        line += " preallocation=" + *request.preallocation;
    }
    if (request.extent_size_hint) {
        line += " extent_size_hint=" + std::to_string(*request.extent_size_hint);
    }
    return line;
}

Result<void> create_image(const CreateRequest& request)
{
    const block::BlockDriver* driver = block::find_driver(request.format);
    // QEMU opens (creating) and empties the file before it finds these two errors, so an
    // empty file is left behind; do the same.
    auto fail_after_creating = [&](std::string message) -> Result<void> {
        TRY_VOID(driver->create({}, block::CreateOptions{.filename = request.filename}));
        return make_error(std::move(message));
    };
    block::Prealloc prealloc = block::Prealloc::Off;
    if (request.preallocation) {
        auto mode = block::parse_prealloc(*request.preallocation);
        if (!mode) {
            return make_error("invalid parameter value: " + *request.preallocation);
        }
        prealloc = *mode;
        if (prealloc == block::Prealloc::Metadata) {
            return fail_after_creating("Unsupported preallocation mode: metadata");
        }
    }
    uint64_t size = request.size.value_or(0);
    // Rounding up to whole sectors overflows past INT64_MAX, where ftruncate says EINVAL.
    if (size > static_cast<uint64_t>(INT64_MAX) - (block::kSectorSize - 1)) {
        return fail_after_creating("Could not resize file: Invalid argument");
    }
    size = (size + block::kSectorSize - 1) / block::kSectorSize * block::kSectorSize;
    block::CreateOptions options{.filename = request.filename, .size = size, .prealloc = prealloc};
    auto created = driver->create({}, options);
    if (!created) {
        Error error = std::move(created).error();
        if (error.errno_value == EFBIG) {
            return make_error("The image size is too large for file format '" + request.format + "'");
        }
        // The file layer's open failure reads as QEMU's create failure.
        std::string open_prefix = "Could not open '" + request.filename + "'";
        if (error.desc.starts_with(open_prefix)) {
            error.desc.replace(0, open_prefix.size(), "Could not create '" + request.filename + "'");
        }
        return std::unexpected(std::move(error));
    }
    return {};
}

void print_create_help(std::string_view format, bool with_protocol)
{
    static constexpr const char* kFileOptions =
        "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n"
        "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on btrfs)\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)\n";
    if (with_protocol) {
        std::printf("Supported options:\n%s  size=<size>            - Virtual disk size\n", kFileOptions);
        return;
    }
    // The file protocol is itself a format one can create, with its own options.
    std::printf("Supported %.*s options:\n"
                "%s"
                "  size=<size>            - Virtual disk size\n"
                "\n"
                "The protocol level may support further options.\n"
                "Specify the target filename to include those options.\n",
        static_cast<int>(format.size()), format.data(), format == "file" ? kFileOptions : "");
}

}  // namespace qemu::img
