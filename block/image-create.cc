// Image creation by name, as QEMU's bdrv_img_create and qemu-img create share it (see
// image-create.h).
#include "block/image-create.h"

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "block/drivers.h"
#include "util/qemu-option.h"

namespace qemu::block {

std::vector<CreateOptionDesc> merged_create_opts(std::string_view format, std::string_view filename)
{
    std::vector<CreateOptionDesc> merged;
    const BlockDriver* driver = find_driver(format);
    const BlockDriver* protocol = protocol_for_filename(filename);
    if (!driver || !protocol) {
        return merged;
    }
    for (const BlockDriver* list : {driver, protocol}) {
        for (const CreateOptionDesc& desc : list->create_opts) {
            if (std::ranges::none_of(merged, [&](const auto& d) { return d.name == desc.name; })) {
                merged.push_back(desc);
            }
        }
    }
    return merged;
}

Result<void> parse_create_options(std::string_view list, CreateRequest& request)
{
    auto parsed = QemuOpts::parse(list);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    auto descs = merged_create_opts(request.format, request.filename);
    for (const auto& [key, value] : parsed->entries()) {
        auto desc = std::ranges::find_if(descs, [&](const auto& d) { return d.name == key; });
        if (desc == descs.end()) {
            return make_error("Invalid parameter '" + key + "'");
        }
        std::string stored = value;
        switch (desc->type) {
        case CreateOptType::Size:
            // Sizes are kept (and printed) as the number they parse to.
            stored = std::to_string(TRY(parse_option_size(key, value)));
            break;
        case CreateOptType::Number:
            stored = std::to_string(TRY(parse_option_number(key, value)));
            break;
        case CreateOptType::Bool:
            TRY_VOID(parse_option_bool(key, value));
            break;
        case CreateOptType::String:
            break;
        }
        if (key == "size") {
            request.size = std::stoull(stored);
        } else {
            request.opts[key] = stored;
        }
    }
    return {};
}

std::string formatting_line(const CreateRequest& request)
{
    // The size is printed as the signed number QEMU keeps it in; the other options in the
    // merged list's order, given or defaulted.
    std::string line = "Formatting '" + request.filename + "', fmt=" + request.format;
    // qemu_opts_print's escaped_print: a string value doubles its commas.
    auto printed = [](const CreateOptionDesc& desc, std::string_view value) {
        std::string out;
        for (char c : value) {
            out += c;
            if (c == ',' && desc.type == CreateOptType::String) {
                out += ',';
            }
        }
        return out;
    };
    for (const CreateOptionDesc& desc : merged_create_opts(request.format, request.filename)) {
        if (desc.name == "size") {
            line += " size=" + std::to_string(static_cast<int64_t>(request.size.value_or(0)));
        } else if (auto it = request.opts.find(std::string(desc.name)); it != request.opts.end()) {
            line += " " + it->first + "=" + printed(desc, it->second);
        } else if (!desc.default_value.empty()) {
            line += " " + std::string(desc.name) + "=" + printed(desc, desc.default_value);
        }
    }
    return line;
}

Result<void> add_old_style_options(
    CreateRequest& request, const std::optional<std::string>& backing, const std::optional<std::string>& backing_format)
{
    auto descs = merged_create_opts(request.format, request.filename);
    auto knows = [&](std::string_view name) {
        return std::ranges::any_of(descs, [&](const CreateOptionDesc& d) { return d.name == name; });
    };
    if (backing) {
        if (!knows("backing_file")) {
            return make_error("Backing file not supported for file format '" + request.format + "'");
        }
        request.opts["backing_file"] = *backing;
    }
    if (backing_format) {
        if (!knows("backing_fmt")) {
            return make_error("Backing file format not supported for file format '" + request.format + "'");
        }
        request.opts["backing_fmt"] = *backing_format;
    }
    return {};
}

Result<void> create_image(const OpenContext& context, const CreateRequest& request)
{
    const BlockDriver* driver = find_driver(request.format);
    CreateOptions options{.filename = request.filename, .size = request.size.value_or(0), .opts = request.opts};
    return driver->create(context, options);
}

Result<void> img_create(
    const OpenContext& context, const ImageCreateRequest& request, const std::function<void(const std::string&)>& print)
{
    const BlockDriver* driver = find_driver(request.format);
    if (!driver) {
        return make_error("Unknown file format '" + request.format + "'");
    }
    const BlockDriver* protocol = protocol_for_filename(request.filename);
    if (!protocol) {
        return make_error("Unknown protocol '" + std::string(*protocol_prefix(request.filename)) + "'");
    }
    if (!driver->create) {
        return make_error("Format driver '" + request.format + "' does not support image creation");
    }
    if (!protocol->create) {
        return make_error(
            "Protocol driver '" + std::string(protocol->format_name) + "' does not support image creation");
    }
    CreateRequest create{.filename = request.filename, .format = request.format, .size = request.size};
    TRY_VOID(add_old_style_options(create, request.backing_file, request.backing_format));
    if (request.backing_file == request.filename) {
        return make_error("Error: Trying to create an image with the same filename as the backing file");
    }
    print(formatting_line(create));
    auto created = create_image(context, create);
    if (!created && created.error().errno_value == EFBIG) {
        return make_error("The image size is too large for file format '" + request.format + "'");
    }
    return created;
}

}  // namespace qemu::block
