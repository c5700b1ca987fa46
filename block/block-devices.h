// The emulator's block devices: its block graph (opening through the emulator's fd sets, so
// /dev/fdset/N works), the drives -drive created (a BlockBackend under a device id), and
// the nodes the monitor owns (-blockdev, blockdev-add) until blockdev-del drops them.
// Block-layer state, so the monitor's block commands reach it without the emulator.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "block/job.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu::block {

// QEMU's BlockBackendRootState: how a drive opens the medium blockdev-change-medium puts
// in, kept from the medium it had (or from -drive when it had none).
struct MediumFlags {
    bool read_write = true;
    bool cache_direct = false;
    bool no_flush = false;
    bool unmap = false;
    bool detect_zeroes = false;  // QEMU keeps whether it was on: unmap comes back as on
};

// blk_update_root_state: what a medium was opened with, for the next one.
MediumFlags medium_flags_of(const block::BlockNode& root);

// Where a -drive sits (QEMU's DriveInfo): its interface as BlockInterfaceType numbers
// them (0 is if=none), and its bus and unit there.
struct DriveSlot {
    int type = 0;
    int64_t bus = 0;
    int64_t unit = 0;
};

// One -drive: the backend a guest device would use, under its id.
struct Drive {
    std::string id;
    std::unique_ptr<block::BlockBackend> blk;  // null for a drive without a medium
    // What outlives a medium, as on QEMU's BlockBackend: the accounting, the write-cache
    // setting and the flags the next medium opens with.
    std::shared_ptr<block::BlockAcctStats> acct = std::make_shared<block::BlockAcctStats>();
    bool write_cache = true;
    MediumFlags medium;
    // The backend's permissions, which stay as qemu-io extended them (an empty drive's
    // backend takes none, as blk_new's).
    uint64_t perm = 0;
    uint64_t shared_perm = block::perm::kAll;
    DriveSlot slot;
    // Its I/O limits, which each medium's backend keeps to; null without limits.
    std::shared_ptr<block::ThrottleGroupMember> throttle;
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
    // On a node: its anonymous backend. Null with no drive either: drive_del took the
    // drive's medium and name, and the device kept the empty backend (and its accounting).
    std::unique_ptr<block::BlockBackend> blk;
    std::shared_ptr<block::BlockAcctStats> acct;
    std::shared_ptr<block::ThrottleGroupMember> throttle;  // that backend's I/O limits
};

// How -drive opens its image.
struct DriveOpenOptions {
    block::OpenFlags flags;
    bool writethrough = false;
    // stats-account-invalid and stats-account-failed (block/block-acct.h).
    bool account_invalid = true;
    bool account_failed = true;
    // stats-intervals.0, .1, ...: checked and added once a medium is open.
    std::vector<std::string> stats_intervals;
    // throttling.*: limits (checked already) and the group, by default the drive's id.
    std::optional<block::ThrottleConfig> throttle;
    std::optional<std::string> throttle_group;
};

// What block_set_io_throttle changes: the limits a drive or a device on a node keeps to,
// and the backend they apply to now (null for an empty drive).
struct ThrottleTarget {
    std::shared_ptr<block::ThrottleGroupMember>& member;
    block::BlockBackend* blk;
};

// What append_overlay did, for remove_overlay to undo.
struct AppendedOverlay {
    std::shared_ptr<block::BlockNode> overlay;
    std::shared_ptr<block::BlockNode> old;
    // The parent nodes that linked to the old node, and how.
    struct Link {
        std::shared_ptr<block::BlockNode> parent;
        std::string name;
        bool inherits;
    };
    std::vector<Link> relinked;
};

class BlockDevices {
public:
    explicit BlockDevices(OpenContext context) : m_graph(context) { }
    BlockDevices(const BlockDevices&) = delete;
    BlockDevices& operator=(const BlockDevices&) = delete;
    ~BlockDevices();

    block::BlockGraph& graph() { return m_graph; }
    // The clock the accounting of backends made from here takes its times on, and the
    // latency every request is given instead of its own (0: none; BlockAcctStats).
    void set_acct_clock(std::function<int64_t()> clock, int64_t fixed_latency_ns)
    {
        m_acct_clock = std::move(clock);
        m_acct_fixed_latency_ns = fixed_latency_ns;
    }

    // The clock I/O limits wait on; throttling is refused until there is one.
    void set_throttle_timers(block::ThrottleTimers& timers) { m_throttle_groups.emplace(timers); }
    // blk_io_limits_enable, _update_group, blk_set_io_limits and blk_io_limits_disable, as
    // block_set_io_throttle uses them: limits that enable nothing take the target out of
    // its group. A new member joins `group`, or else `default_group`.
    Result<void> set_io_limits(ThrottleTarget target, const block::ThrottleConfig& config,
        const std::optional<std::string>& group, const std::string& default_group);

    // Every request waiting for I/O limits goes now (a drain of every backend's limits).
    void release_throttled();

    // blockdev-add / -blockdev: opens a tree from flat options; its root needs a node-name.
    Result<void> add_node(block::BlockOptions options);
    // bdrv_open_blockdev_ref: `options[key]` names an existing node, or `key.*` are the
    // options of a new tree (read-write unless they say otherwise) that only the caller
    // holds.
    Result<std::shared_ptr<block::BlockNode>> open_ref(block::BlockOptions options, std::string_view key);
    // The background jobs (blockdev-create's).
    block::JobRegistry& jobs() { return m_jobs; }

    // blockdev-del, with QEMU's checks and messages.
    Result<void> del_node(std::string_view node_name);

    // -drive: a backend named `id` over a newly opened tree (or no medium without filename).
    Result<void> add_drive(std::string id, std::optional<std::string> filename, block::BlockOptions options,
        const DriveOpenOptions& how, DriveSlot slot = {});
    Drive* find_drive(std::string_view id);
    // drive_get: the drive at `slot`, if any.
    const Drive* drive_at(const DriveSlot& slot) const;
    // HMP drive_del of a -drive: its medium goes and its name with it; a device holding it
    // keeps an empty backend.
    void del_drive(std::string_view id);
    std::vector<Drive>& drives() { return m_drives; }
    // The drive whose backend sits on `node`, if any.
    Drive* drive_of(const block::BlockNode& node);

    // blk_remove_bs: the drive's medium goes once its requests have finished; the flags it
    // was opened with stay for the next. Nothing happens to a drive without one.
    void remove_medium(Drive& drive);
    // blockdev-change-medium's bdrv_open: `filename` with `medium`'s flags, in `format`
    // (probed without), read-write as `read_write` says or as the flags say.
    Result<std::shared_ptr<block::BlockNode>> open_medium(const MediumFlags& medium,
        std::optional<std::string> filename, const std::optional<std::string>& format, std::optional<bool> read_write);
    // blk_insert_bs: a drive without a medium takes `root` as its medium.
    Result<void> insert_medium(Drive& drive, std::shared_ptr<block::BlockNode> root);

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
    GuestDisk* guest_disk_on_drive(std::string_view drive_id)
    {
        return const_cast<GuestDisk*>(std::as_const(*this).guest_disk_on_drive(drive_id));
    }

    // Every node, newest root first, each followed by its children (the order
    // query-named-block-nodes lists them in).
    std::vector<block::BlockNode*> nodes_in_order();

    // blockdev-reopen: applies new options (read-only, auto-read-only for now) to a node.
    Result<void> reopen_node(block::BlockOptions options);

    // Whether a -drive or a device holds a backend on node (bdrv_has_blk).
    bool has_backend(const block::BlockNode& node);

    // bdrv_lookup_bs: the medium of the -drive called `device`, else the node called
    // `node_name`, with QEMU's errors.
    Result<block::BlockNode*> lookup_bs(
        const std::optional<std::string>& device, const std::optional<std::string>& node_name);
    // bdrv_get_device_or_node_name: the -drive the node is the medium of, else its name.
    std::string device_or_node_name(const block::BlockNode& node);
    // bdrv_is_root_node: no other node has it as a child.
    bool is_root_node(const block::BlockNode& node) const;
    // qmp_get_root_bs: lookup_bs(name, name), refused unless it is a root node.
    Result<block::BlockNode*> get_root_bs(const std::string& name);

    // bdrv_append (block/overlay.cc): `overlay` takes `old` as its backing file and takes
    // its place under every backend and parent node. On failure nothing changes.
    Result<AppendedOverlay> append_overlay(block::BlockNode& overlay, block::BlockNode& old);
    // Undoes append_overlay: the users go back to the old node and the overlay has no
    // backing file.
    void remove_overlay(const AppendedOverlay& appended);

private:
    // The backends whose root is `node`: a -drive's, a device's on a node.
    std::vector<block::BlockBackend*> backends_on(const block::BlockNode& node);

    // Declared first: nodes unregister from the graph when the members below drop them.
    block::BlockGraph m_graph;
    block::JobRegistry m_jobs;
    std::vector<Drive> m_drives;
    std::vector<GuestDisk> m_guest_disks;
    size_t m_anonymous_devices = 0;  // numbers device[N] in /machine/peripheral-anon
    std::vector<std::shared_ptr<block::BlockNode>> m_monitor_nodes;
    std::optional<block::ThrottleGroups> m_throttle_groups;
    std::function<int64_t()> m_acct_clock = block::BlockAcctStats::steady_now_ns;
    int64_t m_acct_fixed_latency_ns = 0;
};

}  // namespace qemu::block
