// BlockBackend (see block-backend.h).
#include "block/block-backend.h"

#include <cerrno>
#include <utility>

#include "block/iov.h"
#include "util/aio-context.h"

namespace qemu::block {

Result<std::unique_ptr<BlockBackend>> BlockBackend::open(
    BlockGraph& graph, std::optional<std::string> filename, BlockOptions options, const BackendOpenOptions& how)
{
    auto root = TRY(graph.open(std::move(filename), std::move(options), how.flags));
    uint64_t wanted = perm::kConsistentRead;
    // The request decides, not the node: read-only=on in the options of a read-write open
    // is the user's contradiction to report. Only a node that fell back to read-only by
    // auto-read-only is opened for reading.
    if (how.flags.read_write && !(root->read_only() && root->flags().auto_read_only)) {
        wanted |= perm::kWrite;
    }
    if (how.resize) {
        wanted |= perm::kResize;
    }
    uint64_t shared = perm::kAll;
    if (how.no_share && !how.force_share) {
        shared = perm::kConsistentRead | perm::kWriteUnchanged;
    }
    return attach(std::move(root), wanted, shared);
}

Result<std::unique_ptr<BlockBackend>> BlockBackend::attach(
    std::shared_ptr<BlockNode> root, uint64_t wanted, uint64_t shared, std::string name)
{
    std::unique_ptr<BlockBackend> backend(new BlockBackend(std::move(root)));
    backend->m_name = std::move(name);
    TRY_VOID(backend->set_perm(wanted, shared));
    return backend;
}

BlockBackend::~BlockBackend()
{
    // No request may outlive the nodes and buffers it uses.
    drain();
    // Give up our permissions so that the locks go before the node does.
    if (m_root) {
        m_root->graph().drop_perm(*m_root, this);
    }
}

Result<void> BlockBackend::set_perm(uint64_t wanted, uint64_t shared)
{
    // blk_root_get_parent_desc
    PermUser who{this, m_name.empty() ? "an unnamed block device" : "block device '" + m_name + "'", "root"};
    TRY_VOID(m_root->graph().set_perm(*m_root, who, wanted, shared));
    m_perm = wanted;
    m_shared = shared;
    return {};
}

Result<void> BlockBackend::replace_root(std::shared_ptr<BlockNode> root)
{
    drain();
    // What the old root below the new one (its backing file) will be asked to share
    // must not be refused by this backend's own hold on it: that goes first.
    std::shared_ptr<BlockNode> old = std::exchange(m_root, std::move(root));
    old->graph().drop_perm(*old, this);
    if (auto granted = set_perm(m_perm, m_shared); !granted) {
        m_root->graph().drop_perm(*m_root, this);
        m_root = std::move(old);
        (void)set_perm(m_perm, m_shared);  // what held before holds again
        return granted;
    }
    std::lock_guard lock(m_length_lock);
    m_length_seen = -1;
    return {};
}

Result<int64_t> BlockBackend::length()
{
    return m_root->length();
}

Result<void> BlockBackend::check_request(int64_t offset, int64_t bytes)
{
    if (bytes < 0 || offset < 0) {
        return make_errno_error(EIO);
    }
    auto inside = [offset, bytes](int64_t len) { return offset <= len && len - offset >= bytes; };
    uint64_t epoch = m_root->graph().resize_epoch();
    {
        std::lock_guard lock(m_length_lock);
        if (m_length_seen >= 0 && m_length_epoch == epoch && inside(m_length_seen)) {
            return {};
        }
    }
    // A request past the length seen asks again: the file may have grown.
    int64_t len = TRY(length());
    BlockNode* bottom = m_root.get();
    while (bottom->file()) {
        bottom = bottom->file();
    }
    if (bottom->driver().format_name == std::string_view("file")) {
        std::lock_guard lock(m_length_lock);
        m_length_seen = len;
        m_length_epoch = epoch;
    }
    if (!inside(len)) {
        return make_errno_error(EIO);
    }
    return {};
}

Result<void> BlockBackend::pread(int64_t offset, std::span<uint8_t> buf)
{
    iovec one{buf.data(), buf.size()};
    return preadv(offset, std::span(&one, 1));
}

Result<void> BlockBackend::pwrite(int64_t offset, std::span<const uint8_t> buf, RequestFlags flags)
{
    iovec one{const_cast<uint8_t*>(buf.data()), buf.size()};
    return pwritev(offset, std::span(&one, 1), flags);
}

void BlockBackend::set_throttle(std::shared_ptr<ThrottleGroupMember> member)
{
    if (m_throttle) {
        m_throttle->release_waiting();
    }
    m_throttle = std::move(member);
}

void BlockBackend::throttled(AioContext& ctx, bool is_write, uint64_t bytes, std::move_only_function<void()> start)
{
    if (!m_throttle) {
        start();
        return;
    }
    // A request the limits held starts from a timer in the main loop, where no poll of
    // ctx follows to hand what it queued to the kernel.
    m_throttle->intercept(is_write, bytes, [&ctx, start = std::move(start)]() mutable {
        start();
        ctx.submit();
    });
}

Result<void> BlockBackend::preadv(int64_t offset, std::span<const iovec> iov)
{
    TRY_VOID(check_request(offset, static_cast<int64_t>(iov_size(iov))));
    if (m_throttle) {
        m_throttle->wait_sync(false, iov_size(iov));
    }
    return m_root->preadv(offset, iov);
}

Result<void> BlockBackend::pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    TRY_VOID(check_request(offset, static_cast<int64_t>(iov_size(iov))));
    if (!(m_perm & perm::kWrite)) {
        return make_errno_error(EPERM);
    }
    if (m_throttle) {
        m_throttle->wait_sync(true, iov_size(iov));
    }
    // Without a write cache every write is made durable before it completes.
    flags.fua = flags.fua || !m_write_cache;
    return m_root->pwritev(offset, iov, flags);
}

Result<void> BlockBackend::pwrite_zeroes(int64_t offset, int64_t bytes, RequestFlags flags)
{
    TRY_VOID(check_request(offset, bytes));
    if (!(m_perm & perm::kWrite)) {
        return make_errno_error(EPERM);
    }
    if (m_throttle) {
        m_throttle->wait_sync(true, static_cast<uint64_t>(bytes));
    }
    flags.fua = flags.fua || !m_write_cache;
    return m_root->pwrite_zeroes(offset, bytes, flags);
}

Result<void> BlockBackend::discard(int64_t offset, int64_t bytes)
{
    TRY_VOID(check_request(offset, bytes));
    if (!(m_perm & perm::kWrite)) {
        return make_errno_error(EPERM);
    }
    return m_root->discard(offset, bytes);
}

Result<void> BlockBackend::flush()
{
    return m_root->flush();
}

AioCallback BlockBackend::track(AioContext& ctx, AioCallback done)
{
    ++m_in_flight;
    m_aio_ctx = &ctx;
    return [this, done = std::move(done)](Result<void> result) mutable {
        --m_in_flight;
        done(std::move(result));
    };
}

void BlockBackend::aio_preadv(AioContext& ctx, int64_t offset, std::span<const iovec> iov, AioCallback done)
{
    done = track(ctx, std::move(done));
    if (auto checked = check_request(offset, static_cast<int64_t>(iov_size(iov))); !checked) {
        complete_later(ctx, done, std::move(checked));
        return;
    }
    throttled(ctx, false, iov_size(iov),
        [this, &ctx, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), done = std::move(done)]() mutable {
            m_root->aio_preadv(ctx, offset, iov, {}, std::move(done));
        });
}

void BlockBackend::aio_pwritev(
    AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done)
{
    done = track(ctx, std::move(done));
    auto checked = check_request(offset, static_cast<int64_t>(iov_size(iov)));
    if (checked && !(m_perm & perm::kWrite)) {
        checked = make_errno_error(EPERM);
    }
    if (!checked) {
        complete_later(ctx, done, std::move(checked));
        return;
    }
    flags.fua = flags.fua || !m_write_cache;
    throttled(ctx, true, iov_size(iov),
        [this, &ctx, offset, iov = std::vector<iovec>(iov.begin(), iov.end()), flags,
            done = std::move(done)]() mutable { m_root->aio_pwritev(ctx, offset, iov, flags, std::move(done)); });
}

void BlockBackend::aio_flush(AioContext& ctx, AioCallback done)
{
    m_root->aio_flush(ctx, track(ctx, std::move(done)));
}

void BlockBackend::drain()
{
    if (m_throttle) {
        m_throttle->begin_drain();
    }
    while (m_in_flight > 0 && m_aio_ctx) {
        if (m_root) {
            resume_parked_requests(*m_root);
        }
        m_aio_ctx->poll(true);
    }
    if (m_throttle) {
        m_throttle->end_drain();
    }
}

Result<void> BlockBackend::truncate(int64_t offset, Prealloc prealloc)
{
    if (!(m_perm & perm::kResize)) {
        return make_error("Permission 'resize' is not granted");
    }
    return m_root->truncate(offset, prealloc);
}

}  // namespace qemu::block
