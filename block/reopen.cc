// Reopening nodes: new host access through the drivers' reopen capability, and
// blockdev-reopen's checks of what may change.
#include "block/reopen.h"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

namespace qemu::block {

namespace {

// The children a reopen reaches (bdrv_reopen_queue_child): only those the parent opened
// from its own options, not a node named by reference, which keeps its options whatever
// its parents become; not a backing file, which keeps its own (read-only) access whatever
// its overlay becomes; nor a `file` the reopen replaces (QEMU reopens neither the old
// child nor the new one).
bool reopen_reaches(const BdrvChild& child, std::span<BlockNode* const> replacing_file, const BlockNode& parent)
{
    return child.inherits && child.name != "backing" &&
        !(child.name == "file" && std::ranges::count(replacing_file, &parent));
}

// The nodes that hold something on the host to reopen; below them there is nothing more.
void collect_host_nodes(BlockNode& node, std::vector<BlockNode*>& out, std::span<BlockNode* const> replacing_file = {})
{
    if (node.driver().reopen_prepare) {
        out.push_back(&node);
        return;
    }
    for (BdrvChild& child : node.children()) {
        if (reopen_reaches(child, replacing_file, node)) {
            collect_host_nodes(*child.node, out, replacing_file);
        }
    }
}

Result<void> cannot_change(const std::string& key)
{
    // QEMU names the key within its own node ("locking", not "file.locking").
    return make_error("Cannot change the option '" + key + "'");
}

// A prepared reopen of one node: everything checked, nothing applied yet.
struct Plan {
    BlockNode* node;
    OpenFlags flags;
    bool cache_given;  // cache.* given explicitly: referenced children follow it
    BlockOptions driver_options;  // the given ones of the driver's reopen_keys
    // When `backing` names another child than the current: the new one (nullptr: none).
    bool change_backing = false;
    std::shared_ptr<BlockNode> new_backing;
    // When `file` names another node than the current file child: that node.
    std::shared_ptr<BlockNode> new_file;
};

bool has_descendant(BlockNode& node, const BlockNode& target)
{
    if (&node == &target) {
        return true;
    }
    for (BdrvChild& child : node.children()) {
        if (has_descendant(*child.node, target)) {
            return true;
        }
    }
    return false;
}

// The nodes below `node` that the reopen reaches without a plan of their own (children
// opened by reference): they keep their own options but follow the access mode, and
// cache settings given explicitly, as QEMU's inherited options do.
std::vector<BlockNode*> followers(
    BlockNode& node, std::span<const Plan> plans, std::span<BlockNode* const> replacing_file)
{
    std::vector<BlockNode*> out;
    std::vector<BlockNode*> pending{&node};
    while (!pending.empty()) {
        BlockNode* current = pending.back();
        pending.pop_back();
        if (current != &node && std::ranges::none_of(plans, [&](const Plan& p) { return p.node == current; }) &&
            std::ranges::find(out, current) == out.end()) {
            out.push_back(current);
        }
        for (BdrvChild& child : current->children()) {
            if (reopen_reaches(child, replacing_file, *current)) {
                pending.push_back(child.node.get());
            }
        }
    }
    return out;
}

// The node a `file` or `backing` reference names, if it may become that child of `node`.
Result<BlockNode*> referenced_child(BlockNode& node, const std::string& reference, std::string_view role)
{
    BlockNode* wanted = node.graph().find_node(reference);
    if (!wanted) {
        return make_error("Cannot find device='' nor node-name='" + reference + "'");
    }
    if (has_descendant(*wanted, node)) {
        return make_error("Making '" + wanted->node_name() + "' a " + std::string(role) + " child of '" +
            node.node_name() + "' would create a cycle");
    }
    return wanted;
}

// bdrv_reopen_parse_file_or_backing for `backing`: true, with the node it names in `out`
// (nullptr for null), when the backing child changes.
Result<bool> parse_backing(BlockNode& node, BlockOptions& options, std::shared_ptr<BlockNode>& out)
{
    auto backing = take_string(options, "backing");
    if (!backing) {
        // blockdev-reopen restates every option: a node with a backing file must say it.
        if (node.driver().supports_backing && !options.contains("backing.driver") &&
            (node.backing() || !node.backing_file().empty())) {
            return make_error("backing is missing for '" + node.node_name() + "'");
        }
        return false;
    }
    BlockNode* current = node.backing();
    if (backing->empty()) {
        return current != nullptr;
    }
    if (node.graph().find_node(*backing) == current && current) {
        return false;
    }
    BlockNode* wanted = TRY(referenced_child(node, *backing, "backing"));
    out = wanted->shared_from_this();
    return true;
}

Result<void> prepare(BlockNode& node, BlockOptions options, const OpenFlags* parent, std::vector<Plan>& plans)
{
    if (auto driver = take_string(options, "driver"); driver && *driver != node.driver().format_name) {
        return cannot_change("driver");
    }
    if (auto name = take_string(options, "node-name"); name && *name != node.node_name()) {
        return cannot_change("node-name");
    }
    bool cache_given = options.contains("cache.direct") || options.contains("cache.no-flush");
    // Left-out options take their defaults (a child's: its parent's new values), except
    // what the node cannot change anyway.
    OpenFlags flags{.read_write = true, .probed = node.flags().probed, .force_share = false};
    if (parent) {
        flags.read_write = parent->read_write;
        flags.auto_read_only = parent->auto_read_only;
        flags.cache_direct = parent->cache_direct;
        flags.no_flush = parent->no_flush;
        flags.unmap = node.flags().unmap;
    }
    TRY_VOID(take_common_flags(options, flags));
    if (flags.force_share != node.flags().force_share) {
        return cannot_change("force-share");
    }
    std::shared_ptr<BlockNode> new_file;
    if (BlockNode* file = node.file()) {
        BlockOptions file_options = extract_subtree(options, "file");
        if (auto reference = take_string(options, "file"); reference && *reference != file->node_name()) {
            new_file = TRY(referenced_child(node, *reference, "file"))->shared_from_this();
        }
        if (!file_options.empty()) {
            if (!node.child_link("file")->inherits) {
                // A file this node did not open takes no options from it.
                return cannot_change("file." + file_options.begin()->first);
            }
            TRY_VOID(prepare(*file, std::move(file_options), &flags, plans));
        }
    }
    std::shared_ptr<BlockNode> new_backing;
    bool change_backing = TRY(parse_backing(node, options, new_backing));
    // What the driver cannot take must keep the value it was opened with; what it can
    // take goes to its reopen.
    BlockOptions driver_options;
    for (const auto& [key, value] : options) {
        if (std::ranges::find(node.driver().reopen_keys, key) != node.driver().reopen_keys.end()) {
            driver_options.emplace(key, value);
            continue;
        }
        auto old = node.open_options().find(key);
        if (old == node.open_options().end() || old->second != value) {
            return cannot_change(key);
        }
    }
    plans.insert(plans.begin(),
        Plan{&node, flags, cache_given, std::move(driver_options), change_backing, std::move(new_backing),
            std::move(new_file)});
    return {};
}

}  // namespace

bool has_write_access(BlockNode& node)
{
    std::vector<BlockNode*> hosts;
    collect_host_nodes(node, hosts);
    return std::ranges::all_of(hosts, [](BlockNode* host) { return host->driver().host_access(*host).read_write; });
}

FileAccessChange::~FileAccessChange()
{
    for (BlockNode* node : m_prepared) {
        node->driver().reopen_commit(*node);
    }
}

void FileAccessChange::undo()
{
    for (BlockNode* node : m_prepared) {
        node->driver().reopen_abort(*node);
    }
    m_prepared.clear();
}

Result<FileAccessChange> change_file_access(BlockGraph&, std::span<const FileAccess> wanted)
{
    // Every node prepares before any commits, so that a set lacking the mode, or a lock
    // refused, changes nothing.
    FileAccessChange change;
    for (const FileAccess& access : wanted) {
        BlockNode& node = *access.file;
        HostAccess target = node.driver().host_access(node);
        target.read_write = access.read_write;
        target.direct = access.direct.value_or(target.direct);
        auto prepared = node.driver().reopen_prepare(node, target);
        if (!prepared) {
            change.undo();
            return std::unexpected(std::move(prepared).error());
        }
        change.m_prepared.push_back(&node);
    }
    return change;
}

Result<void> reopen(BlockNode& node, BlockOptions options)
{
    std::vector<Plan> plans;  // parents before their children
    TRY_VOID(prepare(node, std::move(options), nullptr, plans));
    const Plan& top = plans.front();
    std::vector<BlockNode*> replacing_file;
    for (const Plan& plan : plans) {
        if (plan.new_file) {
            replacing_file.push_back(plan.node);
        }
    }
    // New file and backing children first: they only need permissions, and a refusal
    // there must leave the descriptors alone. Undone if anything after them fails.
    struct Replaced {
        BlockNode* node;
        std::string name;
        std::shared_ptr<BlockNode> old;
        bool inherited;
    };
    std::vector<Replaced> replaced;
    auto restore_children = [&] {
        for (auto it = replaced.rbegin(); it != replaced.rend(); ++it) {
            (void)node.graph().replace_child(*it->node, it->name, std::move(it->old), it->inherited);
        }
    };
    auto replace = [&](BlockNode& parent, const std::string& name, std::shared_ptr<BlockNode> with) -> Result<void> {
        const BdrvChild* old = parent.child_link(name);
        std::shared_ptr<BlockNode> kept = old ? old->node : nullptr;
        bool inherited = old && old->inherits;
        TRY_VOID(node.graph().replace_child(parent, name, std::move(with)));
        replaced.push_back({&parent, name, std::move(kept), inherited});
        return {};
    };
    for (const Plan& plan : plans) {
        Result<void> done;
        if (plan.new_file) {
            done = replace(*plan.node, "file", plan.new_file);
        }
        if (done && plan.change_backing) {
            done = replace(*plan.node, "backing", plan.new_backing);
        }
        if (!done) {
            restore_children();
            return done;
        }
    }
    // The new flags count for permissions before any descriptor changes: a format that
    // becomes writable takes write on its file, and another user that does not share it
    // fails the reopen. The file descriptors that change then carry the new locks along.
    std::vector<std::pair<BlockNode*, OpenFlags>> old_flags;
    for (const Plan& plan : plans) {
        old_flags.emplace_back(plan.node, plan.node->flags());
        plan.node->mutable_flags() = plan.flags;
    }
    for (BlockNode* follower : followers(node, plans, replacing_file)) {
        old_flags.emplace_back(follower, follower->flags());
        if (!follower->flags().read_only_given) {
            follower->mutable_flags().read_write = top.flags.read_write;
            follower->mutable_flags().auto_read_only = top.flags.auto_read_only;
        }
        if (top.cache_given) {
            follower->mutable_flags().cache_direct = top.flags.cache_direct;
            follower->mutable_flags().no_flush = top.flags.no_flush;
        }
    }
    auto restore_flags = [&] {
        for (const auto& [changed, flags] : old_flags) {
            changed->mutable_flags() = flags;
        }
        // Back to permissions that held before: dropping them cannot fail.
        (void)node.graph().refresh_perm(node);
    };
    // bdrv_node_refresh_perm tells a node that is read-only already from one this reopen
    // makes read-only.
    for (const auto& [changed, flags] : old_flags) {
        changed->set_leaving_read_write(flags.read_write && changed->read_only());
    }
    auto perms = node.graph().refresh_perm(node);
    for (const auto& [changed, flags] : old_flags) {
        changed->set_leaving_read_write(false);
    }
    if (!perms) {
        restore_flags();
        restore_children();
        return perms;
    }
    // Each file node takes the access mode and O_DIRECT its new flags give it: a child
    // given inline may set its own cache mode; one opened by reference follows the top
    // node unless its own options said otherwise. Read after the permissions, which may
    // already have given an auto-read-only file its write descriptor.
    std::vector<BlockNode*> hosts;
    collect_host_nodes(node, hosts, replacing_file);
    std::vector<FileAccess> wanted;
    for (BlockNode* host : hosts) {
        const OpenFlags& flags = host->flags();
        HostAccess current = host->driver().host_access(*host);
        bool planned = std::ranges::any_of(plans, [&](const Plan& p) { return p.node == host; });
        bool direct = planned || top.cache_given ? flags.cache_direct : current.direct;
        // auto-read-only keeps what the descriptor has; a writer reopens it when it comes.
        bool read_write = flags.read_write && (!flags.auto_read_only || current.read_write);
        wanted.push_back({host, read_write, direct});
    }
    auto change = change_file_access(node.graph(), wanted);
    if (!change) {
        restore_flags();
        restore_children();
        return std::unexpected(std::move(change).error());
    }
    for (const Plan& plan : plans) {
        if (!plan.node->driver().reopen) {
            continue;
        }
        BlockOptions given = plan.driver_options;
        auto done = plan.node->driver().reopen(*plan.node, given, plan.node->graph().context());
        if (!done) {
            // The driver changed nothing; the old descriptors come back as they were.
            change->undo();
            restore_flags();
            restore_children();
            return done;
        }
    }
    for (const Plan& plan : plans) {
        // What the driver took is now what the node has, for a later reopen to keep.
        BlockOptions updated = plan.node->open_options();
        for (std::string_view key : plan.node->driver().reopen_keys) {
            updated.erase(std::string(key));
        }
        updated.insert(plan.driver_options.begin(), plan.driver_options.end());
        if (plan.new_file) {
            std::erase_if(updated, [](const auto& entry) { return entry.first.starts_with("file."); });
            updated.insert_or_assign("file", plan.new_file->node_name());
        }
        plan.node->set_open_options(std::move(updated));
    }
    // A driver option (raw's offset and size) may have changed what the node spans.
    node.graph().note_resize();
    return {};
}

Result<void> reopen_set_read_only(BlockNode& node, bool read_only)
{
    BlockOptions options;
    for (const auto& [key, value] : node.open_options()) {
        bool child = key == "file" || key == "backing" || key.starts_with("file.") || key.starts_with("backing.");
        if (!child) {
            options.emplace(key, value);
        }
    }
    const OpenFlags& flags = node.flags();
    auto on_off = [](bool on) { return std::string(on ? "on" : "off"); };
    options["read-only"] = on_off(read_only);
    options["auto-read-only"] = on_off(flags.auto_read_only);
    options["cache.direct"] = on_off(flags.cache_direct);
    options["cache.no-flush"] = on_off(flags.no_flush);
    options["force-share"] = on_off(flags.force_share);
    options["discard"] = flags.unmap ? "unmap" : "ignore";
    options["detect-zeroes"] = flags.detect_zeroes == DetectZeroes::Unmap ? "unmap"
        : flags.detect_zeroes == DetectZeroes::On                         ? "on"
                                                                          : "off";
    if (BlockNode* file = node.file()) {
        options["file"] = file->node_name();
    }
    if (node.driver().supports_backing) {
        options["backing"] = node.backing() ? node.backing()->node_name() : "";
    }
    return reopen(node, std::move(options));
}

}  // namespace qemu::block
