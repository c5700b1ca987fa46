// External snapshots in the graph (QEMU's bdrv_append and the undo of blockdev-snapshot):
// an overlay node takes a node as its backing file and takes that node's place under every
// backend and parent node, so that new writes land in the overlay.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "block/block-devices.h"

namespace qemu::block {

namespace {

// bdrv_recurse_has_child: `target` is `from` or lies somewhere below it.
bool reaches(BlockNode& from, const BlockNode& target)
{
    if (&from == &target) {
        return true;
    }
    return std::ranges::any_of(from.children(), [&](BdrvChild& child) { return reaches(*child.node, target); });
}

}  // namespace

std::vector<BlockBackend*> BlockDevices::backends_on(const BlockNode& node)
{
    std::vector<BlockBackend*> found;
    for (Drive& drive : m_drives) {
        if (drive.blk && &drive.blk->root() == &node) {
            found.push_back(drive.blk.get());
        }
    }
    for (GuestDisk& disk : m_guest_disks) {
        if (disk.blk && &disk.blk->root() == &node) {
            found.push_back(disk.blk.get());
        }
    }
    return found;
}

Result<AppendedOverlay> BlockDevices::append_overlay(BlockNode& overlay, BlockNode& old)
{
    if (reaches(old, overlay)) {
        return make_error(
            "Making '" + old.node_name() + "' a backing child of '" + overlay.node_name() + "' would create a cycle");
    }
    std::shared_ptr<BlockNode> top = overlay.shared_from_this();
    std::shared_ptr<BlockNode> below = old.shared_from_this();
    // Every parent moves to the overlay, except one below the overlay itself, which would
    // make a loop (should_update_child).
    std::vector<AppendedOverlay::Link> parents;
    for (auto& [parent, name] : m_graph.parents_of(old)) {
        if (!reaches(overlay, *parent)) {
            parents.push_back({parent->shared_from_this(), name, parent->child_link(name)->inherits});
        }
    }
    std::vector<BlockBackend*> backends = backends_on(old);

    TRY_VOID(m_graph.replace_child(overlay, "backing", below));
    std::vector<BlockBackend*> moved;
    std::vector<AppendedOverlay::Link> relinked;
    auto undo = [&] {
        // Each step is given back what it held before, which it can take again.
        for (auto it = relinked.rbegin(); it != relinked.rend(); ++it) {
            (void)m_graph.replace_child(*it->parent, it->name, below, it->inherits);
        }
        for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
            (void)(*it)->replace_root(below);
        }
        (void)m_graph.replace_child(overlay, "backing", nullptr);
    };
    for (BlockBackend* blk : backends) {
        if (auto moving = blk->replace_root(top); !moving) {
            undo();
            return std::unexpected(std::move(moving).error());
        }
        moved.push_back(blk);
    }
    for (const AppendedOverlay::Link& link : parents) {
        if (auto relinking = m_graph.replace_child(*link.parent, link.name, top); !relinking) {
            undo();
            return std::unexpected(std::move(relinking).error());
        }
        relinked.push_back(link);
    }
    return AppendedOverlay{std::move(top), std::move(below), std::move(relinked)};
}

void BlockDevices::remove_overlay(const AppendedOverlay& appended)
{
    // As QEMU's abort: the backing link goes first, then the users of the overlay return
    // to the old node (bdrv_replace_node), the parents as they were linked before.
    (void)m_graph.replace_child(*appended.overlay, "backing", nullptr);
    for (BlockBackend* blk : backends_on(*appended.overlay)) {
        (void)blk->replace_root(appended.old);
    }
    for (const AppendedOverlay::Link& link : appended.relinked) {
        if (link.parent->child(link.name) == appended.overlay.get()) {
            (void)m_graph.replace_child(*link.parent, link.name, appended.old, link.inherits);
        }
    }
}

}  // namespace qemu::block
