// QMP's transaction (QEMU's qmp_transaction): each action prepares in turn; when all have,
// every one commits, and when one fails, every one prepared so far is undone, newest
// first, so that the whole request happens or none of it does. The bitmap actions live
// beside the bitmap commands (qmp-cmds-bitmap.cc), the others in qmp-cmds-transaction.cc.
#pragma once

#include <functional>
#include <vector>

#include "monitor/qmp-context.h"
#include "qapi/qapi-types.h"
#include "util/error.h"

namespace qemu::monitor {

class Transaction {
public:
    // What an action that prepared does when the transaction succeeds, and what undoes its
    // prepare when it fails.
    void add(std::move_only_function<void()> commit, std::move_only_function<void()> abort);
    void commit();
    void abort();

private:
    struct Step {
        std::move_only_function<void()> commit;
        std::move_only_function<void()> abort;
    };
    std::vector<Step> m_steps;
};

// The dirty bitmap actions. Each works as its command does, with its undo: a bitmap that
// is to be removed stays until the commit, busy meanwhile; a cleared or merged bitmap gets
// its bits back, an enabled or disabled one its state.
Result<void> bitmap_add_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockDirtyBitmapAdd& action);
Result<void> bitmap_remove_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockDirtyBitmap& action);
Result<void> bitmap_clear_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockDirtyBitmap& action);
Result<void> bitmap_recording_action(
    qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockDirtyBitmap& action, bool recording);
Result<void> bitmap_merge_action(qapi::QmpContext& ctx, Transaction& txn, const qapi::BlockDirtyBitmapMerge& action);

}  // namespace qemu::monitor
