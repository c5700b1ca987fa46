// QEMU's block accounting (block/accounting.c): what the user of a backend reports about
// its requests, for query-blockstats. As in QEMU, only a device's requests and qemu-io's
// aio_read, aio_write and aio_flush are counted; no device here does I/O.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

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

    static int64_t now_ns()
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }

    // block_acct_start
    static AcctCookie start(int64_t bytes, AcctType type) { return AcctCookie{type, bytes, now_ns()}; }

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
        if (!failed || m_account_failed) {
            counts.total_time_ns += time - cookie.start_ns;
            m_last_access_ns = time;
        }
    }

    mutable std::mutex m_lock;
    std::array<Counts, 4> m_counts{};
    int64_t m_last_access_ns = 0;
    bool m_account_invalid = true;
    bool m_account_failed = true;
};

}  // namespace qemu::block
