// QEMU's block accounting (block/accounting.c): what the user of a backend reports about
// its requests, for query-blockstats. As in QEMU, only a device's requests and qemu-io's
// aio_read, aio_write and aio_flush are counted; no device here does I/O.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "block/timed-average.h"

namespace qemu::block {

enum class AcctType { Read, Write, Flush, Unmap };

struct AcctCookie {
    AcctType type = AcctType::Read;
    int64_t bytes = 0;
    int64_t start_ns = 0;
};

class BlockAcctStats {
public:
    struct Counts {
        int64_t bytes = 0;
        int64_t ops = 0;
        int64_t failed = 0;
        int64_t invalid = 0;
        int64_t total_time_ns = 0;
    };

    // One of -drive's stats-intervals: the latencies of about the last `length_s` seconds.
    struct Interval {
        uint64_t length_s;
        std::array<uint64_t, 3> min_ns, max_ns, avg_ns;  // read, write, flush
        double avg_rd_queue_depth, avg_wr_queue_depth;
    };

    static int64_t steady_now_ns()
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }

    // The clock the times are taken on: a monotonic one, or (as QEMU under qtest) the
    // virtual clock, with every request then taking `fixed_latency_ns` (QEMU's 1 ms) so
    // that the figures do not depend on the host. Set before the first request.
    void set_clock(std::function<int64_t()> clock, int64_t fixed_latency_ns = 0)
    {
        m_clock = std::move(clock);
        m_fixed_latency_ns = fixed_latency_ns;
    }
    int64_t now_ns() const { return m_clock(); }

    // block_acct_start
    AcctCookie start(int64_t bytes, AcctType type) const { return AcctCookie{type, bytes, now_ns()}; }

    // block_acct_add_interval.
    void add_interval(uint64_t length_s)
    {
        std::lock_guard lock(m_lock);
        const int64_t now = now_ns();
        const uint64_t period = length_s * 1'000'000'000;
        m_intervals.push_back(TimedInterval{length_s,
            {TimedAverage(now, period), TimedAverage(now, period), TimedAverage(now, period),
                TimedAverage(now, period)}});
    }

    // What bdrv_query_blk_stats reports of each interval, in the order they were added.
    std::vector<Interval> intervals()
    {
        std::lock_guard lock(m_lock);
        const int64_t now = now_ns();
        std::vector<Interval> out;
        for (TimedInterval& timed : m_intervals) {
            Interval interval{.length_s = timed.length_s};
            for (AcctType type : {AcctType::Read, AcctType::Write, AcctType::Flush}) {
                TimedAverage& latency = timed.latency[index(type)];
                const size_t at = type == AcctType::Flush ? 2 : index(type);
                interval.min_ns[at] = latency.min(now);
                interval.max_ns[at] = latency.max(now);
                interval.avg_ns[at] = latency.avg(now);
            }
            interval.avg_rd_queue_depth = queue_depth(timed.latency[index(AcctType::Read)], now);
            interval.avg_wr_queue_depth = queue_depth(timed.latency[index(AcctType::Write)], now);
            out.push_back(interval);
        }
        return out;
    }

    // block-latency-histogram-set's histograms: how many requests took less than each
    // boundary (in ns) and no less than the one before; the last bin counts the rest.
    // Zone appends have one too, though none happens here.
    enum class HistogramKind { Read, Write, ZoneAppend, Flush };
    struct Histogram {
        std::vector<uint64_t> boundaries;
        std::vector<uint64_t> bins;
    };

    // block_latency_histogram_set: false (and the histogram as it was) unless the
    // boundaries rise strictly from above 0. New bins start empty.
    bool set_histogram(HistogramKind kind, std::vector<uint64_t> boundaries)
    {
        uint64_t previous = 0;
        for (uint64_t boundary : boundaries) {
            if (boundary <= previous) {
                return false;
            }
            previous = boundary;
        }
        std::lock_guard lock(m_lock);
        Histogram& histogram = m_histograms[static_cast<size_t>(kind)].emplace();
        histogram.bins.assign(boundaries.size() + 1, 0);
        histogram.boundaries = std::move(boundaries);
        return true;
    }
    void clear_histograms()
    {
        std::lock_guard lock(m_lock);
        for (auto& histogram : m_histograms) {
            histogram.reset();
        }
    }
    std::optional<Histogram> histogram(HistogramKind kind) const
    {
        std::lock_guard lock(m_lock);
        return m_histograms[static_cast<size_t>(kind)];
    }

    // block_acct_done and block_acct_failed: a failed request counts its time only with
    // account_failed.
    void done(const AcctCookie& cookie) { account(cookie, false); }
    void failed(const AcctCookie& cookie) { account(cookie, true); }

    // block_acct_invalid: a request refused before it started.
    void invalid(AcctType type)
    {
        std::lock_guard lock(m_lock);
        m_counts[index(type)].invalid++;
        if (m_account_invalid) {
            m_last_access_ns = now_ns();
        }
    }

    Counts counts(AcctType type) const
    {
        std::lock_guard lock(m_lock);
        return m_counts[index(type)];
    }

    // The time since the last request was accounted, if there was one.
    std::optional<int64_t> idle_time_ns() const
    {
        std::lock_guard lock(m_lock);
        if (m_last_access_ns <= 0) {
            return std::nullopt;
        }
        return now_ns() - m_last_access_ns;
    }

    // -drive's stats-account-invalid and stats-account-failed, both on by default:
    // whether invalid and failed requests count as accesses (idle_time_ns), and failed
    // ones their time. Set before the backend's first request.
    void set_accounting(bool account_invalid, bool account_failed)
    {
        m_account_invalid = account_invalid;
        m_account_failed = account_failed;
    }
    bool account_invalid() const { return m_account_invalid; }
    bool account_failed() const { return m_account_failed; }

private:
    static size_t index(AcctType type) { return static_cast<size_t>(type); }
    static std::optional<HistogramKind> histogram_kind(AcctType type)
    {
        switch (type) {
        case AcctType::Read:
            return HistogramKind::Read;
        case AcctType::Write:
            return HistogramKind::Write;
        case AcctType::Flush:
            return HistogramKind::Flush;
        case AcctType::Unmap:
            break;
        }
        return std::nullopt;
    }

    struct TimedInterval {
        uint64_t length_s;
        std::array<TimedAverage, 4> latency;  // by AcctType
    };

    // block_acct_queue_depth: the time requests spent in flight over the time that passed.
    static double queue_depth(TimedAverage& latency, int64_t now)
    {
        uint64_t elapsed = 0;
        uint64_t sum = latency.sum(now, elapsed);
        return elapsed != 0 ? static_cast<double>(sum) / static_cast<double>(elapsed) : 0.0;
    }

    void account(const AcctCookie& cookie, bool failed)
    {
        int64_t time = now_ns();
        std::lock_guard lock(m_lock);
        Counts& counts = m_counts[index(cookie.type)];
        if (failed) {
            counts.failed++;
        } else {
            counts.bytes += cookie.bytes;
            counts.ops++;
        }
        const int64_t latency = m_fixed_latency_ns != 0 ? m_fixed_latency_ns : time - cookie.start_ns;
        // Every request, failed or not, lands in a histogram.
        if (auto kind = histogram_kind(cookie.type); kind && m_histograms[static_cast<size_t>(*kind)]) {
            Histogram& histogram = *m_histograms[static_cast<size_t>(*kind)];
            const auto past = std::ranges::upper_bound(histogram.boundaries, static_cast<uint64_t>(latency));
            histogram.bins[static_cast<size_t>(past - histogram.boundaries.begin())]++;
        }
        if (!failed || m_account_failed) {
            counts.total_time_ns += latency;
            m_last_access_ns = time;
            for (TimedInterval& timed : m_intervals) {
                timed.latency[index(cookie.type)].account(time, static_cast<uint64_t>(latency));
            }
        }
    }

    mutable std::mutex m_lock;
    std::array<Counts, 4> m_counts{};
    int64_t m_last_access_ns = 0;
    std::function<int64_t()> m_clock = steady_now_ns;
    int64_t m_fixed_latency_ns = 0;
    std::vector<TimedInterval> m_intervals;
    std::array<std::optional<Histogram>, 4> m_histograms;  // by HistogramKind
    bool m_account_invalid = true;
    bool m_account_failed = true;
};

}  // namespace qemu::block
