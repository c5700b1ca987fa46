// The emulator's block devices (see block-devices.h).
#include "block/block-devices.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "block/drivers.h"
#include "block/reopen.h"

namespace qemu::block {

namespace {

bool option_is_on(const block::BlockOptions& options, const std::string& key)
{
    auto it = options.find(key);
    return it != options.end() && (it->second == "on" || it->second == "true");
}

// With auto-read-only and no read-only, QEMU opens the image read-only and only asks for
// write access when a writer appears (raw_parse_flags with has_writers false). The nodes
// still count as read-write: only their descriptors are read-only for now.
Result<std::shared_ptr<block::BlockNode>> open_tree(
    block::BlockGraph& graph, std::optional<std::string> filename, block::BlockOptions options, block::OpenFlags flags)
{
    bool read_only = options.contains("read-only") ? option_is_on(options, "read-only") : !flags.read_write;
    bool auto_read_only =
        options.contains("auto-read-only") ? option_is_on(options, "auto-read-only") : flags.auto_read_only;
    bool deferred_write = !read_only && auto_read_only;
    if (deferred_write) {
        options["read-only"] = "on";
    }
    auto root = TRY(graph.open(std::move(filename), std::move(options), flags));
    if (deferred_write && root->flags().probed && root->driver().probed_write_warning) {
        // The graph warns only about read-write images, and this one was opened read-only.
        graph.warn(root->driver().probed_write_warning(root->filename()));
    }
    if (deferred_write) {
        std::vector<block::BlockNode*> pending = {root.get()};
        while (!pending.empty()) {
            block::BlockNode* node = pending.back();
            pending.pop_back();
            node->mutable_flags().read_write = true;
            node->mutable_flags().auto_read_only = true;
            for (block::BdrvChild& child : node->children()) {
                // Backing files stay read-only (auto-read-only is not passed to them).
                if (child.name != "backing") {
                    pending.push_back(child.node.get());
                }
            }
        }
    }
    return root;
}

// Whether -drive options without file= still ask for a node (QEMU's blockdev_init opens one
// whenever options are left once its own have been taken out: read-only, detect-zeroes,
// aio and the throttling and statistics settings). Only a drive with nothing left is empty;
// any other opens without a filename and fails as QEMU's does ("Must specify either driver
// or file", "A block device must be specified for \"file\"", ...), or opens a protocol
// that needs no filename (driver=null-co).
bool names_an_image(const block::BlockOptions& options)
{
    for (const auto& [key, value] : options) {
        if (key != "read-only" && key != "detect-zeroes" && key != "file.aio" && !key.starts_with("throttling.") &&
            !key.starts_with("stats-")) {
            return true;
        }
    }
    return false;
}

}  // namespace

MediumFlags medium_flags_of(const block::BlockNode& root)
{
    const block::OpenFlags& flags = root.flags();
    return MediumFlags{.read_write = flags.read_write,
        .cache_direct = flags.cache_direct,
        .no_flush = flags.no_flush,
        .unmap = flags.unmap,
        .detect_zeroes = flags.detect_zeroes != block::DetectZeroes::Off};
}

BlockDevices::~BlockDevices()
{
    // Backends first: they hold permissions (and image locks) on the nodes.
    m_guest_disks.clear();
    m_drives.clear();
    m_monitor_nodes.clear();
}

Result<void> BlockDevices::add_node(block::BlockOptions options)
{
    auto name = options.find("node-name");
    if (name == options.end()) {
        return make_error("'node-name' must be specified for the root node");
    }
    auto node = TRY(open_tree(m_graph, std::nullopt, std::move(options), block::OpenFlags{.read_write = true}));
    m_monitor_nodes.push_back(std::move(node));
    return {};
}

Result<std::shared_ptr<block::BlockNode>> BlockDevices::open_ref(block::BlockOptions options, std::string_view key)
{
    if (auto reference = block::take_string(options, key)) {
        // bdrv_lookup_bs: a drive's name first, then a node's.
        Drive* drive = find_drive(*reference);
        if (drive && !drive->blk) {
            return make_error("Device '" + *reference + "' has no medium");
        }
        block::BlockNode* node = drive ? &drive->blk->root() : m_graph.find_node(*reference);
        if (!node) {
            return make_error("Cannot find device='" + *reference + "' nor node-name='" + *reference + "'");
        }
        return node->shared_from_this();
    }
    return open_tree(m_graph, std::nullopt, block::extract_subtree(options, key), block::OpenFlags{.read_write = true});
}

Result<void> BlockDevices::del_node(std::string_view node_name)
{
    block::BlockNode* node = m_graph.find_node(node_name);
    if (!node) {
        return make_error("Failed to find node with node-name='" + std::string(node_name) + "'");
    }
    if (has_backend(*node)) {
        return make_error("Node " + std::string(node_name) + " is in use");
    }
    // The op blocker QEMU puts on a backing node (bdrv_backing_attach).
    if (block::BlockNode* parent = m_graph.backing_parent_of(*node)) {
        return make_error("Node '" + std::string(node_name) + "' is busy: node is used as backing hd of '" +
            parent->backing_holder() + "'");
    }
    auto owned = std::find_if(m_monitor_nodes.begin(), m_monitor_nodes.end(),
        [node](const std::shared_ptr<block::BlockNode>& held) { return held.get() == node; });
    if (owned == m_monitor_nodes.end()) {
        return make_error("Node " + std::string(node_name) + " is not owned by the monitor");
    }
    // Another node using it as a child holds a second reference.
    if (owned->use_count() > 1) {
        return make_error("Block device " + std::string(node_name) + " is in use");
    }
    m_monitor_nodes.erase(owned);
    return {};
}

Result<void> BlockDevices::add_drive(std::string id, std::optional<std::string> filename, block::BlockOptions options,
    const DriveOpenOptions& how, DriveSlot slot)
{
    if (find_drive(id)) {
        return make_error("Duplicate ID '" + id + "' for drive");
    }
    Drive drive{.id = std::move(id), .blk = nullptr};
    drive.write_cache = !how.writethrough;
    drive.slot = slot;
    drive.acct->set_clock(m_acct_clock, m_acct_fixed_latency_ns);
    if (how.throttle && how.throttle->enabled()) {
        // blockdev_init sets the limits whether or not a medium follows.
        TRY_VOID(set_io_limits(ThrottleTarget{drive.throttle, nullptr}, *how.throttle, how.throttle_group, drive.id));
    }
    if (!filename && !names_an_image(options)) {
        // blockdev_init's root state for an empty drive; its accounting keeps the defaults.
        drive.medium.read_write =
            options.contains("read-only") ? !option_is_on(options, "read-only") : how.flags.read_write;
        drive.medium.detect_zeroes = options.contains("detect-zeroes") && options.at("detect-zeroes") != "off";
        m_drives.push_back(std::move(drive));
        return {};
    }
    auto root = TRY(open_tree(m_graph, std::move(filename), std::move(options), how.flags));
    drive.acct->set_accounting(how.account_invalid, how.account_failed);
    // parse_stats_intervals: whole seconds, from 1 to UINT_MAX.
    for (const std::string& text : how.stats_intervals) {
        uint64_t length = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || length == 0 ||
            length > std::numeric_limits<unsigned>::max()) {
            return make_error("Invalid interval length: " + text);
        }
        drive.acct->add_interval(length);
    }
    // Without a guest device nobody writes yet; qemu-io and block_resize ask when they do.
    drive.perm = block::perm::kConsistentRead;
    TRY_VOID(insert_medium(drive, std::move(root)));
    m_drives.push_back(std::move(drive));
    return {};
}

void BlockDevices::remove_medium(Drive& drive)
{
    if (!drive.blk) {
        return;
    }
    drive.medium = medium_flags_of(drive.blk->root());
    drive.perm = drive.blk->perm();
    drive.shared_perm = drive.blk->shared_perm();
    drive.blk->drain();
    drive.blk.reset();
}

Result<std::shared_ptr<block::BlockNode>> BlockDevices::open_medium(const MediumFlags& medium,
    std::optional<std::string> filename, const std::optional<std::string>& format, std::optional<bool> read_write)
{
    // Without auto-read-only: a medium that cannot be written fails unless asked read-only.
    block::OpenFlags flags{.read_write = read_write.value_or(medium.read_write),
        .cache_direct = medium.cache_direct,
        .no_flush = medium.no_flush,
        .unmap = medium.unmap};
    block::BlockOptions options{{"detect-zeroes", medium.detect_zeroes ? "on" : "off"}};
    if (format) {
        options["driver"] = *format;
    }
    return open_tree(m_graph, std::move(filename), std::move(options), flags);
}

Result<void> BlockDevices::insert_medium(Drive& drive, std::shared_ptr<block::BlockNode> root)
{
    auto blk = TRY(block::BlockBackend::attach(root, drive.perm, drive.shared_perm, drive.id));
    blk->set_write_cache(drive.write_cache);
    blk->share_acct_stats(drive.acct);
    blk->set_throttle(drive.throttle);
    drive.blk = std::move(blk);
    return {};
}

Result<void> BlockDevices::set_io_limits(ThrottleTarget target, const block::ThrottleConfig& config,
    const std::optional<std::string>& group, const std::string& default_group)
{
    if (!m_throttle_groups) {
        return make_error("I/O throttling needs the emulator's main loop");
    }
    if (!config.enabled()) {
        if (target.member) {
            if (target.blk) {
                target.blk->drain();
                target.blk->set_throttle(nullptr);
            }
            target.member.reset();
        }
        return {};
    }
    if (!target.member) {
        target.member = m_throttle_groups->join(group.value_or(default_group));
        if (target.blk) {
            target.blk->set_throttle(target.member);
        }
    } else if (group) {
        if (target.blk) {
            target.blk->drain();
        }
        m_throttle_groups->move(*target.member, *group);
    }
    target.member->set_config(config);
    return {};
}

void BlockDevices::release_throttled()
{
    for (Drive& drive : m_drives) {
        if (drive.throttle) {
            drive.throttle->release_waiting();
        }
    }
    for (GuestDisk& disk : m_guest_disks) {
        if (disk.throttle) {
            disk.throttle->release_waiting();
        }
    }
}

Result<void> BlockDevices::add_guest_disk(std::optional<std::string> id, std::string model, std::string_view drive)
{
    GuestDisk disk{.id = id.value_or(""), .path = {}, .model = std::move(model), .drive = {}, .blk = nullptr};
    if (id && find_guest_disk(*id)) {
        return make_error("Duplicate device ID '" + *id + "'");
    }
    disk.path = id ? "/machine/peripheral/" + *id
                   : "/machine/peripheral-anon/device[" + std::to_string(m_anonymous_devices) + "]";
    const std::string property = "Property '" + disk.model + ".drive' ";
    if (Drive* taken = find_drive(drive)) {
        if (guest_disk_on_drive(drive)) {
            return make_error("Drive '" + std::string(drive) + "' is already in use by another device");
        }
        if (!taken->blk) {
            // QEMU's virtio-blk needs a medium.
            return make_error("Device needs media, but drive is empty");
        }
        disk.drive = std::string(drive);
    } else {
        block::BlockNode* node = m_graph.find_node(drive);
        if (!node) {
            return make_error(property + "can't find value '" + std::string(drive) + "'");
        }
        if (has_backend(*node)) {
            return make_error(property + "can't take value '" + std::string(drive) + "', it's in use");
        }
        // As a -drive's backend: no write permission until a writer (qemu-io) asks for it.
        // QEMU names it after the device (blk_get_attached_dev_id).
        disk.blk = TRY(block::BlockBackend::attach(
            node->shared_from_this(), block::perm::kConsistentRead, block::perm::kAll, id.value_or(disk.path)));
        disk.blk->acct_stats().set_clock(m_acct_clock, m_acct_fixed_latency_ns);
    }
    if (!id) {
        ++m_anonymous_devices;
    }
    m_guest_disks.push_back(std::move(disk));
    return {};
}

Result<GuestDisk> BlockDevices::del_guest_disk(std::string_view id_or_path)
{
    auto disk = std::find_if(m_guest_disks.begin(), m_guest_disks.end(),
        [id_or_path](const GuestDisk& d) { return (!d.id.empty() && d.id == id_or_path) || d.path == id_or_path; });
    if (disk == m_guest_disks.end()) {
        return make_error(ErrorClass::DeviceNotFound, "Device '" + std::string(id_or_path) + "' not found");
    }
    GuestDisk gone = std::move(*disk);
    m_guest_disks.erase(disk);
    const std::string& drive = gone.drive;
    if (!drive.empty()) {
        auto taken = std::find_if(m_drives.begin(), m_drives.end(), [&](const Drive& d) { return d.id == drive; });
        if (taken != m_drives.end()) {
            m_drives.erase(taken);
        }
    }
    gone.blk.reset();
    return gone;
}

GuestDisk* BlockDevices::find_guest_disk(std::string_view id_or_path)
{
    for (GuestDisk& disk : m_guest_disks) {
        if ((!disk.id.empty() && disk.id == id_or_path) || disk.path == id_or_path) {
            return &disk;
        }
    }
    return nullptr;
}

const GuestDisk* BlockDevices::guest_disk_on_drive(std::string_view drive_id) const
{
    for (const GuestDisk& disk : m_guest_disks) {
        if (!disk.drive.empty() && disk.drive == drive_id) {
            return &disk;
        }
    }
    return nullptr;
}

Drive* BlockDevices::find_drive(std::string_view id)
{
    for (Drive& drive : m_drives) {
        if (drive.id == id) {
            return &drive;
        }
    }
    return nullptr;
}

const Drive* BlockDevices::drive_at(const DriveSlot& slot) const
{
    for (const Drive& drive : m_drives) {
        if (drive.slot.type == slot.type && drive.slot.bus == slot.bus && drive.slot.unit == slot.unit) {
            return &drive;
        }
    }
    return nullptr;
}

void BlockDevices::del_drive(std::string_view id)
{
    auto drive = std::find_if(m_drives.begin(), m_drives.end(), [&](const Drive& d) { return d.id == id; });
    if (drive == m_drives.end()) {
        return;
    }
    remove_medium(*drive);
    for (GuestDisk& disk : m_guest_disks) {
        if (disk.drive == id) {
            disk.drive.clear();
            disk.acct = drive->acct;
        }
    }
    m_drives.erase(drive);
}

Drive* BlockDevices::drive_of(const block::BlockNode& node)
{
    for (Drive& drive : m_drives) {
        if (drive.blk && &drive.blk->root() == &node) {
            return &drive;
        }
    }
    return nullptr;
}

bool BlockDevices::has_backend(const block::BlockNode& node)
{
    return drive_of(node) || std::any_of(m_guest_disks.begin(), m_guest_disks.end(),
        [&node](const GuestDisk& disk) { return disk.blk && &disk.blk->root() == &node; });
}

std::vector<block::BlockNode*> BlockDevices::nodes_in_order()
{
    // QEMU lists the nodes newest first, in the order they got their names (a file child
    // before its format node), whatever the graph between them.
    std::vector<block::BlockNode*> result = m_graph.nodes();
    std::ranges::sort(result, std::ranges::greater{}, &block::BlockNode::serial);
    return result;
}

Result<block::BlockNode*> BlockDevices::lookup_bs(
    const std::optional<std::string>& device, const std::optional<std::string>& node_name)
{
    if (device) {
        if (Drive* drive = find_drive(*device)) {
            if (!drive->blk) {
                return make_error("Device '" + *device + "' has no medium");
            }
            return &drive->blk->root();
        }
    }
    if (node_name) {
        if (block::BlockNode* node = m_graph.find_node(*node_name)) {
            return node;
        }
    }
    return make_error(
        "Cannot find device='" + device.value_or("") + "' nor node-name='" + node_name.value_or("") + "'");
}

std::string BlockDevices::device_or_node_name(const block::BlockNode& node)
{
    const Drive* drive = drive_of(node);
    return drive ? drive->id : node.node_name();
}

bool BlockDevices::is_root_node(const block::BlockNode& node) const
{
    return m_graph.parents_of(node).empty();
}

Result<block::BlockNode*> BlockDevices::get_root_bs(const std::string& name)
{
    block::BlockNode* node = TRY(lookup_bs(name, name));
    if (!is_root_node(*node)) {
        return make_error("Need a root block node");
    }
    return node;
}

Result<void> BlockDevices::reopen_node(block::BlockOptions options)
{
    auto name = options.find("node-name");
    if (name == options.end()) {
        return make_error("node-name not specified");
    }
    block::BlockNode* node = m_graph.find_node(name->second);
    if (!node) {
        return make_error("Failed to find node with node-name='" + name->second + "'");
    }
    block::BlockNode* old_backing = node->backing();
    TRY_VOID(block::reopen(*node, std::move(options)));
    // The blocker on a backing child attached now names the drive the node is the medium of.
    if (Drive* drive = drive_of(*node); drive && node->backing() && node->backing() != old_backing) {
        node->set_backing_holder(drive->id);
    }
    return {};
}

}  // namespace qemu::block
