// transaction and the snapshot commands (QEMU's blockdev.c): blockdev-snapshot and
// blockdev-snapshot-sync put an overlay over a node, as transaction actions or alone; the internal snapshot commands
// give QEMU's refusals, since no format here stores internal snapshots.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "block/block-devices.h"
#include "block/image-create.h"
#include "block/reopen.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "monitor/transaction.h"
#include "qapi/qapi-commands.h"

namespace qemu::monitor {

void Transaction::add(std::move_only_function<void()> commit, std::move_only_function<void()> abort)
{
    m_steps.push_back(Step{std::move(commit), std::move(abort)});
}

void Transaction::commit()
{
    for (Step& step : m_steps) {
        step.commit();
    }
    m_steps.clear();
}

void Transaction::abort()
{
    for (auto step = m_steps.rbegin(); step != m_steps.rend(); ++step) {
        step->abort();
    }
    m_steps.clear();
}

}  // namespace qemu::monitor

namespace {

using qemu::Result;
using qemu::block::BlockDevices;
using qemu::block::BlockNode;
using qemu::monitor::Transaction;

// What opens the overlay, once the old node has passed its checks.
using OverlayOpener = std::function<Result<std::shared_ptr<BlockNode>>(BlockNode& old)>;

// external_snapshot_prepare: the overlay goes over the node; the commit makes the old image
// read-only, the abort takes the overlay out again.
Result<void> external_snapshot(qapi::QmpContext& ctx, Transaction& txn, const std::optional<std::string>& device,
    const std::optional<std::string>& node_name, const OverlayOpener& open_overlay)
{
    BlockDevices& devices = ctx.host.block();
    BlockNode* old = TRY(devices.lookup_bs(device, node_name));
    // The op blocker a backing file has (bdrv_backing_attach).
    if (BlockNode* holder = devices.graph().backing_parent_of(*old)) {
        return qemu::make_error("Node '" + devices.device_or_node_name(*old) +
            "' is busy: node is used as backing hd of '" + holder->backing_holder() + "'");
    }
    if (!old->read_only() && !old->flush()) {
        return qemu::make_error("An IO error has occurred");
    }
    std::shared_ptr<BlockNode> overlay = TRY(open_overlay(*old));
    // Only an overlay nobody reads yet may get a backing file.
    if (overlay->perm() & qemu::block::perm::kConsistentRead) {
        return qemu::make_error("The overlay is already in use");
    }
    if (overlay->driver().is_filter) {
        return qemu::make_error("Filters cannot be used as overlays");
    }
    if (overlay->backing()) {
        return qemu::make_error("The overlay already has a backing image");
    }
    if (!overlay->driver().supports_backing) {
        return qemu::make_error("The overlay does not support backing images");
    }
    qemu::block::AppendedOverlay appended = TRY(devices.append_overlay(*overlay, *old));
    std::shared_ptr<BlockNode> kept = appended.old;
    txn.add(
        // QEMU ignores a failure here: the old image then stays writable.
        [kept] { (void)qemu::block::reopen_set_read_only(*kept, true); },
        [&devices, appended = std::move(appended)] { devices.remove_overlay(appended); });
    return {};
}

// blockdev-snapshot: the overlay is a node the monitor opened.
Result<void> snapshot_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockdevSnapshot& action)
{
    return external_snapshot(ctx, txn, action.node, action.node, [&](BlockNode&) -> Result<std::shared_ptr<BlockNode>> {
        return TRY(ctx.host.block().lookup_bs(action.overlay, action.overlay))->shared_from_this();
    });
}

// blockdev-snapshot-sync: the overlay is created by name (bdrv_img_create, naming the old
// image as its backing file) unless it exists already, and opened with the old node's
// flags and without its backing file, which the snapshot then attaches.
Result<void> snapshot_sync_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockdevSnapshotSync& action)
{
    // A host that disabled the command (the fuzzer: it would create files by any name)
    // refuses the action too.
    if (ctx.host.command_disabled("blockdev-snapshot-sync")) {
        return qemu::make_error(qemu::ErrorClass::CommandNotFound, "Command blockdev-snapshot-sync has been disabled");
    }
    BlockDevices& devices = ctx.host.block();
    auto open_overlay = [&](BlockNode& old) -> Result<std::shared_ptr<BlockNode>> {
        if (action.node_name && !action.snapshot_node_name) {
            return qemu::make_error("New overlay node-name missing");
        }
        if (action.snapshot_node_name && devices.lookup_bs(action.snapshot_node_name, action.snapshot_node_name)) {
            return qemu::make_error("New overlay node-name already in use");
        }
        std::string format = action.format.value_or("qcow2");
        if (action.mode.value_or(qapi::NewImageMode::absolute_paths) != qapi::NewImageMode::existing) {
            auto size = old.length();
            if (!size) {
                return qemu::make_errno_error(size.error().errno_value, "bdrv_getlength failed");
            }
            qemu::block::ImageCreateRequest create{.filename = action.snapshot_file,
                .format = format,
                .backing_file = old.filename(),
                .backing_format = std::string(old.driver().format_name),
                .size = static_cast<uint64_t>(*size)};
            // QEMU prints the line on the emulator's stdout, as bdrv_img_create does.
            TRY_VOID(qemu::block::img_create(devices.graph().context(), create, [](const std::string& line) {
                std::printf("%s\n", line.c_str());
                std::fflush(stdout);
            }));
        }
        qemu::block::BlockOptions options{{"driver", format}};
        if (action.snapshot_node_name) {
            options.emplace("node-name", *action.snapshot_node_name);
        }
        const qemu::block::OpenFlags& from = old.flags();
        qemu::block::OpenFlags flags{.read_write = from.read_write,
            .auto_read_only = from.auto_read_only,
            .cache_direct = from.cache_direct,
            .no_flush = from.no_flush,
            .unmap = from.unmap,
            .no_backing = true};
        return devices.graph().open(action.snapshot_file, std::move(options), flags);
    };
    return external_snapshot(ctx, txn, action.device, action.node_name, open_overlay);
}

// internal_snapshot_prepare: no driver here has bdrv_snapshot_create, and nor has any
// node below, so a writable root is refused for its format.
Result<void> internal_snapshot_action(qapi::QmpContext& ctx, const qapi::BlockdevSnapshotInternal& action)
{
    BlockNode* node = TRY(ctx.host.block().get_root_bs(action.device));
    if (node->read_only()) {
        return qemu::make_error("Device '" + action.device + "' is read only");
    }
    return qemu::make_error("Block format '" + std::string(node->driver().format_name) + "' used by device '" +
        action.device + "' does not support internal snapshots");
}

// action_check_completion_mode: none of these actions starts a job, so none can be
// grouped with others.
Result<void> check_completion_mode(const qapi::TransactionAction& action, qapi::ActionCompletionMode mode)
{
    if (mode != qapi::ActionCompletionMode::individual) {
        return qemu::make_error("Action '" + std::string(qapi::TransactionActionKind_str(action.type)) +
            "' does not support Transaction property completion-mode = " +
            std::string(qapi::ActionCompletionMode_str(mode)));
    }
    return {};
}

Result<void> prepare_action(
    qapi::QmpContext& ctx, Transaction& txn, const qapi::TransactionAction& action, qapi::ActionCompletionMode mode)
{
    using Kind = qapi::TransactionActionKind;
    if (action.type == Kind::abort) {
        return qemu::make_error("Transaction aborted using Abort action");
    }
    TRY_VOID(check_completion_mode(action, mode));
    const auto& u = action.u;
    switch (action.type) {
    case Kind::abort:
        break;
    case Kind::block_dirty_bitmap_add:
        return qemu::monitor::bitmap_add_action(ctx, txn, u.block_dirty_bitmap_add->data);
    case Kind::block_dirty_bitmap_remove:
        return qemu::monitor::bitmap_remove_action(ctx, txn, u.block_dirty_bitmap_remove->data);
    case Kind::block_dirty_bitmap_clear:
        return qemu::monitor::bitmap_clear_action(ctx, txn, u.block_dirty_bitmap_clear->data);
    case Kind::block_dirty_bitmap_enable:
        return qemu::monitor::bitmap_recording_action(ctx, txn, u.block_dirty_bitmap_enable->data, true);
    case Kind::block_dirty_bitmap_disable:
        return qemu::monitor::bitmap_recording_action(ctx, txn, u.block_dirty_bitmap_disable->data, false);
    case Kind::block_dirty_bitmap_merge:
        return qemu::monitor::bitmap_merge_action(ctx, txn, u.block_dirty_bitmap_merge->data);
    case Kind::blockdev_snapshot:
        return snapshot_action(ctx, txn, u.blockdev_snapshot->data);
    case Kind::blockdev_snapshot_sync:
        return snapshot_sync_action(ctx, txn, u.blockdev_snapshot_sync->data);
    case Kind::blockdev_snapshot_internal_sync:
        return internal_snapshot_action(ctx, u.blockdev_snapshot_internal_sync->data);
    }
    return {};
}

// qmp_transaction.
Result<void> run_transaction(
    qapi::QmpContext& ctx, const std::vector<qapi::TransactionAction>& actions, qapi::ActionCompletionMode mode)
{
    Transaction txn;
    for (const qapi::TransactionAction& action : actions) {
        if (auto prepared = prepare_action(ctx, txn, action, mode); !prepared) {
            txn.abort();
            return prepared;
        }
    }
    txn.commit();
    return {};
}

}  // namespace

namespace qapi {

qemu::Result<void> qmp_transaction(QmpContext& ctx, const std::vector<TransactionAction>& actions,
    const std::optional<TransactionProperties>& properties)
{
    ActionCompletionMode mode = ActionCompletionMode::individual;
    if (properties && properties->completion_mode) {
        mode = *properties->completion_mode;
    }
    return run_transaction(ctx, actions, mode);
}

qemu::Result<void> qmp_blockdev_snapshot(QmpContext& ctx, const std::string& node, const std::string& overlay)
{
    TransactionAction action{.type = TransactionActionKind::blockdev_snapshot};
    action.u.blockdev_snapshot = BlockdevSnapshotWrapper{.data = {.node = node, .overlay = overlay}};
    return run_transaction(ctx, {action}, ActionCompletionMode::individual);
}

qemu::Result<void> qmp_blockdev_snapshot_sync(QmpContext& ctx, const std::optional<std::string>& device,
    const std::optional<std::string>& node_name, const std::string& snapshot_file,
    const std::optional<std::string>& snapshot_node_name, const std::optional<std::string>& format,
    const std::optional<NewImageMode>& mode)
{
    TransactionAction action{.type = TransactionActionKind::blockdev_snapshot_sync};
    action.u.blockdev_snapshot_sync = BlockdevSnapshotSyncWrapper{.data = {.device = device,
                                                                      .node_name = node_name,
                                                                      .snapshot_file = snapshot_file,
                                                                      .snapshot_node_name = snapshot_node_name,
                                                                      .format = format,
                                                                      .mode = mode}};
    return run_transaction(ctx, {action}, ActionCompletionMode::individual);
}

qemu::Result<void> qmp_blockdev_snapshot_internal_sync(
    QmpContext& ctx, const std::string& device, const std::string& name)
{
    TransactionAction action{.type = TransactionActionKind::blockdev_snapshot_internal_sync};
    action.u.blockdev_snapshot_internal_sync =
        BlockdevSnapshotInternalWrapper{.data = {.device = device, .name = name}};
    return run_transaction(ctx, {action}, ActionCompletionMode::individual);
}

qemu::Result<SnapshotInfo> qmp_blockdev_snapshot_delete_internal_sync(QmpContext& ctx, const std::string& device,
    const std::optional<std::string>& id, const std::optional<std::string>& name)
{
    TRY(ctx.host.block().get_root_bs(device));
    if (!id && !name) {
        return qemu::make_error("Name or id must be provided");
    }
    // bdrv_snapshot_list finds no driver down the file children that lists snapshots.
    return qemu::make_errno_error(ENOTSUP, "Failed to get a snapshot list");
}

}  // namespace qapi
