// qemu-img convert's copy: it walks the sources' block status so holes stay holes and zero
// runs of at least the sparse size are not written; -m workers read at once and write in
// order (any order with -W).
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "block/iov.h"
#include "tools/qemu-img/img-convert.h"
#include "util/thread-pool.h"

namespace qemu::img {

namespace {

// IO_BUF_SIZE: the largest piece convert reads or writes at once.
constexpr int64_t kIoBufSize = 2 * 1024 * 1024;
// Page-aligned copy buffers, as QEMU's qemu_blockalign gives. From a vector's 16-byte
// offset into its allocation the kernel's copies to and from the page cache were slower:
// under a parallel build, convert went from 0.46x to 0.61x QEMU's rate with this alone.
constexpr size_t kBufferAlign = 4096;

// What one piece of the concatenated sources holds.
struct Piece {
    size_t source = 0;
    int64_t source_offset = 0;
    int64_t bytes = 0;
    bool zero = false;  // nothing to read: zeros, or (with backing) the target's backing file
    // BLK_BACKING_FILE: left unallocated in a target with a backing file (-B), which then
    // shows through as it does under the source's top layer.
    bool backing = false;
};

// The next piece starting at the given offset of the concatenation.
Result<Piece> next_piece(Converter& conv, int64_t offset)
{
    Piece piece;
    while (offset >= conv.sources[piece.source].length) {
        offset -= conv.sources[piece.source].length;
        piece.source++;
    }
    ConvertSource& src = conv.sources[piece.source];
    int64_t limit = std::min(src.length - offset, block::kRequestMaxBytes);
    // Past the end of the target's backing file zeros need not be written; a piece does
    // not straddle that end. (With a backing file there is one source, so offsets agree.)
    bool past_backing = conv.target_backing_bytes >= 0 && offset >= conv.target_backing_bytes;
    if (conv.target_backing_bytes >= 0 && !past_backing) {
        limit = std::min(limit, conv.target_backing_bytes - offset);
    }
    // bdrv_block_status_above down the whole chain, so what only a backing file holds is
    // copied; with -B only the source's top layer, the rest being the target's backing.
    const block::BlockNode* base = conv.target_has_backing ? src.image.root().backing() : nullptr;
    auto& last = conv.last_status;
    if (last.source != piece.source || offset < last.start || offset >= last.end) {
        block::BlockStatus found = TRY(block::block_status_above(src.image.root(), base, true, offset, limit)).status;
        last = {.source = piece.source, .start = offset, .end = offset + found.bytes, .status = found};
    }
    block::BlockStatus status = last.status;
    status.bytes = std::min(last.end - offset, limit);
    piece.source_offset = offset;
    piece.bytes = std::max<int64_t>(status.bytes, block::kSectorSize);
    piece.bytes = std::min(piece.bytes, limit);
    piece.zero = (status.flags & block::status::kZero) != 0;
    if (piece.zero) {
        piece.backing = past_backing;
    } else if (!(status.flags & block::status::kData) && conv.target_has_backing) {
        piece.zero = true;
        piece.backing = true;
    }
    // Without sparse detection zero ranges are copied like data, so the target is allocated.
    if (!piece.backing && (!piece.zero || conv.min_sparse == 0)) {
        piece.zero = false;
        piece.bytes = std::min(piece.bytes, kIoBufSize);
    }
    // Compressed targets take whole clusters: a hole shorter than one is copied with it.
    if (int64_t cluster = conv.compressed_cluster) {
        int64_t to_boundary = cluster - (offset % cluster);
        if (piece.bytes < to_boundary) {
            piece.zero = false;
            piece.backing = false;
            piece.bytes = std::min(to_boundary, limit);
        } else if (piece.zero) {
            piece.bytes = std::max(to_boundary, (offset + piece.bytes) / cluster * cluster - offset);
        } else {
            piece.bytes = to_boundary;
        }
    }
    return piece;
}

// Data goes to the target in writes of at most 1 MiB. Measured on this project's 2-CPU VM
// (kernel 6.18, ext4): with 2 MiB page-cache writes about one convert in three of a 1 GiB
// image took two to three times as long in the kernel (0.6-0.9 s against 0.25 s); with
// 1 MiB writes none did. Where a write is cut does not change what the target holds.
constexpr int64_t kWriteChunk = 1024 * 1024;

Result<void> write_data(block::BlockBackend& blk, int64_t offset, std::span<const uint8_t> buf)
{
    for (size_t done = 0; done < buf.size();) {
        size_t now = std::min(buf.size() - done, static_cast<size_t>(kWriteChunk));
        TRY_VOID(blk.pwrite(offset + static_cast<int64_t>(done), buf.subspan(done, now)));
        done += now;
    }
    return {};
}

// Writes a buffer, leaving out zero runs of at least min_sparse bytes. Like QEMU, it looks at
// the buffer in blocks of the largest power of two not above min_sparse (aligned to the
// image, clipped to the buffer), so data is written in whole blocks.
Result<void> write_sparse(Converter& conv, int64_t offset, std::span<const uint8_t> buf)
{
    auto& blk = *conv.target.blk;
    if (conv.min_sparse == 0) {
        return write_data(blk, offset, buf);
    }
    int64_t align = std::bit_floor(static_cast<uint64_t>(conv.min_sparse));
    int64_t end = offset + static_cast<int64_t>(buf.size());
    auto block_end = [&](int64_t at) { return std::min(end, (at / align + 1) * align); };
    auto block_is_zero = [&](int64_t at) {
        return block::buffer_is_zero(buf.data() + (at - offset), static_cast<size_t>(block_end(at) - at));
    };
    int64_t at = offset;
    while (at < end) {
        bool zero = block_is_zero(at);
        int64_t run_end = block_end(at);
        while (run_end < end && block_is_zero(run_end) == zero) {
            run_end = block_end(run_end);
        }
        int64_t len = run_end - at;
        if (zero && len >= conv.min_sparse) {
            if (!conv.has_zero_init) {
                TRY_VOID(blk.pwrite_zeroes(at, len, {.may_unmap = true}));
            }
        } else {
            TRY_VOID(write_data(blk, at, buf.subspan(static_cast<size_t>(at - offset), static_cast<size_t>(len))));
        }
        at = run_end;
    }
    return {};
}

// One piece in flight: its place in the target, and the pool's answer for it (its read,
// and with -W its write too).
struct InFlight {
    Piece piece;
    int64_t offset = 0;
    size_t slot = 0;  // its buffer and prepared write, for data pieces
    std::span<uint8_t> buf;
    std::future<Result<void>> done;
};

// What a data piece in flight owns: its copy buffer, and the target's work prepared for it
// (a compressed grain, made on the pool thread that read the piece).
struct Slot {
    std::span<uint8_t> buffer;
    block::PreparedWrite prepared;
    bool has_prepared = false;
};

// Reads a data piece into buf, with "at byte" in the target's terms for the error.
Result<void> read_piece(Converter& conv, const Piece& piece, int64_t offset, std::span<uint8_t> buf)
{
    auto read = conv.sources[piece.source].image.blk->pread(piece.source_offset, buf);
    if (!read) {
        return make_error("error while reading at byte " + std::to_string(offset) + ": " + read.error().desc);
    }
    return {};
}

// A compressed cluster is written whole, or skipped only when all of it is zero.
bool skip_compressed(const Converter& conv, std::span<const uint8_t> buf)
{
    return conv.min_sparse && conv.has_zero_init && block::buffer_is_zero(buf.data(), buf.size());
}

// On the pool thread that read a piece for a compressed target: the compression, so that
// the writer only appends (QEMU compresses in its single writing coroutine).
void prepare_piece(Converter& conv, const Piece& piece, int64_t offset, Slot& slot, std::span<const uint8_t> buf)
{
    slot.has_prepared = !piece.zero && conv.compressed_cluster && !skip_compressed(conv, buf) &&
        conv.target.blk->root().prepare_write(offset, buf, slot.prepared);
}

Result<void> write_piece(
    Converter& conv, const Piece& piece, int64_t offset, std::span<const uint8_t> buf, const Slot* slot)
{
    Result<void> written;
    if (piece.backing) {
        return {};
    }
    if (!piece.zero && conv.compressed_cluster) {
        if (!skip_compressed(conv, buf)) {
            const block::PreparedWrite* prepared = slot && slot->has_prepared ? &slot->prepared : nullptr;
            written = conv.target.blk->pwrite(offset, buf, {.prepared = prepared});
        }
    } else if (!piece.zero) {
        written = write_sparse(conv, offset, buf);
    } else if (!conv.has_zero_init) {
        written = conv.target.blk->pwrite_zeroes(offset, piece.bytes, {.may_unmap = true});
    }
    if (!written) {
        return make_error("error while writing at byte " + std::to_string(offset) + ": " + written.error().desc);
    }
    return {};
}

}  // namespace

// QEMU's convert runs -m coroutines that each read a piece and then, unless -W, wait for
// their turn to write it. Here the pool's threads read up to -m pieces ahead while this
// thread writes them in order, so the order costs no hand-off between threads; with -W
// the pool's threads write what they read as well.
int convert_copy(Converter& conv, Progress& progress)
{
    // The first pass counts what will be copied, so that progress is in copied bytes.
    int64_t to_copy = 0;
    for (int64_t offset = 0; offset < conv.total;) {
        auto piece = next_piece(conv, offset);
        if (!piece) {
            error_report(
                "error while reading block status at offset " + std::to_string(offset) + ": " + piece.error().desc);
            return 1;
        }
        if (!piece->zero) {
            to_copy += piece->bytes;
        }
        offset += piece->bytes;
    }
    auto depth = static_cast<size_t>(conv.workers);
    block::AlignedBuffer buffers = block::aligned_buffer(kBufferAlign, depth * static_cast<size_t>(kIoBufSize));
    if (!buffers) {
        error_report("Could not allocate the copy buffers: " + std::string(std::strerror(ENOMEM)));
        return 1;
    }
    std::vector<Slot> slots(depth);
    std::vector<size_t> free_slots;
    for (size_t i = 0; i < depth; ++i) {
        slots[i].buffer = std::span(buffers.get() + i * kIoBufSize, static_cast<size_t>(kIoBufSize));
        free_slots.push_back(i);
    }
    // Declared after the buffers so that its threads are gone before they are.
    ThreadPool pool(static_cast<unsigned>(depth));
    std::deque<InFlight> window;
    std::optional<std::string> failure;
    int64_t copied = 0;
    int64_t next_offset = 0;
    while (!window.empty() || (next_offset < conv.total && !failure)) {
        while (window.size() < depth && next_offset < conv.total && !failure) {
            auto piece = next_piece(conv, next_offset);
            if (!piece) {
                failure = "error while reading block status at offset " + std::to_string(next_offset) + ": " +
                    piece.error().desc;
                break;
            }
            InFlight job{.piece = *piece, .offset = next_offset};
            next_offset += piece->bytes;
            if (!job.piece.zero) {
                job.slot = free_slots.back();
                free_slots.pop_back();
                job.buf = slots[job.slot].buffer.first(static_cast<size_t>(job.piece.bytes));
                slots[job.slot].has_prepared = false;
            }
            // A hole written in order needs no trip through the pool.
            if (job.piece.zero && conv.in_order) {
                window.push_back(std::move(job));
                continue;
            }
            Slot* slot = job.piece.zero ? nullptr : &slots[job.slot];
            job.done = pool.submit([&conv, piece = job.piece, offset = job.offset, buf = job.buf, slot]() -> Result<void> {
                if (!piece.zero) {
                    TRY_VOID(read_piece(conv, piece, offset, buf));
                }
                if (!conv.in_order) {
                    TRY_VOID(write_piece(conv, piece, offset, buf, nullptr));
                } else if (slot) {
                    prepare_piece(conv, piece, offset, *slot, buf);
                }
                return {};
            });
            window.push_back(std::move(job));
        }
        if (window.empty()) {
            break;
        }
        InFlight job = std::move(window.front());
        window.pop_front();
        Result<void> done = job.done.valid() ? job.done.get() : Result<void>{};
        if (done && conv.in_order && !failure) {
            done = write_piece(conv, job.piece, job.offset, job.buf, job.piece.zero ? nullptr : &slots[job.slot]);
        }
        if (!job.piece.zero) {
            free_slots.push_back(job.slot);
        }
        if (!done) {
            // The first failure in target order is the one reported; what is in flight
            // still completes, since it uses the buffers.
            failure = failure.value_or(done.error().desc);
            continue;
        }
        if (!job.piece.zero && !failure) {
            copied += job.piece.bytes;
            progress.print(100.0f * static_cast<float>(copied) / static_cast<float>(to_copy), 0);
        }
    }
    if (failure) {
        error_report(*failure);
        return 1;
    }
    auto flushed = conv.target.blk->flush();
    if (!flushed) {
        error_report("error while flushing: " + flushed.error().desc);
        return 1;
    }
    return 0;
}

}  // namespace qemu::img
