// Disk I/O limits (see throttle.h).
#include "block/throttle.h"

#include <algorithm>
#include <cmath>

namespace qemu::block {

namespace {

constexpr double kNsPerSecond = 1e9;

size_t dir(bool is_write)
{
    return is_write ? 1 : 0;
}

void leak(LeakyBucket& bucket, int64_t delta_ns)
{
    bucket.level = std::max(bucket.level - bucket.avg * static_cast<double>(delta_ns) / kNsPerSecond, 0.0);
    // A burst longer than a second must still keep to `max` units per second.
    if (bucket.burst_length > 1) {
        bucket.burst_level =
            std::max(bucket.burst_level - bucket.max * static_cast<double>(delta_ns) / kNsPerSecond, 0.0);
    }
}

int64_t wait_for_units(double rate, double extra)
{
    return static_cast<int64_t>(extra * kNsPerSecond / rate);
}

// throttle_compute_wait
int64_t bucket_wait_ns(const LeakyBucket& bucket)
{
    if (bucket.avg == 0) {
        return 0;
    }
    if (double extra = bucket.level - bucket.max * static_cast<double>(bucket.burst_length); extra > 0) {
        return wait_for_units(bucket.avg, extra);
    }
    // Within a long burst the rate is held to `max`, smoothed over a tenth of a second.
    if (bucket.burst_length > 1) {
        if (double extra = bucket.burst_level - bucket.max / 10; extra > 0) {
            return wait_for_units(bucket.max, extra);
        }
    }
    return 0;
}

}  // namespace

bool ThrottleConfig::enabled() const
{
    return std::ranges::any_of(buckets, [](const LeakyBucket& b) { return b.avg > 0; });
}

Result<void> ThrottleConfig::validate() const
{
    const ThrottleConfig& c = *this;
    auto mixed = [&c](ThrottleBucket total, ThrottleBucket read, ThrottleBucket write, double LeakyBucket::*field) {
        return c[total].*field != 0 && (c[read].*field != 0 || c[write].*field != 0);
    };
    using B = ThrottleBucket;
    if (mixed(B::BpsTotal, B::BpsRead, B::BpsWrite, &LeakyBucket::avg) ||
        mixed(B::OpsTotal, B::OpsRead, B::OpsWrite, &LeakyBucket::avg) ||
        mixed(B::BpsTotal, B::BpsRead, B::BpsWrite, &LeakyBucket::max) ||
        mixed(B::OpsTotal, B::OpsRead, B::OpsWrite, &LeakyBucket::max)) {
        return make_error("bps/iops/max total values and read/write values cannot be used at the same time");
    }
    if (op_size != 0 && c[B::OpsTotal].avg == 0 && c[B::OpsRead].avg == 0 && c[B::OpsWrite].avg == 0) {
        return make_error("iops size requires an iops value to be set");
    }
    for (const LeakyBucket& b : buckets) {
        const auto limit = static_cast<double>(kThrottleValueMax);
        if (b.avg < 0 || b.max < 0 || b.avg > limit || b.max > limit) {
            return make_error("bps/iops/max values must be within [0, " + std::to_string(kThrottleValueMax) + "]");
        }
        if (b.burst_length == 0) {
            return make_error("the burst length cannot be 0");
        }
        if (b.burst_length > 1 && b.max == 0) {
            return make_error("burst length set without burst rate");
        }
        // QEMU keeps the rates as integers and checks the burst's size against its limit.
        if (const auto max = static_cast<uint64_t>(b.max);
            max != 0 && b.burst_length > static_cast<uint64_t>(kThrottleValueMax) / max) {
            return make_error("burst length too high for this burst rate");
        }
        if (b.max != 0 && b.avg == 0) {
            return make_error("bps_max/iops_max require corresponding bps/iops values");
        }
        if (b.max != 0 && b.max < b.avg) {
            return make_error("bps_max/iops_max cannot be lower than bps/iops");
        }
    }
    return {};
}

void ThrottleState::configure(const ThrottleConfig& config, int64_t now_ns)
{
    m_config = config;
    for (LeakyBucket& b : m_config.buckets) {
        b.level = 0;
        b.burst_level = 0;
        // Bursts of a tenth of a second at the average rate smooth out a guest that sends
        // its reads and writes in alternating batches.
        if (b.avg != 0 && b.max == 0) {
            b.max = b.avg / 10;
        }
    }
    m_previous_leak = now_ns;
}

ThrottleConfig ThrottleState::config() const
{
    ThrottleConfig out = m_config;
    for (LeakyBucket& b : out.buckets) {
        if (b.max < b.avg) {
            b.max = 0;  // the derived burst rate, not the user's
        }
    }
    return out;
}

int64_t ThrottleState::wait_ns(bool is_write, int64_t now_ns)
{
    const int64_t delta = now_ns - m_previous_leak;
    m_previous_leak = now_ns;
    if (delta > 0) {
        for (LeakyBucket& b : m_config.buckets) {
            leak(b, delta);
        }
    }
    using B = ThrottleBucket;
    const std::array<B, 4> checked = is_write ? std::array{B::BpsTotal, B::OpsTotal, B::BpsWrite, B::OpsWrite}
                                              : std::array{B::BpsTotal, B::OpsTotal, B::BpsRead, B::OpsRead};
    int64_t wait = 0;
    for (B b : checked) {
        wait = std::max(wait, bucket_wait_ns(m_config[b]));
    }
    return wait;
}

void ThrottleState::account(bool is_write, uint64_t bytes)
{
    double units = 1.0;
    if (m_config.op_size != 0 && bytes > m_config.op_size) {
        units = static_cast<double>(bytes) / static_cast<double>(m_config.op_size);
    }
    using B = ThrottleBucket;
    auto add = [](LeakyBucket& b, double amount) {
        b.level += amount;
        if (b.burst_length > 1) {
            b.burst_level += amount;
        }
    };
    add(m_config[B::BpsTotal], static_cast<double>(bytes));
    add(m_config[is_write ? B::BpsWrite : B::BpsRead], static_cast<double>(bytes));
    add(m_config[B::OpsTotal], units);
    add(m_config[is_write ? B::OpsWrite : B::OpsRead], units);
}

// A named group: its buckets, its members, and whose turn it is in each direction.
class ThrottleGroup {
public:
    using Starts = std::vector<std::move_only_function<void()>>;

    ThrottleGroup(std::string name, ThrottleTimers& timers) : m_name(std::move(name)), m_timers(timers)
    {
        m_state.configure({}, 0);
    }

    const std::string& name() const { return m_name; }
    ThrottleTimers& timers() { return m_timers; }
    ThrottleState& state() { return m_state; }

    // throttle_group_register_tgm: the newest member comes first in the round.
    void add(ThrottleGroupMember& m)
    {
        m_members.insert(m_members.begin(), &m);
        for (auto& token : m_tokens) {
            if (!token) {
                token = &m;
            }
        }
    }

    void remove(ThrottleGroupMember& m)
    {
        std::array<bool, 2> had_timer{};
        for (size_t d = 0; d < 2; ++d) {
            if (m_tokens[d] == &m) {
                ThrottleGroupMember* next = next_member(m);
                m_tokens[d] = next == &m ? nullptr : next;
            }
            if (m.m_timer[d]) {
                m_timers.cancel(*m.m_timer[d]);
                m.m_timer[d].reset();
                had_timer[d] = true;
            }
        }
        std::erase(m_members, &m);
        // A member goes drained, so its timer is normally gone; if not, the others' waiting
        // requests need the group's timer armed again.
        for (size_t d = 0; d < 2; ++d) {
            if (had_timer[d] && !m_members.empty()) {
                Starts next = schedule_next(*m_members.front(), d);
                run(next);
            }
        }
    }

    void intercept(ThrottleGroupMember& m, bool is_write, uint64_t bytes, std::move_only_function<void()> start)
    {
        const size_t d = dir(is_write);
        if (m.m_limits_disabled == 0) {
            const bool must_wait = schedule_timer(*next_token(m, d), d);
            if (must_wait || !m.m_queue[d].empty()) {
                m.m_queue[d].push_back({bytes, std::move(start)});
                return;
            }
        }
        m_state.account(is_write, bytes);
        Starts next = schedule_next(m, d);
        start();
        run(next);
    }

    // throttle_group_restart_tgm: a member's armed timer fires now; without one, its
    // queue is looked at again.
    void restart(ThrottleGroupMember& m)
    {
        for (size_t d = 0; d < 2; ++d) {
            if (m.m_timer[d]) {
                m_timers.cancel(*m.m_timer[d]);
                timer_fired(m, d);
            } else {
                restart_queue(m, d);
            }
        }
    }

    // What a drain does for one member: all its waiting requests go, in order.
    void release_all(ThrottleGroupMember& m)
    {
        restart(m);
        for (size_t d = 0; d < 2; ++d) {
            while (!m.m_queue[d].empty()) {
                auto waiting = pop(m, d);
                m_state.account(d == 1, waiting.bytes);
                waiting.start();
            }
        }
    }

private:
    static void run(Starts& starts)
    {
        for (auto& start : starts) {
            start();
        }
    }

    static ThrottleGroupMember::Waiting pop(ThrottleGroupMember& m, size_t d)
    {
        auto waiting = std::move(m.m_queue[d].front());
        m.m_queue[d].pop_front();
        return waiting;
    }

    ThrottleGroupMember* next_member(ThrottleGroupMember& m)
    {
        auto at = std::ranges::find(m_members, &m);
        return (at == m_members.end() || at + 1 == m_members.end()) ? m_members.front() : *(at + 1);
    }

    // next_throttle_token: the next member in the round with requests waiting, or m.
    ThrottleGroupMember* next_token(ThrottleGroupMember& m, size_t d)
    {
        ThrottleGroupMember* start = m_tokens[d] ? m_tokens[d] : &m;
        ThrottleGroupMember* token = next_member(*start);
        while (token != start && token->m_queue[d].empty()) {
            token = next_member(*token);
        }
        if (token == start && token->m_queue[d].empty()) {
            token = &m;
        }
        return token;
    }

    void arm(ThrottleGroupMember& m, size_t d, int64_t deadline_ns)
    {
        if (m.m_timer[d]) {
            m_timers.cancel(*m.m_timer[d]);
        }
        m.m_timer[d] = m_timers.add(deadline_ns, [this, &m, d] { timer_fired(m, d); });
    }

    // tg->any_timer_armed: the group has one timer per direction, on whichever member.
    bool timer_armed(size_t d) const
    {
        return std::ranges::any_of(m_members, [d](const ThrottleGroupMember* m) { return m->m_timer[d].has_value(); });
    }

    // throttle_group_schedule_timer: whether the token's request must wait; arms the
    // group's one timer of that direction if it must.
    bool schedule_timer(ThrottleGroupMember& token, size_t d)
    {
        if (token.m_limits_disabled != 0) {
            return false;
        }
        if (timer_armed(d)) {
            return true;
        }
        const int64_t now = m_timers.now_ns();
        const int64_t wait = m_state.wait_ns(d == 1, now);
        if (wait == 0) {
            return false;
        }
        arm(token, d, now + wait);
        m_tokens[d] = &token;
        return true;
    }

    // schedule_next_request, for a request that has just been let go: the next waiting
    // one, round the members, goes at once (returned, to start after the caller's) or when
    // a timer says.
    Starts schedule_next(ThrottleGroupMember& m, size_t d)
    {
        Starts starts;
        ThrottleGroupMember* current = &m;
        for (;;) {
            ThrottleGroupMember* token = next_token(*current, d);
            if (token->m_queue[d].empty() || schedule_timer(*token, d)) {
                break;
            }
            if (current->m_queue[d].empty()) {
                arm(*token, d, m_timers.now_ns());
                m_tokens[d] = token;
                break;
            }
            // The member whose request just went keeps its turn while the limits allow.
            m_tokens[d] = current;
            auto waiting = pop(*current, d);
            m_state.account(d == 1, waiting.bytes);
            starts.push_back(std::move(waiting.start));
        }
        return starts;
    }

    // timer_cb: the group's timer of this direction has gone off.
    void timer_fired(ThrottleGroupMember& m, size_t d)
    {
        m.m_timer[d].reset();
        restart_queue(m, d);
    }

    // throttle_group_restart_queue: the member's next waiting request goes.
    void restart_queue(ThrottleGroupMember& m, size_t d)
    {
        if (m.m_queue[d].empty()) {
            Starts next = schedule_next(m, d);
            run(next);
            return;
        }
        auto waiting = pop(m, d);
        m_state.account(d == 1, waiting.bytes);
        Starts next = schedule_next(m, d);
        waiting.start();
        run(next);
    }

    std::string m_name;
    ThrottleTimers& m_timers;
    ThrottleState m_state;
    std::vector<ThrottleGroupMember*> m_members;
    std::array<ThrottleGroupMember*, 2> m_tokens{};
};

ThrottleGroupMember::~ThrottleGroupMember()
{
    m_group->remove(*this);
}

const std::string& ThrottleGroupMember::group_name() const
{
    return m_group->name();
}

ThrottleConfig ThrottleGroupMember::config() const
{
    return m_group->state().config();
}

void ThrottleGroupMember::set_config(const ThrottleConfig& config)
{
    m_group->state().configure(config, m_group->timers().now_ns());
    m_group->restart(*this);
}

void ThrottleGroupMember::intercept(bool is_write, uint64_t bytes, std::move_only_function<void()> start)
{
    m_group->intercept(*this, is_write, bytes, std::move(start));
}

void ThrottleGroupMember::wait_sync(bool is_write, uint64_t bytes)
{
    bool started = false;
    intercept(is_write, bytes, [&started] { started = true; });
    while (!started) {
        if (!m_group->timers().wait_next()) {
            release_waiting();
        }
    }
}

void ThrottleGroupMember::begin_drain()
{
    if (m_limits_disabled++ == 0) {
        m_group->release_all(*this);
    }
}

void ThrottleGroupMember::end_drain()
{
    --m_limits_disabled;
}

std::shared_ptr<ThrottleGroup> ThrottleGroups::group(const std::string& name)
{
    std::erase_if(m_groups, [](const auto& entry) { return entry.second.expired(); });
    if (auto found = m_groups.find(name); found != m_groups.end()) {
        return found->second.lock();
    }
    auto made = std::make_shared<ThrottleGroup>(name, m_timers);
    m_groups[name] = made;
    return made;
}

std::shared_ptr<ThrottleGroupMember> ThrottleGroups::join(const std::string& name)
{
    std::shared_ptr<ThrottleGroupMember> member(new ThrottleGroupMember(group(name)));
    member->m_group->add(*member);
    return member;
}

void ThrottleGroups::move(ThrottleGroupMember& member, const std::string& name)
{
    if (member.group_name() == name) {
        return;
    }
    member.begin_drain();
    member.m_group->remove(member);
    member.m_group = group(name);
    member.m_group->add(member);
    member.end_drain();
}

}  // namespace qemu::block
