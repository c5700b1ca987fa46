// Disk I/O limits as QEMU's util/throttle.c and block/throttle-groups.c keep them: six
// leaky buckets (bytes and operations; total, read, write), each with an average rate, a
// burst rate and a burst length, shared by the backends of one named group. A request
// that would overflow a bucket waits in its backend's queue until a timer lets the next
// one go; the group hands that turn round its backends in turn.
//
// Everything here runs on the emulator's main thread: the backends' requests start there
// and the timers fire there.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/error.h"

namespace qemu::block {

// QEMU's BucketType order.
enum class ThrottleBucket { BpsTotal, BpsRead, BpsWrite, OpsTotal, OpsRead, OpsWrite };
inline constexpr size_t kThrottleBuckets = 6;

// QEMU's THROTTLE_VALUE_MAX: no rate above this is accepted.
inline constexpr int64_t kThrottleValueMax = 1'000'000'000'000'000;

struct LeakyBucket {
    double avg = 0;  // units per second; 0: no limit
    double max = 0;  // the burst rate; 0: a tenth of avg, set when the config is applied
    double level = 0;
    double burst_level = 0;
    uint64_t burst_length = 1;  // seconds the burst rate may last
};

struct ThrottleConfig {
    std::array<LeakyBucket, kThrottleBuckets> buckets;
    uint64_t op_size = 0;  // iops-size: a request counts as bytes / op_size operations

    LeakyBucket& operator[](ThrottleBucket b) { return buckets[static_cast<size_t>(b)]; }
    const LeakyBucket& operator[](ThrottleBucket b) const { return buckets[static_cast<size_t>(b)]; }

    // throttle_enabled: whether any average is set.
    bool enabled() const;
    // throttle_is_valid, with QEMU's messages.
    Result<void> validate() const;
};

// The buckets of a group and their levels (QEMU's ThrottleState).
class ThrottleState {
public:
    // throttle_config: the levels start empty at `now_ns`; a missing burst rate becomes a
    // tenth of the average.
    void configure(const ThrottleConfig& config, int64_t now_ns);
    // throttle_get_config: what was configured, without the derived burst rates.
    ThrottleConfig config() const;
    // Leaks what has drained since the last call, then returns how long a request of this
    // direction must wait (0: it may go now).
    int64_t wait_ns(bool is_write, int64_t now_ns);
    // throttle_account: a request of `bytes` goes.
    void account(bool is_write, uint64_t bytes);

private:
    ThrottleConfig m_config;
    int64_t m_previous_leak = 0;
};

// The clock a group's timers run on, given by whoever runs the main loop: the host's
// monotonic clock, or under the qtest accelerator the virtual clock (QEMU uses
// QEMU_CLOCK_VIRTUAL for throttling then).
class ThrottleTimers {
public:
    using Id = uint64_t;
    virtual ~ThrottleTimers() = default;
    virtual int64_t now_ns() = 0;
    // Runs fire once from the main loop when the clock reaches deadline_ns, never inside
    // this call, even for a deadline already past.
    virtual Id add(int64_t deadline_ns, std::function<void()> fire) = 0;
    virtual void cancel(Id id) = 0;
    // For a synchronous request: waits for the earliest timer and runs every one that is
    // due. False where waiting cannot make the clock move (the virtual clock, or no timer).
    virtual bool wait_next() = 0;
};

class ThrottleGroup;

// A backend's place in a group (QEMU's ThrottleGroupMember). Drives and disk devices hold
// it across their media; the backend of each medium sends its reads and writes through it.
class ThrottleGroupMember {
public:
    ~ThrottleGroupMember();
    ThrottleGroupMember(const ThrottleGroupMember&) = delete;
    ThrottleGroupMember& operator=(const ThrottleGroupMember&) = delete;

    const std::string& group_name() const;
    ThrottleConfig config() const;
    // blk_set_io_limits: the group's new limits, with empty buckets; this member's waiting
    // requests are looked at again at once.
    void set_config(const ThrottleConfig& config);

    // throttle_group_co_io_limits_intercept: runs start now, or once the limits let it go.
    void intercept(bool is_write, uint64_t bytes, std::move_only_function<void()> start);
    // The same for a request whose caller waits: returns once it may go. A clock that only
    // a test moves cannot be waited for; the request then goes as under a drain.
    void wait_sync(bool is_write, uint64_t bytes);
    // bdrv_drained_begin's part: every waiting request goes now, and new ones are not
    // held until end_drain.
    void begin_drain();
    void end_drain();
    // Both at once: what waits goes, and later requests keep to the limits again.
    void release_waiting()
    {
        begin_drain();
        end_drain();
    }
    size_t queued() const { return m_queue[0].size() + m_queue[1].size(); }

private:
    friend class ThrottleGroups;
    friend class ThrottleGroup;
    struct Waiting {
        uint64_t bytes;
        std::move_only_function<void()> start;
    };
    explicit ThrottleGroupMember(std::shared_ptr<ThrottleGroup> group) : m_group(std::move(group)) { }

    std::shared_ptr<ThrottleGroup> m_group;
    std::array<std::deque<Waiting>, 2> m_queue;  // read, write
    std::array<std::optional<ThrottleTimers::Id>, 2> m_timer;
    int m_limits_disabled = 0;
};

// The named groups (QEMU's global list of throttle groups), each alive while a member is.
class ThrottleGroups {
public:
    explicit ThrottleGroups(ThrottleTimers& timers) : m_timers(timers) { }
    // blk_io_limits_enable: a member of group `name`, made with empty limits if new.
    std::shared_ptr<ThrottleGroupMember> join(const std::string& name);
    // blk_io_limits_update_group: moves a member to another group (nothing for the same).
    void move(ThrottleGroupMember& member, const std::string& name);

private:
    std::shared_ptr<ThrottleGroup> group(const std::string& name);

    ThrottleTimers& m_timers;
    std::map<std::string, std::weak_ptr<ThrottleGroup>> m_groups;
};

}  // namespace qemu::block
