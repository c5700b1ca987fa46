// The generic I/O layer between a node's users and its driver (QEMU's block/io.c): sizes
// in whole sectors, the fallbacks for drivers without an operation, and block status that
// follows a format down to the protocol that knows where the data is.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "block/block.h"
#include "block/iov.h"
#include "util/alloc.h"

namespace qemu::block {

namespace {

std::unexpected<Error> not_supported(const char* what)
{
    return std::unexpected(Error{ErrorClass::GenericError, what, ENOTSUP});
}

}  // namespace

Result<Prealloc> parse_prealloc(std::string_view text)
{
    if (text == "off") {
        return Prealloc::Off;
    }
    if (text == "metadata") {
        return Prealloc::Metadata;
    }
    if (text == "falloc") {
        return Prealloc::Falloc;
    }
    if (text == "full") {
        return Prealloc::Full;
    }
    return make_error("Invalid parameter '" + std::string(text) + "'");
}

std::string_view prealloc_name(Prealloc mode)
{
    switch (mode) {
    case Prealloc::Off:
        return "off";
    case Prealloc::Metadata:
        return "metadata";
    case Prealloc::Falloc:
        return "falloc";
    case Prealloc::Full:
        return "full";
    }
    return "off";
}

BlockNode::RequestGuard BlockNode::guard_request(bool changes_image)
{
    switch (m_driver->concurrency) {
    case Concurrency::Full:
        return std::monostate{};
    case Concurrency::SharedReads:
        if (!changes_image) {
            return std::shared_lock(m_request_lock);
        }
        break;
    case Concurrency::Serial:
        break;
    }
    return std::unique_lock(m_request_lock);
}

std::optional<BlockNode::RequestGuard> BlockNode::try_guard_request(bool changes_image)
{
    switch (m_driver->concurrency) {
    case Concurrency::Full:
        return RequestGuard{std::monostate{}};
    case Concurrency::SharedReads:
        if (!changes_image) {
            std::shared_lock lock(m_request_lock, std::try_to_lock);
            return lock.owns_lock() ? std::optional<RequestGuard>(std::move(lock)) : std::nullopt;
        }
        break;
    case Concurrency::Serial:
        break;
    }
    std::unique_lock lock(m_request_lock, std::try_to_lock);
    return lock.owns_lock() ? std::optional<RequestGuard>(std::move(lock)) : std::nullopt;
}

Result<int64_t> BlockNode::length()
{
    int64_t bytes;
    if (m_driver->get_length) {
        bytes = TRY(m_driver->get_length(*this));
    } else if (BlockNode* f = file()) {
        bytes = TRY(f->length());
    } else {
        return make_errno_error(ENOMEDIUM);
    }
    // The block layer counts whole sectors, so a partial last sector reads as zeros.
    return (bytes + kSectorSize - 1) / kSectorSize * kSectorSize;
}

uint64_t BlockNode::request_alignment() const
{
    return m_driver->request_alignment ? std::max<uint64_t>(m_driver->request_alignment(*this), 1) : 1;
}

Result<void> BlockNode::preadv(int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    if (!m_driver->preadv) {
        return make_errno_error(ENOMEDIUM);
    }
    const uint64_t align = request_alignment();
    const size_t bytes = iov_size(iov);
    if (align > 1 && bytes > 0 && (offset % align != 0 || bytes % align != 0)) {
        // bdrv_pad_request: the driver reads the whole aligned blocks into a bounce buffer.
        auto start = static_cast<int64_t>(offset / align * align);
        auto end = static_cast<int64_t>((offset + bytes + align - 1) / align * align);
        auto guard = guard_request(false);
        return enomem_on_bad_alloc([&]() -> Result<void> {
            std::vector<uint8_t> bounce(static_cast<size_t>(end - start));
            iovec whole{bounce.data(), bounce.size()};
            TRY_VOID(m_driver->preadv(*this, start, std::span(&whole, 1), flags));
            iov_from_buf(iov, 0, bounce.data() + (offset - start), bytes);
            return {};
        });
    }
    auto guard = guard_request(false);
    // A buffer a driver sizes from the image (a compressed grain of a huge grain size)
    // that cannot be had fails this request with ENOMEM, as qemu_try_blockalign does.
    return enomem_on_bad_alloc([&] { return m_driver->preadv(*this, offset, iov, flags); });
}

BlockNode* BlockNode::primary_child() const
{
    if (BlockNode* f = file()) {
        return f;
    }
    return child("image");
}

void BlockNode::debug_event(BlkdebugEvent event)
{
    if (m_driver->debug_event) {
        m_driver->debug_event(*this, event);
    }
}

bool BlockNode::passes_fua() const
{
    if (!m_driver->passes_fua) {
        return false;
    }
    BlockNode* below = m_driver->protocol_name.empty() ? primary_child() : nullptr;
    return !below || below->passes_fua();
}

BlockNode* find_debug_node(BlockNode& top)
{
    for (BlockNode* node = &top; node; node = node->primary_child()) {
        if (node->driver().debug_breakpoint) {
            return node;
        }
    }
    return nullptr;
}

void resume_parked_requests(BlockNode& top)
{
    if (BlockNode* debug = find_debug_node(top); debug && debug->driver().debug_resume_parked) {
        debug->driver().debug_resume_parked(*debug);
    }
}

void BlockNode::note_write_end(int64_t end)
{
    int64_t seen = m_wr_highest_offset.load(std::memory_order_relaxed);
    while (end > seen && !m_wr_highest_offset.compare_exchange_weak(seen, end, std::memory_order_relaxed)) { }
    check_write_threshold(end);
}

void BlockNode::check_write_threshold(int64_t end)
{
    uint64_t threshold = write_threshold();
    if (threshold == 0 || end < 0 || static_cast<uint64_t>(end) <= threshold) {
        return;
    }
    // One report per threshold: a request racing this one finds it gone, and one set again
    // meanwhile stays.
    if (m_write_threshold.compare_exchange_strong(threshold, 0, std::memory_order_relaxed) &&
        m_graph.on_write_threshold) {
        m_graph.on_write_threshold(*this, static_cast<uint64_t>(end) - threshold, threshold);
    }
}

Result<void> BlockNode::driver_pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    note_write(offset, static_cast<int64_t>(iov_size(iov)));
    RequestFlags passed = flags;
    passed.fua = flags.fua && passes_fua();
    {
        auto guard = guard_request(true);
        TRY_VOID(enomem_on_bad_alloc([&] { return m_driver->pwritev(*this, offset, iov, passed); }));
    }
    return finish_write(flags.fua && !passed.fua, passed.fua);
}

Result<void> BlockNode::finish_write(bool emulate_fua, bool durable)
{
    // A FUA write the driver made durable itself leaves nothing for a flush to do.
    if (durable) {
        return {};
    }
    if (emulate_fua && !m_children.empty()) {
        // As QEMU, a node over others flushes for FUA before the write counts as its own
        // change: the children it wrote to are dirty and get flushed, while this node's
        // own flush (and the flush_to_disk event on its child) waits for the next write.
        auto flushed = flush();
        note_change();
        return flushed;
    }
    note_change();
    // A node with nothing below must flush itself, or the write would not be durable.
    return emulate_fua ? flush() : Result<void>{};
}

Result<void> BlockNode::pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    if (read_only()) {
        return make_errno_error(EACCES);
    }
    if (!m_driver->pwritev) {
        return make_errno_error(ENOMEDIUM);
    }
    const uint64_t align = request_alignment();
    if (const size_t bytes = iov_size(iov); align > 1 && bytes > 0 && (offset % align != 0 || bytes % align != 0)) {
        return padded_pwritev(offset, iov, flags, align);
    }
    // cache.no-flush: a FUA write is an ordinary one, as the flush it stands for is ignored.
    flags.fua = flags.fua && !m_flags.no_flush;
    if (m_flags.detect_zeroes != DetectZeroes::Off && iov_is_zero(iov)) {
        RequestFlags zero = flags;
        zero.may_unmap = m_flags.detect_zeroes == DetectZeroes::Unmap && m_flags.unmap;
        return pwrite_zeroes(offset, static_cast<int64_t>(iov_size(iov)), zero);
    }
    debug_event(BlkdebugEvent::Pwritev);
    auto done = driver_pwritev(offset, iov, flags);
    debug_event(BlkdebugEvent::PwritevDone);
    return done;
}

Result<void> BlockNode::padded_pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags, uint64_t align)
{
    // bdrv_init_padding and bdrv_padding_rmw_read: the head block and the tail block are
    // read first, in one read when the padded request is a single block or two blocks that
    // both need it, with the pwritev_rmw_* events around the reads; then the padded range
    // is written as one aligned request.
    const auto unit = static_cast<int64_t>(align);
    const auto bytes = static_cast<int64_t>(iov_size(iov));
    const int64_t head = offset % unit;
    const int64_t tail = (offset + bytes) % unit == 0 ? 0 : unit - (offset + bytes) % unit;
    const int64_t start = offset - head;
    const int64_t sum = head + bytes + tail;
    const int64_t pad_len = (sum > unit && head != 0 && tail != 0) ? 2 * unit : unit;
    const bool merge_reads = sum == pad_len;
    return enomem_on_bad_alloc([&]() -> Result<void> {
        std::vector<uint8_t> padded(static_cast<size_t>(sum));
        auto read_block = [&](int64_t at, int64_t len, uint8_t* into) -> Result<void> {
            iovec one{into, static_cast<size_t>(len)};
            auto guard = guard_request(false);
            return m_driver->preadv(*this, at, std::span(&one, 1), {});
        };
        if (head != 0 || merge_reads) {
            if (head != 0) {
                debug_event(BlkdebugEvent::PwritevRmwHead);
            }
            if (merge_reads && tail != 0) {
                debug_event(BlkdebugEvent::PwritevRmwTail);
            }
            TRY_VOID(read_block(start, merge_reads ? pad_len : unit, padded.data()));
            if (head != 0) {
                debug_event(BlkdebugEvent::PwritevRmwAfterHead);
            }
            if (merge_reads && tail != 0) {
                debug_event(BlkdebugEvent::PwritevRmwAfterTail);
            }
        }
        if (tail != 0 && !merge_reads) {
            debug_event(BlkdebugEvent::PwritevRmwTail);
            TRY_VOID(read_block(start + sum - unit, unit, padded.data() + sum - unit));
            debug_event(BlkdebugEvent::PwritevRmwAfterTail);
        }
        iov_to_buf(iov, 0, padded.data() + head, static_cast<size_t>(bytes));
        iovec whole{padded.data(), padded.size()};
        return pwritev(start, std::span(&whole, 1), flags);
    });
}

Result<void> BlockNode::pread(int64_t offset, std::span<uint8_t> buf)
{
    iovec one{buf.data(), buf.size()};
    return preadv(offset, std::span(&one, 1));
}

bool BlockNode::prepare_write(int64_t offset, std::span<const uint8_t> data, PreparedWrite& out)
{
    return m_driver->prepare_write && m_driver->prepare_write(*this, offset, data, out);
}

Result<void> BlockNode::pwrite(int64_t offset, std::span<const uint8_t> buf, RequestFlags flags)
{
    iovec one{const_cast<uint8_t*>(buf.data()), buf.size()};
    return pwritev(offset, std::span(&one, 1), flags);
}

Result<void> BlockNode::pwrite_zeroes(int64_t offset, int64_t bytes, RequestFlags flags)
{
    if (read_only()) {
        return make_errno_error(EACCES);
    }
    debug_event(BlkdebugEvent::PwritevZero);
    auto done = zero_range(offset, bytes, flags);
    debug_event(BlkdebugEvent::PwritevDone);
    return done;
}

Result<void> BlockNode::zero_range(int64_t offset, int64_t bytes, RequestFlags flags)
{
    note_write(offset, bytes);
    if (!m_flags.unmap) {
        flags.may_unmap = false;
    }
    flags.fua = flags.fua && !m_flags.no_flush;
    if (m_driver->write_zeroes) {
        RequestFlags passed = flags;
        passed.fua = flags.fua && passes_fua();
        auto done = [&] {
            auto guard = guard_request(true);
            return m_driver->write_zeroes(*this, offset, bytes, passed);
        }();
        if (done) {
            done = finish_write(flags.fua && !passed.fua, passed.fua);
        }
        if (done || done.error().errno_value != ENOTSUP) {
            return done;
        }
    }
    if (flags.no_fallback) {
        return make_errno_error(ENOTSUP);
    }
    if (!m_driver->pwritev) {
        return make_errno_error(ENOMEDIUM);
    }
    // The driver cannot zero cheaply: write zero buffers, a bounded chunk at a time, to
    // the driver itself (QEMU's fallback raises no write events of its own).
    constexpr int64_t kChunk = 1 << 20;
    std::vector<uint8_t> zeroes(std::min(bytes, kChunk));
    while (bytes > 0) {
        int64_t now = std::min<int64_t>(bytes, zeroes.size());
        iovec one{zeroes.data(), static_cast<size_t>(now)};
        TRY_VOID(driver_pwritev(offset, std::span(&one, 1), {}));
        offset += now;
        bytes -= now;
    }
    if (flags.fua) {
        TRY_VOID(flush());
    }
    return {};
}

Result<void> BlockNode::discard(int64_t offset, int64_t bytes)
{
    if (read_only()) {
        return make_errno_error(EACCES);
    }
    // discard=ignore, or a driver that cannot: the request still succeeds, as in QEMU.
    if (!m_flags.unmap || !m_driver->discard) {
        return {};
    }
    check_write_threshold(offset + bytes);
    m_dirty_bitmaps.note_discard(offset, bytes);
    auto done = [&] {
        auto guard = guard_request(true);
        return m_driver->discard(*this, offset, bytes);
    }();
    if (!done && done.error().errno_value == ENOTSUP) {
        return {};
    }
    note_change();
    return done;
}

Result<void> BlockNode::flush()
{
    // bdrv_co_flush: the events go to the primary child whatever the cache mode, the
    // driver is skipped when nothing changed since the last flush that succeeded, and a
    // failure leaves the children unflushed and the node still dirty.
    if (read_only()) {
        return {};
    }
    BlockNode* primary = primary_child();
    blkdbg_event(primary, BlkdebugEvent::FlushToOs);
    uint64_t gen = m_write_gen;
    if (!m_flags.no_flush && gen != m_flushed_gen) {
        blkdbg_event(primary, BlkdebugEvent::FlushToDisk);
        if (m_driver->flush) {
            auto guard = guard_request(true);
            TRY_VOID(m_driver->flush(*this));
        }
    }
    Result<void> result;
    for (BdrvChild& child : m_children) {
        auto done = child.node->flush();
        if (result && !done) {
            result = std::move(done);
        }
    }
    if (result) {
        m_flushed_gen = gen;
    }
    return result;
}

Result<void> BlockNode::truncate(int64_t offset, Prealloc prealloc)
{
    if (offset < 0) {
        return make_error("Image size cannot be negative");
    }
    if (read_only()) {
        return std::unexpected(Error{ErrorClass::GenericError, "Image is read-only", EACCES});
    }
    if (!m_driver->truncate) {
        return not_supported("Image format driver does not support resize");
    }
    auto guard = guard_request(true);
    note_change();
    auto done = m_driver->truncate(*this, offset, prealloc);
    m_graph.note_resize();
    if (done) {
        m_dirty_bitmaps.resize(offset);
    }
    return done;
}

Result<BlockStatus> BlockNode::block_status(bool want_zero, int64_t offset, int64_t bytes)
{
    int64_t total = TRY(length());
    BlockStatus result;
    if (offset >= total) {
        result.flags = status::kEof;
        return result;
    }
    bytes = std::min(bytes, total - offset);
    if (bytes == 0) {
        return result;
    }
    if (!m_driver->block_status) {
        result.flags = status::kData | status::kAllocated;
        result.bytes = bytes;
        if (!m_driver->protocol_name.empty()) {
            result.flags |= status::kOffsetValid;
            result.map = offset;
            result.file = this;
        }
    } else {
        auto guard = guard_request(false);
        result = TRY(m_driver->block_status(*this, want_zero, offset, bytes));
        result.bytes = std::min(result.bytes, bytes);
    }
    if (result.flags & status::kRecurse) {
        result.flags &= ~status::kRecurse;
        constexpr unsigned kWanted = status::kData | status::kZero | status::kOffsetValid;
        if (want_zero && result.file && result.file != this && (result.flags & kWanted) == (kWanted & ~status::kZero)) {
            // Only extra information: if the file cannot tell, the format's answer stands.
            auto below = result.file->block_status(want_zero, result.map, result.bytes);
            if (below) {
                if ((below->flags & status::kEof) && (below->bytes == 0 || (below->flags & status::kZero))) {
                    // Past the end of the file reads as zeros.
                    result.flags |= status::kZero;
                } else {
                    result.bytes = below->bytes;
                    result.flags |= below->flags & status::kZero;
                }
            }
        }
    }
    if (result.flags & status::kRaw) {
        BlockNode* below = result.file;
        BlockStatus inner = TRY(below->block_status(want_zero, result.map, result.bytes));
        result = inner;
    } else if (result.flags & (status::kData | status::kZero)) {
        result.flags |= status::kAllocated;
    } else if (m_driver->supports_backing) {
        // What this layer does not hold reads from the backing file, or as zeros without
        // one, or past the backing file's end.
        BlockNode* cow = backing();
        if (!cow) {
            result.flags |= status::kZero;
        } else if (want_zero) {
            auto cow_length = cow->length();
            if (cow_length && offset >= *cow_length) {
                result.flags |= status::kZero;
            }
        }
    }
    if (offset + result.bytes == total) {
        result.flags |= status::kEof;
    }
    return result;
}

Result<BlockStatusAbove> block_status_above(
    BlockNode& top, const BlockNode* base, bool want_zero, int64_t offset, int64_t bytes)
{
    BlockStatusAbove answer;
    answer.status = TRY(top.block_status(want_zero, offset, bytes));
    answer.depth = 1;
    answer.layer = &top;
    BlockStatus& result = answer.status;
    if (result.bytes == 0 || (result.flags & status::kAllocated) || &top == base) {
        return answer;
    }
    std::optional<int64_t> eof;
    if (result.flags & status::kEof) {
        eof = offset + result.bytes;
    }
    bytes = result.bytes;
    for (BlockNode* layer = top.backing(); layer && layer != base; layer = layer->backing()) {
        result = TRY(layer->block_status(want_zero, offset, bytes));
        answer.depth++;
        answer.layer = layer;
        if (result.bytes == 0) {
            // The layer ends before the range: what the upper layer left to it reads as
            // zeros, allocated here.
            result = BlockStatus{.flags = status::kZero | status::kAllocated, .bytes = bytes, .file = layer};
            break;
        }
        if (result.flags & status::kAllocated) {
            result.flags &= ~status::kEof;  // the layer's end, not necessarily the top's
            break;
        }
        bytes = result.bytes;
    }
    if (eof && offset + result.bytes == *eof) {
        result.flags |= status::kEof;
    }
    return answer;
}

Result<bool> BlockNode::is_allocated(int64_t offset, int64_t bytes, int64_t* pnum)
{
    BlockStatus s = TRY(block_status(false, offset, bytes));
    *pnum = s.bytes;
    return (s.flags & status::kAllocated) != 0;
}

Result<DriverInfo> BlockNode::info()
{
    if (m_driver->get_info) {
        return m_driver->get_info(*this);
    }
    if (m_driver->is_filter_like && file()) {
        return file()->info();
    }
    return not_supported("Operation not supported");
}

Result<int64_t> BlockNode::allocated_file_size()
{
    if (m_driver->get_allocated_file_size) {
        return m_driver->get_allocated_file_size(*this);
    }
    if (!m_driver->protocol_name.empty() || m_children.empty()) {
        return not_supported("Operation not supported");
    }
    int64_t total = 0;
    for (BdrvChild& child : m_children) {
        // A backing file is another image, not part of this one.
        if (child.name != "backing") {
            total += TRY(child.node->allocated_file_size());
        }
    }
    return total;
}

}  // namespace qemu::block
