// blkdebug's state machine (see blkdebug-rules.h). QEMU keeps each event's rules newest
// first and builds the active list by pushing to its front, so the first rule written in
// the config is the first an injected request matches, and of several set-state rules on
// one event the first written wins; the lists here keep those orders.
#include "block/blkdebug/blkdebug-rules.h"

#include <algorithm>
#include <array>
#include <cerrno>

namespace qemu::block {

std::optional<BlkdebugIoType> parse_blkdebug_iotype(std::string_view name)
{
    constexpr std::array<std::string_view, 6> kNames = {
        "read", "write", "write-zeroes", "discard", "flush", "block-status"};
    for (size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == name) {
            return static_cast<BlkdebugIoType>(i);
        }
    }
    return std::nullopt;
}

BlkdebugRules::BlkdebugRules(std::vector<BlkdebugRule> rules) : m_rules(kBlkdebugEventCount)
{
    for (BlkdebugRule& rule : rules) {
        m_rules[static_cast<size_t>(rule.event)].push_front(std::move(rule));
    }
}

int BlkdebugRules::state() const
{
    std::lock_guard guard(m_lock);
    return m_state;
}

void BlkdebugRules::drop_rule(RuleList& list, RuleList::iterator it)
{
    std::erase(m_active, &*it);
    list.erase(it);
}

EventOutcome BlkdebugRules::event(BlkdebugEvent event, const std::function<void(const std::string& tag)>& announce)
{
    std::lock_guard guard(m_lock);
    EventOutcome outcome;
    RuleList& list = m_rules[static_cast<size_t>(event)];
    int new_state = m_state;
    bool activated = false;
    for (auto it = list.begin(); it != list.end();) {
        auto next = std::next(it);
        BlkdebugRule& rule = *it;
        if (rule.state != 0 && rule.state != m_state) {
            it = next;
            continue;
        }
        switch (rule.action) {
        case RuleAction::InjectError:
            // The first applicable rule replaces whatever an earlier event activated.
            if (!activated) {
                m_active.clear();
                activated = true;
            }
            m_active.insert(m_active.begin(), &rule);
            break;
        case RuleAction::SetState:
            new_state = rule.new_state;
            break;
        case RuleAction::Suspend:
            // A breakpoint stops one request, then is gone.
            outcome.suspended_tags.push_back(rule.tag);
            if (announce) {
                announce(rule.tag);
            }
            outcome.suspended_ids.push_back(m_next_suspension);
            m_suspended.insert(m_suspended.begin(), Suspension{rule.tag, m_next_suspension++});
            drop_rule(list, it);
            break;
        }
        it = next;
    }
    m_state = new_state;
    return outcome;
}

std::optional<Injection> BlkdebugRules::check(uint64_t offset, uint64_t bytes, BlkdebugIoType type)
{
    std::lock_guard guard(m_lock);
    const uint64_t type_bit = uint64_t{1} << static_cast<unsigned>(type);
    BlkdebugRule* match = nullptr;
    for (BlkdebugRule* rule : m_active) {
        auto at = static_cast<uint64_t>(rule->offset);
        bool covers = rule->offset == -1 || (bytes != 0 && at >= offset && at < offset + bytes);
        if (covers && (rule->iotype_mask & type_bit)) {
            match = rule;
            break;
        }
    }
    if (!match || match->error == 0) {
        return std::nullopt;
    }
    Injection injection{match->error};
    if (match->once) {
        RuleList& list = m_rules[static_cast<size_t>(match->event)];
        auto it = std::ranges::find_if(list, [&](const BlkdebugRule& rule) { return &rule == match; });
        drop_rule(list, it);
    }
    return injection;
}

int BlkdebugRules::add_breakpoint(std::string_view event, std::string_view tag)
{
    auto parsed = parse_blkdebug_event(event);
    if (!parsed) {
        return -ENOENT;
    }
    std::lock_guard guard(m_lock);
    m_rules[static_cast<size_t>(*parsed)].push_front(
        BlkdebugRule{.event = *parsed, .action = RuleAction::Suspend, .tag = std::string(tag)});
    return 0;
}

int BlkdebugRules::remove_breakpoint(std::string_view tag, std::vector<std::string>* resumed, const Announce& announce)
{
    std::lock_guard guard(m_lock);
    int ret = -ENOENT;
    for (RuleList& list : m_rules) {
        for (auto it = list.begin(); it != list.end();) {
            auto next = std::next(it);
            if (it->action == RuleAction::Suspend && it->tag == tag) {
                drop_rule(list, it);
                ret = 0;
            }
            it = next;
        }
    }
    for (auto it = m_suspended.begin(); it != m_suspended.end();) {
        if (it->tag == tag) {
            if (resumed) {
                resumed->push_back(it->tag);
            }
            if (announce) {
                announce(it->tag);
            }
            it = m_suspended.erase(it);
        } else {
            ++it;
        }
    }
    m_resumed.notify_all();
    return ret;
}

int BlkdebugRules::resume(std::string_view tag, const Announce& announce)
{
    std::lock_guard guard(m_lock);
    auto it = std::ranges::find(m_suspended, tag, &Suspension::tag);
    if (it == m_suspended.end()) {
        return -ENOENT;
    }
    if (announce) {
        announce(it->tag);
    }
    m_suspended.erase(it);
    m_resumed.notify_all();
    return 0;
}

bool BlkdebugRules::is_suspended(std::string_view tag) const
{
    std::lock_guard guard(m_lock);
    return std::ranges::find(m_suspended, tag, &Suspension::tag) != m_suspended.end();
}

void BlkdebugRules::mark_parked(std::span<const uint64_t> ids)
{
    std::lock_guard guard(m_lock);
    for (Suspension& suspension : m_suspended) {
        if (std::ranges::find(ids, suspension.id) != ids.end()) {
            suspension.parked = true;
        }
    }
}

void BlkdebugRules::wait_resumed(uint64_t id)
{
    std::unique_lock guard(m_lock);
    auto it = std::ranges::find(m_suspended, id, &Suspension::id);
    if (it == m_suspended.end()) {
        return;
    }
    it->parked = true;
    m_resumed.wait(guard, [&] { return std::ranges::find(m_suspended, id, &Suspension::id) == m_suspended.end(); });
}

std::vector<std::string> BlkdebugRules::resume_parked(const Announce& announce)
{
    std::lock_guard guard(m_lock);
    std::vector<std::string> tags;
    for (auto it = m_suspended.begin(); it != m_suspended.end();) {
        if (it->parked) {
            tags.push_back(it->tag);
            if (announce) {
                announce(it->tag);
            }
            it = m_suspended.erase(it);
        } else {
            ++it;
        }
    }
    m_resumed.notify_all();
    return tags;
}

}  // namespace qemu::block
