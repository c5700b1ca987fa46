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

// A guest-less disk device (-device virtio-blk-device, device_add): it holds its drive as
// a guest's disk controller would, with no guest behind it. On a -drive it takes that
// drive's backend; on a node (-blockdev, blockdev-add) it holds an anonymous backend. Either
// way query-block shows the drive attached and blockdev-del refuses the node.
struct GuestDisk {
    std::string id;  // the device's id ("virtio-disk0"); empty for a device without one
    std::string path;  // its QOM path: /machine/peripheral/ID or /machine/peripheral-anon/device[N]
    std::string model;  // "virtio-blk-device"
    std::string drive;  // the -drive it took; empty when it sits on a node
    std::unique_ptr<block::BlockBackend> blk;  // on a node: its anonymous backend
};

// How -drive opens its image.
struct DriveOpenOptions {
    block::OpenFlags flags;
    bool writethrough = false;
    // stats-account-invalid and stats-account-failed (block/block-acct.h).
    bool account_invalid = true;
    bool account_failed = true;
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

    // A device on `drive`, a -drive id or else a node name, with QEMU's errors. The caller
    // has checked id and model.
    Result<void> add_guest_disk(std::optional<std::string> id, std::string model, std::string_view drive);
    // Releases the device (by id or QOM path, as device_del finds it); a -drive it took goes
    // with it, as QEMU deletes a -drive together with its device. Returns what it was.
    Result<GuestDisk> del_guest_disk(std::string_view id_or_path);
    GuestDisk* find_guest_disk(std::string_view id_or_path);
    const std::vector<GuestDisk>& guest_disks() const { return m_guest_disks; }
    // The device holding -drive `drive_id`, if any.
    const GuestDisk* guest_disk_on_drive(std::string_view drive_id) const;

    // Every node, newest root first, each followed by its children (the order
    // query-named-block-nodes lists them in).
    std::vector<block::BlockNode*> nodes_in_order();

    // blockdev-reopen: applies new options (read-only, auto-read-only for now) to a node.
    Result<void> reopen_node(block::BlockOptions options);

private:
    // Whether a -drive or a device holds a backend on node.
    bool has_backend(const block::BlockNode& node);

    // Declared first: nodes unregister from the graph when the members below drop them.
    block::BlockGraph m_graph;
    std::vector<Drive> m_drives;
    std::vector<GuestDisk> m_guest_disks;
    size_t m_anonymous_devices = 0;  // numbers device[N] in /machine/peripheral-anon
    std::vector<std::shared_ptr<block::BlockNode>> m_monitor_nodes;
    // Monitor nodes and drive roots, in the order they were created.
    std::vector<block::BlockNode*> m_roots;
};

}  // namespace qemu::block
