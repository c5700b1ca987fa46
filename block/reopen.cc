// Reopening nodes: new descriptors through qemu_open for another access mode or O_DIRECT,
// and blockdev-reopen's checks of what may change.
#include "block/reopen.h"

#include <fcntl.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "block/drivers.h"
#include "block/file-posix.h"

namespace qemu::block {

namespace {

void collect_file_nodes(BlockNode& node, std::vector<BlockNode*>& out)
{
    if (&node.driver() == &kFileDriver) {
        out.push_back(&node);
        return;
    }
    for (BdrvChild& child : node.children()) {
        collect_file_nodes(*child.node, out);
    }
}

int access_flags(bool read_write)
{
    return read_write ? O_RDWR : O_RDONLY;
}

int wanted_flags(int current, bool read_write, std::optional<bool> direct)
{
    int flags = (current & ~O_ACCMODE) | access_flags(read_write);
    if (direct) {
        flags = *direct ? flags | O_DIRECT : flags & ~O_DIRECT;
    }
    return flags;
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
};

Result<void> prepare(BlockNode& node, BlockOptions options, std::vector<Plan>& plans)
{
    if (auto driver = take_string(options, "driver"); driver && *driver != node.driver().format_name) {
        return cannot_change("driver");
    }
    if (auto name = take_string(options, "node-name"); name && *name != node.node_name()) {
        return cannot_change("node-name");
    }
    bool cache_given = options.contains("cache.direct") || options.contains("cache.no-flush");
    // Left-out options take their defaults, except what the node cannot change anyway.
    OpenFlags flags{.read_write = true, .probed = node.flags().probed, .force_share = false};
    TRY_VOID(take_common_flags(options, flags));
    if (flags.force_share != node.flags().force_share) {
        return cannot_change("force-share");
    }
    if (BlockNode* file = node.file()) {
        BlockOptions file_options = extract_subtree(options, "file");
        if (auto reference = take_string(options, "file")) {
            if (*reference != file->node_name()) {
                return cannot_change("file");
            }
        } else if (!file_options.empty()) {
            TRY_VOID(prepare(*file, std::move(file_options), plans));
        }
    }
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
    plans.insert(plans.begin(), Plan{&node, flags, cache_given, std::move(driver_options)});
    return {};
}

}  // namespace

bool has_write_access(BlockNode& node)
{
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);
    for (BlockNode* file : files) {
        if ((file_posix::state_of(*file).open_flags & O_ACCMODE) != O_RDWR) {
            return false;
        }
    }
    return true;
}

Result<void> reopen_file_access(BlockNode& node, bool read_write, std::optional<bool> direct)
{
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);

    // Open every new descriptor first, so that a set lacking the mode changes nothing.
    std::vector<QemuFd> fresh;
    for (BlockNode* file : files) {
        file_posix::FileState& s = file_posix::state_of(*file);
        int flags = wanted_flags(s.open_flags, read_write, direct);
        if (flags == s.open_flags) {
            fresh.emplace_back();
            continue;
        }
        fresh.push_back(TRY(qemu_open(node.graph().context(), file->filename(), flags)));
    }
    for (size_t i = 0; i < files.size(); ++i) {
        if (!fresh[i].valid()) {
            continue;
        }
        file_posix::FileState& s = file_posix::state_of(*files[i]);
        if (s.use_lock) {
            // The new descriptor takes over the locks before the old one lets go of them,
            // so no other process can take a conflicting lock in between.
            (void)file_posix::apply_lock_bytes(fresh[i].get(), s.locked_perm, ~s.locked_shared & perm::kAll, false);
            (void)file_posix::apply_lock_bytes(s.fd.get(), 0, 0, true);
        }
        s.open_flags = wanted_flags(s.open_flags, read_write, direct);
        // The old descriptor is closed here (an fd-set duplicate goes back to its set).
        s.fd = std::move(fresh[i]);
        file_posix::set_direct_alignment(s);
    }
    return {};
}

Result<void> reopen(BlockNode& node, BlockOptions options)
{
    std::vector<Plan> plans;  // children first
    TRY_VOID(prepare(node, std::move(options), plans));
    const Plan& top = plans.back();
    bool read_only = !top.flags.read_write;
    bool want_write = !read_only && !top.flags.auto_read_only;
    bool old_write = has_write_access(node);
    bool old_direct = node.flags().cache_direct;
    std::optional<bool> direct;
    if (top.flags.cache_direct != old_direct) {
        direct = top.flags.cache_direct;
    }
    if (want_write || read_only || direct) {
        TRY_VOID(reopen_file_access(node, want_write || (!read_only && old_write), direct));
    }
    for (const Plan& plan : plans) {
        if (!plan.node->driver().reopen) {
            continue;
        }
        BlockOptions given = plan.driver_options;
        auto done = plan.node->driver().reopen(*plan.node, given, plan.node->graph().context());
        if (!done) {
            // Give the descriptors back their old mode; the driver changed nothing.
            (void)reopen_file_access(node, old_write, old_direct);
            return done;
        }
    }
    for (const Plan& plan : plans) {
        plan.node->mutable_flags() = plan.flags;
    }
    // Children opened by reference keep their own options, but follow the access mode,
    // and cache settings given explicitly, as QEMU's inherited options do.
    std::vector<BlockNode*> pending;
    for (BdrvChild& child : node.children()) {
        pending.push_back(child.node.get());
    }
    while (!pending.empty()) {
        BlockNode* current = pending.back();
        pending.pop_back();
        bool planned = std::ranges::any_of(plans, [&](const Plan& p) { return p.node == current; });
        if (!planned) {
            current->mutable_flags().read_write = top.flags.read_write;
            current->mutable_flags().auto_read_only = top.flags.auto_read_only;
            if (top.cache_given) {
                current->mutable_flags().cache_direct = top.flags.cache_direct;
                current->mutable_flags().no_flush = top.flags.no_flush;
            }
        }
        for (BdrvChild& child : current->children()) {
            pending.push_back(child.node.get());
        }
    }
    return {};
}

}  // namespace qemu::block
