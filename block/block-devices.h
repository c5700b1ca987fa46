// The emulator's block devices: its block graph (opening through the emulator's fd sets, so
// /dev/fdset/N works), the drives -drive created (a BlockBackend under a device id), and
// the nodes the monitor owns (-blockdev, blockdev-add) until blockdev-del drops them.
// Block-layer state, so the monitor's block commands reach it without the emulator.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu::block {

// One -drive: the backend a guest device would use, under its id.
struct Drive {
    std::string id;
    std::unique_ptr<block::BlockBackend> blk;  // null for a drive without a medium
};

// How -drive opens its image.
struct DriveOpenOptions {
    block::OpenFlags flags;
    bool writethrough = false;
};

class BlockDevices {
public:
    explicit BlockDevices(OpenContext context) : m_graph(context) { }
    BlockDevices(const BlockDevices&) = delete;
    BlockDevices& operator=(const BlockDevices&) = delete;
    ~BlockDevices();

    block::BlockGraph& graph() { return m_graph; }

    // blockdev-add / -blockdev: opens a tree from flat options; its root needs a node-name.
    Result<void> add_node(block::BlockOptions options);
    // blockdev-del, with QEMU's checks and messages.
    Result<void> del_node(std::string_view node_name);

    // -drive: a backend named `id` over a newly opened tree (or no medium without filename).
    Result<void> add_drive(
        std::string id, std::optional<std::string> filename, block::BlockOptions options, const DriveOpenOptions& how);
    Drive* find_drive(std::string_view id);
    std::vector<Drive>& drives() { return m_drives; }
    // The drive whose backend sits on `node`, if any.
    Drive* drive_of(const block::BlockNode& node);

    // Every node, newest root first, each followed by its children (the order
    // query-named-block-nodes lists them in).
    std::vector<block::BlockNode*> nodes_in_order();

    // blockdev-reopen: applies new options (read-only, auto-read-only for now) to a node.
    Result<void> reopen_node(block::BlockOptions options);

private:
    // Declared first: nodes unregister from the graph when the members below drop them.
    block::BlockGraph m_graph;
    std::vector<Drive> m_drives;
    std::vector<std::shared_ptr<block::BlockNode>> m_monitor_nodes;
    // Monitor nodes and drive roots, in the order they were created.
    std::vector<block::BlockNode*> m_roots;
};

}  // namespace qemu::block
