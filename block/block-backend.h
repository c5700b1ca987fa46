// BlockBackend: what a user of the block layer (a device, a tool, qemu-io) holds. It owns a
// reference to a root node, the permissions it took on it, the write-cache setting, and
// checks requests against the disk size before they reach the graph.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "block/block-acct.h"
#include "block/block.h"
#include "block/throttle.h"

namespace qemu::block {

// How blk_new_open opens: flags plus what the user refuses to share.
struct BackendOpenOptions {
    OpenFlags flags;
    bool no_share = false;  // BDRV_O_NO_SHARE: others may only read (qemu-img)
    bool force_share = false;  // -U: share everything, even with a writer
    bool resize = false;  // BDRV_O_RESIZE: take the resize permission up front
};

class BlockBackend {
public:
    // blk_new_open: opens the graph below and takes the permissions the flags imply.
    static Result<std::unique_ptr<BlockBackend>> open(
        BlockGraph& graph, std::optional<std::string> filename, BlockOptions options, const BackendOpenOptions& how);
    // A backend over an existing node (blockdev-add then a device). `name` (a drive's id,
    // a device's) is how permission errors call it: "block device 'NAME'".
    static Result<std::unique_ptr<BlockBackend>> attach(
        std::shared_ptr<BlockNode> root, uint64_t perm, uint64_t shared, std::string name = {});
    ~BlockBackend();
    BlockBackend(const BlockBackend&) = delete;
    BlockBackend& operator=(const BlockBackend&) = delete;

    BlockNode& root() { return *m_root; }
    uint64_t perm() const { return m_perm; }
    uint64_t shared_perm() const { return m_shared; }
    // blk_set_perm: fails with the node's or the lock's message.
    Result<void> set_perm(uint64_t perm, uint64_t shared);
    // bdrv_replace_node for this backend: once its requests are done it holds its
    // permissions on `root` instead. When `root` refuses them nothing changes.
    Result<void> replace_root(std::shared_ptr<BlockNode> root);

    bool write_cache_enabled() const { return m_write_cache; }
    // blk_get_stats: what the backend's user accounted (qemu-io's aio_* commands here).
    BlockAcctStats& acct_stats() { return *m_acct; }
    // A drive's accounting lives on across its media: each backend it has counts into it.
    void share_acct_stats(std::shared_ptr<BlockAcctStats> stats) { m_acct = std::move(stats); }
    void set_write_cache(bool enabled) { m_write_cache = enabled; }
    // The I/O limits its reads and writes keep to (a drive's, across its media), or none.
    // Requests already waiting go first, as under a drain.
    void set_throttle(std::shared_ptr<ThrottleGroupMember> member);
    const ThrottleGroupMember* throttle() const { return m_throttle.get(); }

    Result<int64_t> length();
    // Requests past the end of the disk fail with EIO (blk_check_byte_request).
    Result<void> pread(int64_t offset, std::span<uint8_t> buf);
    Result<void> pwrite(int64_t offset, std::span<const uint8_t> buf, RequestFlags flags = {});
    Result<void> preadv(int64_t offset, std::span<const iovec> iov);
    Result<void> pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags = {});
    Result<void> pwrite_zeroes(int64_t offset, int64_t bytes, RequestFlags flags = {});
    Result<void> discard(int64_t offset, int64_t bytes);
    Result<void> flush();
    Result<void> truncate(int64_t offset, Prealloc prealloc = Prealloc::Off);

    // blk_aio_*: the same requests and checks, completed by `done` at a later poll of ctx.
    // The buffers must stay until then; the backend waits for its requests before it goes.
    void aio_preadv(AioContext& ctx, int64_t offset, std::span<const iovec> iov, AioCallback done);
    void aio_pwritev(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done);
    void aio_flush(AioContext& ctx, AioCallback done);
    // Requests started here whose completion has not run yet.
    int in_flight() const { return m_in_flight; }
    // blk_drain: polls until every request started here has completed. Requests held by
    // the I/O limits go at once, as QEMU's drain lets them.
    void drain();

private:
    BlockBackend(std::shared_ptr<BlockNode> root) : m_root(std::move(root)) { }
    Result<void> check_request(int64_t offset, int64_t bytes);
    // Counts the request in and wraps done so that it is counted out as it runs.
    AioCallback track(AioContext& ctx, AioCallback done);
    // A request of `bytes` that the I/O limits may hold: start runs now or once they allow.
    void throttled(AioContext& ctx, bool is_write, uint64_t bytes, std::move_only_function<void()> start);

    std::shared_ptr<BlockNode> m_root;
    std::string m_name;
    // The root's length as last asked, and the graph's resize epoch then: requests inside it
    // need no fstat (QEMU checks against bs->total_sectors). Only over a regular file, whose
    // size changes through the graph; a device may change its medium.
    std::mutex m_length_lock;
    int64_t m_length_seen = -1;
    uint64_t m_length_epoch = 0;
    uint64_t m_perm = 0;
    std::shared_ptr<BlockAcctStats> m_acct = std::make_shared<BlockAcctStats>();
    uint64_t m_shared = perm::kAll;
    bool m_write_cache = true;
    std::shared_ptr<ThrottleGroupMember> m_throttle;
    int m_in_flight = 0;
    AioContext* m_aio_ctx = nullptr;  // where the requests in flight complete
};

}  // namespace qemu::block
