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
    if (!flags.read_write && (node.perm() & (perm::kWrite | perm::kWriteUnchanged))) {
        // bdrv_node_refresh_perm: a user still writes through this node.
        if (node.read_only()) {
            return make_error("Block node is read-only");
        }
        return make_error("Read-only block node '" + node.node_name() + "' cannot support read-write users");
    }
    if (BlockNode* file = node.file()) {
        BlockOptions file_options = extract_subtree(options, "file");
        if (auto reference = take_string(options, "file"); reference && *reference != file->node_name()) {
            return cannot_change("file");
        }
        if (!file_options.empty()) {
            TRY_VOID(prepare(*file, std::move(file_options), &flags, plans));
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

FileAccessChange::~FileAccessChange()
{
    for (Swap& swap : m_swaps) {
        file_posix::FileState& s = file_posix::state_of(*swap.file);
        if (s.use_lock) {
            // An fd-set duplicate shares its open file description, and so its locks, with
            // the set's member, which stays open: the locks must go before the fd does.
            // Unlocking read locks this description holds cannot conflict with anybody.
            (void)file_posix::apply_lock_bytes(swap.old_fd.get(), 0, 0, true);
        }
        // swap.old_fd closes here (an fd-set duplicate goes back to its set).
    }
}

void FileAccessChange::undo()
{
    for (Swap& swap : m_swaps) {
        file_posix::FileState& s = file_posix::state_of(*swap.file);
        std::swap(s.fd, swap.old_fd);
        s.open_flags = swap.old_flags;
        file_posix::set_direct_alignment(s);
    }
    // The destructor now releases and closes the new descriptors instead.
}

Result<FileAccessChange> change_file_access(BlockGraph& graph, std::span<const FileAccess> wanted)
{
    // Open and lock every new descriptor first, so that a set lacking the mode, or a lock
    // refused, changes nothing.
    struct Fresh {
        BlockNode* file;
        int flags;
        QemuFd fd;
    };
    std::vector<Fresh> fresh;
    for (const FileAccess& access : wanted) {
        file_posix::FileState& s = file_posix::state_of(*access.file);
        int flags = wanted_flags(s.open_flags, access.read_write, access.direct);
        if (flags == s.open_flags) {
            continue;
        }
        QemuFd fd = TRY(qemu_open(graph.context(), access.file->filename(), flags));
        if (s.use_lock) {
            // QEMU's image locks are read locks, so the old and the new descriptor both
            // hold them until the change is committed: no other process can slip in.
            auto locked = file_posix::apply_lock_bytes(fd.get(), s.locked_perm, ~s.locked_shared & perm::kAll, false);
            if (!locked) {
                (void)file_posix::apply_lock_bytes(fd.get(), 0, 0, true);
                return std::unexpected(locked.error());
            }
        }
        fresh.push_back({access.file, flags, std::move(fd)});
    }
    FileAccessChange change;
    for (Fresh& f : fresh) {
        file_posix::FileState& s = file_posix::state_of(*f.file);
        change.m_swaps.push_back({f.file, std::move(s.fd), s.open_flags});
        s.fd = std::move(f.fd);
        s.open_flags = f.flags;
        file_posix::set_direct_alignment(s);
    }
    return change;
}

Result<void> reopen_file_access(BlockNode& node, bool read_write, std::optional<bool> direct)
{
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);
    std::vector<FileAccess> wanted;
    for (BlockNode* file : files) {
        wanted.push_back({file, read_write, direct});
    }
    FileAccessChange change = TRY(change_file_access(node.graph(), wanted));
    return {};  // committed as the change goes out of scope
}

Result<void> reopen(BlockNode& node, BlockOptions options)
{
    std::vector<Plan> plans;  // parents before their children
    TRY_VOID(prepare(node, std::move(options), nullptr, plans));
    const Plan& top = plans.front();
    // Each file node takes the access mode and O_DIRECT of its own plan: a child given
    // inline may set its own cache mode. One opened by reference follows the top node.
    std::vector<BlockNode*> files;
    collect_file_nodes(node, files);
    std::vector<FileAccess> wanted;
    for (BlockNode* file : files) {
        auto plan = std::ranges::find_if(plans, [&](const Plan& p) { return p.node == file; });
        const OpenFlags& flags = plan != plans.end() ? plan->flags : top.flags;
        bool direct = (file_posix::state_of(*file).open_flags & O_DIRECT) != 0;
        if (plan != plans.end() || top.cache_given) {
            direct = flags.cache_direct;
        }
        // auto-read-only keeps what the descriptor has; a writer reopens it when it comes.
        bool old_write = (file_posix::state_of(*file).open_flags & O_ACCMODE) == O_RDWR;
        bool read_write = flags.read_write && (!flags.auto_read_only || old_write);
        wanted.push_back({file, read_write, direct});
    }
    FileAccessChange change = TRY(change_file_access(node.graph(), wanted));
    for (const Plan& plan : plans) {
        if (!plan.node->driver().reopen) {
            continue;
        }
        BlockOptions given = plan.driver_options;
        auto done = plan.node->driver().reopen(*plan.node, given, plan.node->graph().context());
        if (!done) {
            // The driver changed nothing; the old descriptors come back as they were.
            change.undo();
            return done;
        }
    }
    for (const Plan& plan : plans) {
        plan.node->mutable_flags() = plan.flags;
        // What the driver took is now what the node has, for a later reopen to keep.
        BlockOptions updated = plan.node->open_options();
        for (std::string_view key : plan.node->driver().reopen_keys) {
            updated.erase(std::string(key));
        }
        updated.insert(plan.driver_options.begin(), plan.driver_options.end());
        plan.node->set_open_options(std::move(updated));
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
