// Opening nodes (bdrv_open): protocol selection, format probing, node names, the options
// every node understands, and permission propagation down the graph.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

#include "block/block.h"
#include "block/drivers.h"
#include "block/node-filename.h"
#include "qobject/json.h"
#include "util/qemu-option.h"

namespace qemu::block {

// The options every node takes, whatever its driver; children inherit them unless set.
Result<void> take_common_flags(BlockOptions& options, OpenFlags& flags)
{
    auto read_only = TRY(take_bool(options, "read-only"));
    flags.read_only_given = read_only.has_value();
    if (read_only) {
        flags.read_write = !*read_only;
    }
    if (auto value = TRY(take_bool(options, "auto-read-only"))) {
        flags.auto_read_only = *value;
    }
    if (auto value = TRY(take_bool(options, "cache.direct"))) {
        flags.cache_direct = *value;
    }
    if (auto value = TRY(take_bool(options, "cache.no-flush"))) {
        flags.no_flush = *value;
    }
    if (auto value = TRY(take_bool(options, "force-share"))) {
        flags.force_share = *value;
    }
    if (auto value = take_string(options, "discard")) {
        if (*value == "ignore" || *value == "off") {
            flags.unmap = false;
        } else if (*value == "unmap" || *value == "on") {
            flags.unmap = true;
        } else {
            return make_error("Invalid discard option");
        }
    }
    if (auto value = take_string(options, "detect-zeroes")) {
        if (*value == "off") {
            flags.detect_zeroes = DetectZeroes::Off;
        } else if (*value == "on") {
            flags.detect_zeroes = DetectZeroes::On;
        } else if (*value == "unmap") {
            flags.detect_zeroes = DetectZeroes::Unmap;
        } else {
            return make_error("invalid parameter value: " + *value);
        }
    }
    return {};
}

namespace {

// bdrv_open_driver: an image that describes more than memory can hold (a header claiming
// a billion blocks) fails its open with the text QEMU gives when g_try_malloc fails there,
// never with an abort.
Result<void> open_with_driver(
    const BlockDriver& driver, BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    auto failed = [&](int err) {
        return make_errno_error(
            err, node.filename().empty() ? "Could not open image" : "Could not open '" + node.filename() + "'");
    };
    try {
        auto opened = driver.open(node, options, context);
        // A driver that failed with a bare errno (no message of its own) gets the text
        // bdrv_open_driver gives such a failure.
        int err = opened ? 0 : opened.error().errno_value;
        if (err != 0 && opened.error().desc == std::strerror(err)) {
            return failed(err);
        }
        return opened;
    } catch (const std::bad_alloc&) {
        return failed(ENOMEM);
    } catch (const std::length_error&) {
        return failed(ENOMEM);
    }
}

// qdict_flatten: nested objects become dotted keys, arrays numbered ones; scalars become
// the text an option string would have carried.
Result<void> flatten_json(const JsonValue& value, const std::string& prefix, BlockOptions& out)
{
    if (value.is_object()) {
        for (const auto& [key, member] : value.items()) {
            TRY_VOID(flatten_json(member, prefix.empty() ? key : prefix + "." + key, out));
        }
    } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) {
            TRY_VOID(flatten_json(value[i], prefix + "." + std::to_string(i), out));
        }
    } else if (value.is_string()) {
        out.emplace(prefix, value.get<std::string>());
    } else if (value.is_boolean()) {
        out.emplace(prefix, value.get<bool>() ? "on" : "off");
    } else if (value.is_number_integer() || value.is_number_unsigned()) {
        out.emplace(prefix, value.dump());
    } else if (value.is_number_float()) {
        out.emplace(prefix, std::to_string(value.get<double>()));
    } else if (value.is_null() && (prefix == "backing" || prefix.ends_with(".backing"))) {
        // "backing": null asks for no backing file at all (BlockdevRefOrNull).
        out.emplace(prefix, "");
    } else {
        return make_error("Invalid parameter type for '" + prefix + "', expected: string");
    }
    return {};
}

// "json:{...}" pseudo-filenames carry the options themselves; options given directly win.
Result<void> absorb_json_filename(std::optional<std::string>& filename, BlockOptions& options)
{
    if (!filename || !filename->starts_with("json:")) {
        return {};
    }
    auto parsed = json_parse(std::string_view(*filename).substr(5));
    if (!parsed) {
        return std::unexpected(std::move(parsed.error().prepend("Could not parse the JSON options: ")));
    }
    if (!parsed->is_object()) {
        return make_error("Invalid JSON object given");
    }
    BlockOptions from_json;
    TRY_VOID(flatten_json(*parsed, "", from_json));
    for (auto& [key, value] : from_json) {
        options.emplace(key, std::move(value));
    }
    filename.reset();
    return {};
}

Result<void> refuse_leftovers(const BlockDriver& driver, const BlockOptions& options)
{
    if (options.empty()) {
        return {};
    }
    const std::string& key = options.begin()->first;
    if (!driver.protocol_name.empty()) {
        return make_error(
            "Block protocol '" + std::string(driver.format_name) + "' doesn't support the option '" + key + "'");
    }
    return make_error(
        "Block format '" + std::string(driver.format_name) + "' does not support the option '" + key + "'");
}

}  // namespace

std::string_view perm::name(int bit)
{
    switch (bit) {
    case 0:
        return "consistent read";
    case 1:
        return "write";
    case 2:
        return "write unchanged";
    case 3:
        return "resize";
    }
    return "unknown";
}

std::string perm::names(uint64_t perms)
{
    std::string out;
    for (int bit = 0; bit < kCount; ++bit) {
        if (perms & (uint64_t{1} << bit)) {
            out += (out.empty() ? "" : ", ") + std::string(name(bit));
        }
    }
    return out;
}

BlockOptions extract_subtree(BlockOptions& options, std::string_view prefix)
{
    BlockOptions subtree;
    std::string dotted = std::string(prefix) + ".";
    for (auto it = options.lower_bound(dotted); it != options.end() && it->first.starts_with(dotted);) {
        subtree.emplace(it->first.substr(dotted.size()), it->second);
        it = options.erase(it);
    }
    return subtree;
}

std::optional<std::string> take_string(BlockOptions& options, std::string_view key)
{
    auto it = options.find(std::string(key));
    if (it == options.end()) {
        return std::nullopt;
    }
    std::string value = std::move(it->second);
    options.erase(it);
    return value;
}

Result<std::optional<bool>> take_bool(BlockOptions& options, std::string_view key)
{
    auto value = take_string(options, key);
    if (!value) {
        return std::optional<bool>();
    }
    return std::optional<bool>(TRY(parse_option_bool(key, *value)));
}

Result<std::optional<uint64_t>> take_size(BlockOptions& options, std::string_view key)
{
    auto value = take_string(options, key);
    if (!value) {
        return std::optional<uint64_t>();
    }
    return std::optional<uint64_t>(TRY(parse_option_size(key, *value)));
}

void BlockGraph::warn(const std::string& text) const
{
    if (m_warn) {
        m_warn(text);
    } else {
        std::fputs(text.c_str(), stderr);
    }
}

Result<std::string> BlockGraph::take_node_name(BlockOptions& options)
{
    if (auto name = take_string(options, "node-name")) {
        if (!id_wellformed(*name)) {
            return make_error("Invalid node-name: '" + *name + "'");
        }
        if (m_by_name.contains(*name)) {
            return make_error("Duplicate nodes with node-name='" + *name + "'");
        }
        return *name;
    }
    // Generated names start with '#', which a user-given name never can.
    return "#block" + std::to_string(m_next_auto_name++);
}

BlockNode* BlockGraph::find_node(std::string_view node_name) const
{
    auto it = m_by_name.find(node_name);
    return it == m_by_name.end() ? nullptr : it->second;
}

std::vector<BlockNode*> BlockGraph::nodes() const
{
    std::vector<BlockNode*> result;
    for (const auto& [name, node] : m_by_name) {
        result.push_back(node);
    }
    return result;
}

static Result<void> check_force_share(const OpenFlags& flags)
{
    if (flags.force_share && flags.read_write) {
        return make_error("force-share=on can only be used with read-only images");
    }
    return {};
}

Result<std::shared_ptr<BlockNode>> BlockGraph::open_node(
    const BlockDriver& driver, std::string filename, BlockOptions options, OpenFlags flags)
{
    TRY_VOID(take_common_flags(options, flags));
    TRY_VOID(check_force_share(flags));
    std::string node_name = TRY(take_node_name(options));
    auto node = std::make_shared<BlockNode>(*this, driver, node_name, flags);
    BlockOptions given = options;
    if (driver.needs_filename) {
        given["filename"] = filename;
    }
    node->set_open_options(std::move(given));
    node->set_filename(std::move(filename));
    m_by_name.emplace(node_name, node.get());
    node->m_serial = ++m_node_serial;
    TRY_VOID(open_with_driver(driver, *node, options, m_context));
    TRY_VOID(refuse_leftovers(driver, options));
    refresh_filename(*node);
    return node;
}

Result<std::shared_ptr<BlockNode>> BlockGraph::open_protocol(
    std::optional<std::string> filename, BlockOptions options, OpenFlags flags)
{
    const BlockDriver* driver = nullptr;
    if (auto name = take_string(options, "driver")) {
        driver = find_driver(*name);
        if (!driver) {
            return make_error("Unknown driver '" + *name + "'");
        }
    }
    bool filename_given = filename.has_value();
    if (!filename) {
        filename = take_string(options, "filename");
    } else if (options.contains("filename")) {
        return make_error("Can't specify 'file' and 'filename' options at the same time");
    }
    if (!driver) {
        if (!filename) {
            return make_error("A block device must be specified for \"file\"");
        }
        if (auto prefix = protocol_prefix(*filename)) {
            driver = find_protocol(*prefix);
            if (!driver) {
                return make_error("Unknown protocol '" + std::string(*prefix) + "'");
            }
            if (!driver->parse_filename) {
                filename = filename->substr(prefix->size() + 1);
            }
        } else {
            driver = protocol_for_filename(*filename);
        }
    }
    if (driver->protocol_name.empty()) {
        // A format as the protocol layer: open it as a whole node of its own.
        return open(filename, std::move(options), flags);
    }
    if (driver->parse_filename && filename_given) {
        // bdrv_parse_filename: the driver takes the name apart into options.
        TRY_VOID(driver->parse_filename(*filename, options));
        filename.reset();
    }
    if (!driver->needs_filename) {
        if (filename) {
            // Given as an option, a name is one the driver does not know.
            options.emplace("filename", *filename);
        }
        return open_node(*driver, {}, std::move(options), flags);
    }
    if (!filename) {
        return make_error("The '" + std::string(driver->format_name) + "' block driver requires a file name");
    }
    return open_node(*driver, *filename, std::move(options), flags);
}

Result<std::shared_ptr<BlockNode>> BlockGraph::open_child(BlockOptions& options, std::string_view name,
    std::optional<std::string> filename, OpenFlags flags, bool allow_none)
{
    BlockOptions child_options = extract_subtree(options, name);
    if (auto reference = take_string(options, name)) {
        if (!child_options.empty()) {
            return make_error("Cannot reference an existing block device with additional options or a new filename");
        }
        BlockNode* existing = find_node(*reference);
        if (!existing) {
            return make_error("Cannot find device='" + *reference + "' nor node-name='" + *reference + "'");
        }
        return existing->shared_from_this();
    }
    if (child_options.empty() && !filename) {
        if (allow_none) {
            return std::shared_ptr<BlockNode>();
        }
        return make_error("A block device must be specified for \"" + std::string(name) + "\"");
    }
    OpenFlags child_flags = flags;
    child_flags.probed = false;
    child_flags.detect_zeroes = DetectZeroes::Off;
    child_flags.no_backing = false;
    auto child = TRY(open_protocol(std::move(filename), std::move(child_options), child_flags));
    child->m_opened_as_child = true;
    return child;
}

Result<std::shared_ptr<BlockNode>> BlockGraph::open(
    std::optional<std::string> filename, BlockOptions options, OpenFlags flags)
{
    TRY_VOID(absorb_json_filename(filename, options));
    const BlockDriver* driver = nullptr;
    if (auto it = options.find("driver"); it != options.end()) {
        driver = find_driver(it->second);
        if (!driver) {
            return make_error("Unknown driver '" + it->second + "'");
        }
        if (!driver->protocol_name.empty()) {
            return open_protocol(std::move(filename), std::move(options), flags);
        }
        options.erase(it);
    }

    // The format's own flags are read first so that the file child inherits them.
    TRY_VOID(take_common_flags(options, flags));
    TRY_VOID(check_force_share(flags));

    // Without a driver the image must be probed, so there has to be a file to probe.
    bool file_described = filename || std::ranges::any_of(options, [](const auto& entry) {
        return entry.first == "file" || entry.first.starts_with("file.");
    });
    if (!driver && !file_described) {
        return make_error("Must specify either driver or file");
    }
    std::shared_ptr<BlockNode> file = TRY(open_child(options, "file", filename, flags, false));

    bool probed = false;
    if (!driver) {
        int64_t length = TRY(file->length());
        if (length == 0) {
            driver = &kRawDriver;
        } else {
            std::array<uint8_t, kProbeBufSize> buf{};
            TRY_VOID(file->pread(0, std::span(buf).first(std::min<size_t>(buf.size(), length))));
            driver = probe_format(buf, file->filename());
            if (!driver) {
                return make_error("Could not determine image format: No compatible driver found");
            }
        }
        probed = true;
    }
    flags.probed = probed;

    // The backing child's options are the graph's, not the driver's (bdrv_open_backing_file
    // takes them out of the parent's options after the driver has had its own).
    BackingRequest backing{.options = extract_subtree(options, "backing"), .reference = take_string(options, "backing")};
    bool nulled = false;
    if (backing.reference && backing.reference->empty()) {
        // "backing": null (flattened to ""): no backing file, whatever the image names.
        backing.reference.reset();
        backing.options.clear();
        flags.no_backing = true;
        nulled = true;
    }

    std::string node_name = TRY(take_node_name(options));
    auto node = std::make_shared<BlockNode>(*this, *driver, node_name, flags);
    node->set_filename(file->filename());
    unsigned file_role = driver->is_filter_like ? child_role::kFiltered : child_role::kImage;
    node->add_child("file", std::move(file), file_role | child_role::kPrimary);
    node->set_backing_nulled(nulled);
    node->set_open_options(options);
    m_by_name.emplace(node_name, node.get());
    node->m_serial = ++m_node_serial;
    // As bdrv_open_child attaches it: the file is locked before the driver reads it, and
    // again once the driver has added its own children or changed a role.
    TRY_VOID(refresh_perm(*node));
    TRY_VOID(open_with_driver(*driver, *node, options, m_context));
    TRY_VOID(refuse_leftovers(*driver, options));
    if (!flags.no_backing) {
        TRY_VOID(open_backing(*node, std::move(backing)));
    }
    TRY_VOID(refresh_perm(*node));
    if (probed && driver->probed_write_warning && !node->read_only()) {
        warn(driver->probed_write_warning(node->filename()));
    }
    refresh_filename(*node);
    return node;
}

Result<void> BlockGraph::open_backing(BlockNode& node, BackingRequest request)
{
    std::optional<std::string> filename;
    if (!request.reference && !request.options.contains("file.filename")) {
        if (node.backing_file().empty() && request.options.empty()) {
            return {};
        }
        filename = TRY(full_backing_filename(node));
    }
    if (!node.driver().supports_backing) {
        return make_error("Driver doesn't support backing files");
    }
    std::shared_ptr<BlockNode> backing;
    if (request.reference) {
        if (!request.options.empty()) {
            return make_error("Cannot reference an existing block device with additional options or a new filename");
        }
        BlockNode* existing = find_node(*request.reference);
        if (!existing) {
            return make_error("Could not open backing file: Cannot find device='" + *request.reference +
                              "' nor node-name='" + *request.reference + "'");
        }
        if (existing == &node) {
            return make_error("Making '" + node.node_name() + "' a backing child of '" + node.node_name() +
                              "' would create a cycle");
        }
        backing = existing->shared_from_this();
    } else {
        // QEMU's implicit_backing: only a backing file opened from the image's name alone,
        // with no options of its own, counts as the image's; any option makes the node's
        // name spell the backing file out (json:).
        bool implicit = filename.has_value() && request.options.empty();
        if (!node.backing_format().empty() && !request.options.contains("driver")) {
            request.options.emplace("driver", node.backing_format());
        }
        // bdrv_backing_options: the cache mode and force-share are inherited, the backing
        // file is read-only unless its own options say otherwise, and nothing else is.
        OpenFlags child_flags{.read_write = false,
            .auto_read_only = false,
            .cache_direct = node.flags().cache_direct,
            .no_flush = node.flags().no_flush,
            .unmap = node.flags().unmap,
            .force_share = node.flags().force_share};
        auto opened = open(std::move(filename), std::move(request.options), child_flags);
        if (!opened) {
            return std::unexpected(std::move(opened.error().prepend("Could not open backing file: ")));
        }
        backing = std::move(*opened);
        if (implicit) {
            node.set_auto_backing_file(backing->filename());
        }
    }
    node.add_child("backing", std::move(backing), child_role::kCow);
    return {};
}

Result<std::string> full_backing_filename(BlockNode& node)
{
    const std::string& name = node.backing_file();
    if (name.empty()) {
        return make_error("The node names no backing file");
    }
    size_t stop = name.find_first_of(":/");
    if (name.starts_with('/') || (stop != std::string::npos && name[stop] == ':')) {
        return name;  // absolute, or with a protocol prefix
    }
    // bdrv_dirname: the directory of the file at the bottom of the `file` chain.
    BlockNode* bottom = &node;
    while (bottom->driver().protocol_name.empty() && bottom->file()) {
        bottom = bottom->file();
    }
    if (bottom->filename().empty() || bottom->filename().starts_with("json:")) {
        return make_error(
            "Cannot generate a base directory for " + std::string(bottom->driver().format_name) + " nodes");
    }
    return qemu_path_combine(bottom->filename(), name);
}

namespace {

// bdrv_default_perms for one child by its role, then the driver's own adjustment: what a
// node whose users hold `wanted` and share `shared` takes on `child`.
std::pair<uint64_t, uint64_t> child_perms(
    const BlockNode& node, const BdrvChild& child, uint64_t wanted, uint64_t shared)
{
    uint64_t child_perm = wanted;
    uint64_t child_shared = shared;
    if (child.role & child_role::kCow) {
        // Only reads go to a backing file, and others may change it only if this node's
        // users can live with changing data.
        child_perm = wanted & perm::kConsistentRead;
        child_shared = (shared & perm::kWrite) ? (perm::kWrite | perm::kResize) : 0;
        child_shared |= perm::kConsistentRead | perm::kWriteUnchanged;
    } else if (!(child.role & child_role::kFiltered)) {
        if (child.role & child_role::kMetadata) {
            // A writable format may write its metadata whether or not anyone writes
            // through it, and nobody else may change what it describes.
            if (!node.read_only()) {
                child_perm |= perm::kWrite | perm::kResize;
            }
            if (!node.flags().no_io) {
                child_perm |= perm::kConsistentRead;
            }
            child_shared &= ~(perm::kWrite | perm::kResize);
        }
        if (child.role & child_role::kData) {
            // The format may assume the size (fixed extents), may have to write where its
            // users only write unchanged data, and grows the file as it writes.
            child_shared &= ~perm::kResize;
            if (child_perm & perm::kWriteUnchanged) {
                child_perm |= perm::kWrite;
            }
            if (child_perm & perm::kWrite) {
                child_perm |= perm::kResize;
            }
        }
    }
    if (node.driver().child_perm) {
        node.driver().child_perm(node, child, wanted, child_perm, child_shared);
    }
    if (child.node->flags().force_share) {
        child_shared = perm::kAll;
    }
    return {child_perm, child_shared};
}

}  // namespace

Result<void> BlockGraph::refresh_perm(BlockNode& node)
{
    // bdrv_parent_perms_conflict: each user must share what every other one holds. The
    // newest users come first, as in QEMU's list of parents.
    std::vector<const BlockNode::PermUse*> users;
    for (const auto& [key, use] : node.m_users) {
        users.push_back(&use);
    }
    std::ranges::sort(users, [](const auto* a, const auto* b) { return a->serial > b->serial; });
    for (const BlockNode::PermUse* a : users) {
        for (const BlockNode::PermUse* b : users) {
            if (a == b || !(b->perm & ~a->shared)) {
                continue;
            }
            const std::string& name = node.node_name();
            return make_error("Permission conflict on node '" + name + "': permissions '" +
                perm::names(b->perm & ~a->shared) + "' are both required by " + b->who.description + " (uses node '" +
                name + "' as '" + b->who.child_name + "' child) and unshared by " + a->who.description +
                " (uses node '" + name + "' as '" + a->who.child_name + "' child).");
        }
    }
    uint64_t wanted = 0;
    uint64_t shared = perm::kAll;
    for (const BlockNode::PermUse* use : users) {
        wanted |= use->perm;
        shared &= use->shared;
    }
    if (node.flags().force_share) {
        shared = perm::kAll;
    }
    // bdrv_node_refresh_perm: writing never works on a read-only node. Resizing is refused
    // later, by the truncate itself ("Image is read-only").
    if ((wanted & (perm::kWrite | perm::kWriteUnchanged)) && node.read_only()) {
        if (node.m_leaving_read_write) {
            return make_error("Read-only block node '" + node.node_name() + "' cannot support read-write users");
        }
        return make_error("Block node is read-only");
    }
    if ((wanted & perm::kWrite) && !(wanted & perm::kResize)) {
        // bdrv_node_refresh_perm: a writer that may not resize would otherwise have to write
        // past the end of a partial last block. The alignment counts down the file chain,
        // as QEMU's block limits merge it upwards.
        uint64_t align = 1;
        for (BlockNode* at = &node; at; at = at->primary_child()) {
            align = std::max(align, at->request_alignment());
        }
        if (auto length = node.length(); align > 1 && length && static_cast<uint64_t>(*length) % align != 0) {
            return make_error("Cannot get 'write' permission without 'resize': "
                              "Image size is not a multiple of request alignment");
        }
    }
    for (BdrvChild& child : node.children()) {
        auto [child_perm, child_shared] = child_perms(node, child, wanted, shared);
        PermUser as_parent{&node, "node '" + node.node_name() + "'", child.name};
        TRY_VOID(set_perm(*child.node, as_parent, child_perm, child_shared));
    }
    if (node.driver().check_perm) {
        TRY_VOID(node.driver().check_perm(node, wanted, shared));
    }
    if (node.driver().set_perm) {
        node.driver().set_perm(node, wanted, shared);
    }
    node.m_perm = wanted;
    node.m_shared = shared;
    return {};
}

Result<void> BlockGraph::set_perm(BlockNode& node, const PermUser& user, uint64_t wanted, uint64_t shared)
{
    std::optional<BlockNode::PermUse> old;
    if (auto it = node.m_users.find(user.key); it != node.m_users.end()) {
        old = it->second;
    }
    node.m_users.insert_or_assign(
        user.key, BlockNode::PermUse{wanted, shared, user, old ? old->serial : ++m_perm_serial});
    auto done = refresh_perm(node);
    if (!done) {
        if (old) {
            node.m_users.insert_or_assign(user.key, *old);
        } else {
            node.m_users.erase(user.key);
        }
        // Back to what held before; that state was valid, so this cannot newly fail.
        (void)refresh_perm(node);
    }
    return done;
}

void BlockGraph::drop_perm(BlockNode& node, const void* user)
{
    if (node.m_users.erase(user)) {
        (void)refresh_perm(node);
    }
}

BlockNode::BlockNode(BlockGraph& graph, const BlockDriver& driver, std::string node_name, OpenFlags flags)
    : m_graph(graph), m_driver(&driver), m_node_name(std::move(node_name)), m_flags(flags)
{
}

BlockNode::~BlockNode()
{
    // bdrv_close: what a writeback cache holds is written out before the node goes (its
    // children flush as they go in turn). Like QEMU, a failure here has nobody to go to.
    if (m_state && !read_only()) {
        (void)flush();
    }
    for (BdrvChild& child : m_children) {
        m_graph.drop_perm(*child.node, this);
    }
    if (m_state && m_driver->close) {
        m_driver->close(*this);
    }
    m_state.reset();
    m_children.clear();
    auto it = m_graph.m_by_name.find(m_node_name);
    if (it != m_graph.m_by_name.end() && it->second == this) {
        m_graph.m_by_name.erase(it);
    }
}

const BdrvChild* BlockNode::child_link(std::string_view name) const
{
    auto it = std::ranges::find_if(m_children, [&](const BdrvChild& child) { return child.name == name; });
    return it != m_children.end() ? &*it : nullptr;
}

BlockNode* BlockNode::child(std::string_view name) const
{
    const BdrvChild* link = child_link(name);
    return link ? link->node.get() : nullptr;
}

void BlockNode::add_child(std::string name, std::shared_ptr<BlockNode> node, unsigned role)
{
    bool inherits = std::exchange(node->m_opened_as_child, false);
    if (name == "backing") {
        m_backing_holder = m_node_name;
    }
    m_children.push_back(BdrvChild{std::move(name), std::move(node), role, inherits});
}

void BlockNode::set_child_role(std::string_view name, unsigned role)
{
    for (BdrvChild& child : m_children) {
        if (child.name == name) {
            child.role = role;
        }
    }
}

void BlockGraph::refresh_filenames(BlockNode& node)
{
    refresh_filename(node);
    for (const auto& [name, parent] : m_by_name) {
        auto children = parent->children();
        if (std::ranges::any_of(children, [&](const BdrvChild& child) { return child.node.get() == &node; })) {
            refresh_filenames(*parent);
        }
    }
}

BlockNode* BlockGraph::backing_parent_of(const BlockNode& node) const
{
    for (const auto& [name, parent] : m_by_name) {
        if (parent->backing() == &node) {
            return parent;
        }
    }
    return nullptr;
}

std::vector<std::pair<BlockNode*, std::string>> BlockGraph::parents_of(const BlockNode& node) const
{
    std::vector<std::pair<BlockNode*, std::string>> parents;
    for (const auto& [name, parent] : m_by_name) {
        for (const BdrvChild& child : parent->m_children) {
            if (child.node.get() == &node) {
                parents.emplace_back(parent, child.name);
            }
        }
    }
    return parents;
}

Result<void> BlockGraph::replace_child(
    BlockNode& node, const std::string& name, std::shared_ptr<BlockNode> with, bool inherits)
{
    // Swaps in place, so the children keep their order; returns what was there and whether
    // it inherited.
    auto swap = [&node, &name](std::shared_ptr<BlockNode> in, bool inherits) {
        std::shared_ptr<BlockNode> out;
        bool out_inherits = false;
        auto it = std::ranges::find_if(node.m_children, [&](const BdrvChild& child) { return child.name == name; });
        if (it != node.m_children.end()) {
            out = std::move(it->node);
            out_inherits = it->inherits;
            if (in) {
                it->node = std::move(in);
                it->inherits = inherits;
            } else {
                node.m_children.erase(it);
            }
        } else if (in) {
            node.m_children.push_back(BdrvChild{name, std::move(in), child_role::kCow, inherits});
        }
        if (name == "backing" && node.backing()) {
            node.m_backing_holder = node.node_name();
        }
        if (out && node.child(name) && node.driver().child_replaced) {
            node.driver().child_replaced(node, *out, *node.child(name));
        }
        return std::pair(std::move(out), out_inherits);
    };
    bool is_backing = name == "backing";
    bool was_nulled = node.m_backing_nulled;
    auto [old, had_inherits] = swap(std::move(with), inherits);
    if (is_backing) {
        node.m_backing_nulled = !node.backing();
    }
    if (old) {
        drop_perm(*old, &node);
    }
    if (auto granted = refresh_perm(node); !granted) {
        if (BlockNode* refused = node.child(name)) {
            drop_perm(*refused, &node);
        }
        swap(old, had_inherits);
        node.m_backing_nulled = was_nulled;
        (void)refresh_perm(node);  // what held before was valid
        return granted;
    }
    refresh_filenames(node);
    return {};
}

bool BlockNode::backing_overridden() const
{
    if (!m_driver->supports_backing || m_flags.no_io) {
        return false;
    }
    if (BlockNode* current = backing()) {
        return current->filename() != m_auto_backing_file.value_or(m_backing_file);
    }
    return m_backing_nulled && !m_backing_file.empty();
}

}  // namespace qemu::block
