// blkdebug's rules and the state machine they drive (QEMU's block/blkdebug.c semantics):
// an event activates the inject-error rules written for it (in the current state), which
// then fail matching requests until another event activates a different set; set-state
// rules move the state on their event; a breakpoint (qemu-io's `break`) suspends the
// request that raises its event. Nothing here touches a node, so the unit tests drive it
// directly; the driver (blkdebug.cc) calls it from its requests.
#pragma once

#include <cstdint>
#include <list>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "block/blkdebug/blkdebug-events.h"

namespace qemu::block {

// BlkdebugIOType: the requests an inject-error rule may fail.
enum class BlkdebugIoType { Read, Write, WriteZeroes, Discard, Flush, BlockStatus };
std::optional<BlkdebugIoType> parse_blkdebug_iotype(std::string_view name);

// Every request type but block status, what a rule without "iotype" fails.
constexpr uint64_t kDefaultIoTypeMask = 0x1f;

enum class RuleAction { InjectError, SetState, Suspend };

struct BlkdebugRule {
    BlkdebugEvent event = BlkdebugEvent::None;
    RuleAction action = RuleAction::InjectError;
    int state = 0;  // 0: any state
    // inject-error
    uint64_t iotype_mask = kDefaultIoTypeMask;
    int error = 0;  // as QEMU: 0 injects nothing, a negative one "succeeds" without I/O
    bool immediately = false;
    bool once = false;
    int64_t offset = -1;  // the byte a request must cover (sector * 512), -1 for any
    // set-state
    int new_state = 0;
    // suspend
    std::string tag;
};

// What a request meets: nothing, or the error a rule injects (QEMU returns -error, so a
// negative errno means "done" without touching the image).
struct Injection {
    int error = 0;
};

// What an event did that the caller must act on outside the lock.
struct EventOutcome {
    std::vector<std::string> suspended_tags;
    std::vector<uint64_t> suspended_ids;  // one per tag, for wait_resumed
};

class BlkdebugRules {
public:
    // Rules in the order QEMU adds them (every inject-error, then every set-state).
    explicit BlkdebugRules(std::vector<BlkdebugRule> rules);

    int state() const;
    // bdrv_debug_event: activates this event's inject-error rules (when it has any that
    // apply in this state), applies its set-state rules, and takes its breakpoints.
    // announce, if given, is called with each breakpoint's tag under the lock as it
    // suspends the request: its "Suspended" line comes before any resume can be printed.
    EventOutcome event(BlkdebugEvent event, const std::function<void(const std::string& tag)>& announce = {});
    // rule_check: the first active rule covering [offset, offset+bytes) for this request
    // type; a "once" rule that injects is dropped.
    std::optional<Injection> check(uint64_t offset, uint64_t bytes, BlkdebugIoType type);

    // qemu-io's breakpoints, QEMU's return values (0 or -errno).
    int add_breakpoint(std::string_view event, std::string_view tag);
    // Removes the breakpoints with this tag and resumes requests suspended under it; as in
    // QEMU 7.2, -ENOENT unless a breakpoint was removed, even when a request was resumed.
    // announce, if given, is called with each resumed request's tag under the lock, before
    // that request can run on: its "Resuming" line comes before anything the request prints.
    using Announce = std::function<void(const std::string& tag)>;
    int remove_breakpoint(std::string_view tag, std::vector<std::string>* resumed, const Announce& announce = {});
    int resume(std::string_view tag, const Announce& announce = {});
    bool is_suspended(std::string_view tag) const;
    // Marks the suspensions event() reported as waiting, so that resume_parked lets them
    // go from now on, even before their thread reaches wait_resumed.
    void mark_parked(std::span<const uint64_t> ids);
    // Blocks the calling thread (a worker's request) until the suspension `id` that
    // event() reported is resumed or its breakpoint removed.
    void wait_resumed(uint64_t id);
    // Resumes every request waiting in wait_resumed; returns their tags, newest first.
    std::vector<std::string> resume_parked(const Announce& announce = {});

private:
    using RuleList = std::list<BlkdebugRule>;
    void drop_rule(RuleList& list, RuleList::iterator it);

    mutable std::mutex m_lock;
    std::condition_variable m_resumed;
    int m_state = 1;
    std::vector<RuleList> m_rules;  // per event, in QEMU's processing order
    std::vector<BlkdebugRule*> m_active;
    struct Suspension {
        std::string tag;
        uint64_t id;
        bool parked = false;  // its request waits in wait_resumed
    };
    std::vector<Suspension> m_suspended;  // newest first
    uint64_t m_next_suspension = 0;
};

}  // namespace qemu::block
