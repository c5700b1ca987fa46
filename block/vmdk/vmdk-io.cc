// Guest I/O on vmdk images: reads through each extent's grain tables (compressed grains
// inflated by the codec), unallocated grains from the backing file, writes that allocate
// grains at the end of the extent file exactly where QEMU 7.2 puts them, write-zeroes with
// zeroed-grain entries, and block status.
//
// Deliberate difference from QEMU, for speed: QEMU writes each new grain's table entry (and
// its redundant copy) on its own and flushes the extent file after every one, which caps
// sequential allocating writes near 130 MiB/s. We write a request's data first, then its
// changed table entries, once per table run, and flush only when the guest flushes. After a
// guest flush the image is as consistent as QEMU's; before it, as with any write-back cache,
// a crash may lose the request (a table entry may reach the disk before its grain's data,
// so an unflushed grain may read back stale, never another grain's data).
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "block/iov.h"
#include "block/vmdk/vmdk-codec.h"
#include "block/vmdk/vmdk-descriptor.h"
#include "block/vmdk/vmdk-state.h"
#include "util/bswap.h"

namespace qemu::block::vmdk {

namespace {

// error_report: QEMU's driver prints these itself, prefixed with the program's name.
void report(const char* text)
{
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, text);
}

void report_wrong_offset(int64_t offset, int64_t total_sectors)
{
    char text[128];
    std::snprintf(text, sizeof text, "Wrong offset: offset=0x%" PRIx64 " total_sectors=0x%" PRIx64,
        static_cast<uint64_t>(offset), static_cast<uint64_t>(total_sectors));
    report(text);
}

// vmdk_is_cid_valid: once per open, the overlay's parentCID must be its parent's CID.
bool cid_valid(BlockNode& node, VmdkState& s)
{
    BlockNode* parent = node.backing();
    std::lock_guard lock(s.cid_check_lock);
    if (!s.cid_checked && parent) {
        if (parent->driver().format_name != "vmdk") {
            return false;
        }
        auto& ps = parent->state<VmdkState>();
        auto cid = read_cid(*parent->file(), ps.desc_offset, false);
        if (!cid || *cid != s.parent_cid) {
            return false;
        }
    }
    s.cid_checked = true;
    return true;
}

// A read of the backing file; past its end the disk reads as zeros.
Result<void> read_backing(BlockNode& backing, int64_t offset, std::span<const iovec> iov)
{
    auto size = static_cast<int64_t>(iov_size(iov));
    int64_t length = TRY(backing.length());
    int64_t inside = std::clamp<int64_t>(length - offset, 0, size);
    if (inside > 0) {
        TRY_VOID(backing.preadv(offset, iov_slice(iov, 0, static_cast<size_t>(inside))));
    }
    if (inside < size) {
        iov_zero(iov_slice(iov, static_cast<size_t>(inside), static_cast<size_t>(size - inside)));
    }
    return {};
}

// What one thread's compressed reads and writes reuse from one request to the next. Buffers
// for grains above kKeptGrainBytes are dropped after use, so that one image with huge
// grains does not leave gigabytes behind.
struct GrainBuffers {
    std::vector<uint8_t> stored;
    std::vector<uint8_t> grain;
};

constexpr size_t kKeptGrainBytes = 1024 * 1024;
// The first read of a compressed grain: its marker and, for most grains, all of its stream.
constexpr size_t kStoredHeadBytes = 4096;

GrainBuffers& grain_buffers()
{
    thread_local GrainBuffers buffers;
    return buffers;
}

void release_if_huge(std::vector<uint8_t>& buffer)
{
    if (buffer.capacity() > 2 * kKeptGrainBytes + 512) {
        std::vector<uint8_t>().swap(buffer);
    }
}

std::span<uint8_t> sized(std::vector<uint8_t>& buffer, size_t bytes)
{
    if (buffer.size() < bytes) {
        buffer.resize(bytes);
    }
    return std::span(buffer).first(bytes);
}

// vmdk_read_extent for a compressed grain. QEMU reads two grains and a sector for every
// read; the stream is usually far shorter, so this reads the marker and the start of the
// stream first, and the rest of the stream only when there is more. inflate_grain looks at
// nothing beyond the marker's length, so the answer is QEMU's.
Result<void> read_compressed(Extent& e, uint64_t cluster_offset, int64_t offset, std::span<const iovec> iov)
{
    auto cluster_bytes = static_cast<size_t>(e.cluster_bytes());
    int64_t in_cluster = e.offset_in_cluster(offset);
    auto size = static_cast<int64_t>(iov_size(iov));
    size_t full = compressed_read_size(cluster_bytes);
    if (cluster_offset > kMaxFileOffset - full) {
        return make_errno_error(EIO);
    }
    GrainBuffers& buffers = grain_buffers();
    size_t head = std::min(full, kStoredHeadBytes);
    std::span<uint8_t> stored = sized(buffers.stored, head);
    blkdbg_event(e.file, BlkdebugEvent::ReadCompressed);
    TRY_VOID(e.file->pread(static_cast<int64_t>(cluster_offset), stored));
    size_t need = TRY(stored_grain_length(stored, cluster_bytes, e.has_marker));
    if (need > head) {
        stored = sized(buffers.stored, need);
        TRY_VOID(e.file->pread(static_cast<int64_t>(cluster_offset + head), stored.subspan(head)));
    }
    // A whole grain into one buffer is inflated in place.
    bool in_place = in_cluster == 0 && iov.size() == 1 && iov[0].iov_len == cluster_bytes;
    std::span<uint8_t> grain = in_place ? std::span(static_cast<uint8_t*>(iov[0].iov_base), cluster_bytes)
                                        : sized(buffers.grain, cluster_bytes);
    auto produced = inflate_grain(stored, grain, e.has_marker);
    release_if_huge(buffers.stored);
    if (!produced) {
        release_if_huge(buffers.grain);
        return std::unexpected(produced.error());
    }
    // A short grain (the disk's last) only fails a read that reaches past its end.
    if (in_cluster + size > static_cast<int64_t>(*produced)) {
        release_if_huge(buffers.grain);
        return make_errno_error(EINVAL);
    }
    if (!in_place) {
        iov_from_buf(iov, 0, grain.data() + in_cluster, static_cast<size_t>(size));
    }
    release_if_huge(buffers.grain);
    return {};
}

}  // namespace

uint32_t random_cid()
{
    std::random_device random;
    return static_cast<uint32_t>(random());
}

Result<void> vmdk_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    auto& s = node.state<VmdkState>();
    auto bytes = static_cast<int64_t>(iov_size(iov));
    size_t done = 0;
    while (bytes > 0) {
        Extent* e = find_extent(s, offset / 512);
        if (!e) {
            return make_errno_error(EIO);
        }
        GrainRef ref = TRY(lookup_grain(*e, offset));
        int64_t in_cluster = e->offset_in_cluster(offset);
        int64_t n = std::min(bytes, e->cluster_bytes() - in_cluster);
        if (ref.result != Lookup::Ok) {
            auto part = iov_slice(iov, done, static_cast<size_t>(n));
            if (node.backing() && ref.result != Lookup::Zeroed) {
                if (!cid_valid(node, s)) {
                    return make_errno_error(EINVAL);
                }
                TRY_VOID(read_backing(*node.backing(), offset, part));
            } else {
                iov_zero(part);
            }
        } else if (e->compressed) {
            TRY_VOID(read_compressed(*e, ref.cluster_offset, offset, iov_slice(iov, done, static_cast<size_t>(n))));
        } else {
            // Neighbouring grains that lie one after the other in the file are read at once.
            uint64_t file_offset = ref.cluster_offset + static_cast<uint64_t>(in_cluster);
            int64_t run = n;
            while (!e->flat && run < bytes) {
                int64_t next = offset + run;
                if (next / 512 >= e->end_sector) {
                    break;
                }
                GrainRef more = TRY(lookup_grain(*e, next));
                if (more.result != Lookup::Ok || more.cluster_offset != file_offset + static_cast<uint64_t>(run)) {
                    break;
                }
                run += std::min(bytes - run, e->cluster_bytes());
            }
            n = run;
            blkdbg_event(e->file, BlkdebugEvent::ReadAio);
            TRY_VOID(e->file->preadv(static_cast<int64_t>(file_offset), iov_slice(iov, done, static_cast<size_t>(n))));
        }
        bytes -= n;
        offset += n;
        done += static_cast<size_t>(n);
    }
    return {};
}

namespace {

// Data writes waiting to go out as one: consecutive ranges of one extent file.
struct PendingWrite {
    BlockNode* file = nullptr;
    int64_t offset = 0;
    std::vector<iovec> iov;
    int64_t bytes = 0;

    Result<void> flush()
    {
        if (!file || bytes == 0) {
            return {};
        }
        blkdbg_event(file, BlkdebugEvent::WriteAio);
        auto written = file->pwritev(offset, iov);
        file = nullptr;
        iov.clear();
        bytes = 0;
        return written;
    }
    Result<void> add(BlockNode* target, int64_t at, std::vector<iovec> parts, int64_t len)
    {
        if (file != target || offset + bytes != at || iov.size() + parts.size() > 1024) {
            TRY_VOID(flush());
            file = target;
            offset = at;
        }
        iov.insert(iov.end(), parts.begin(), parts.end());
        bytes += len;
        return {};
    }
};

// get_whole_cluster: a new grain gets what the write does not cover, from the backing file
// (unless the old entry was a zero grain) or zeros, before the data itself.
Result<void> fill_new_grain(BlockNode& node, VmdkState& s, Extent& e, uint64_t cluster_offset, int64_t offset,
    int64_t skip_start, int64_t skip_end, bool zeroed)
{
    int64_t cluster_bytes = e.cluster_bytes();
    int64_t grain_start = offset - (offset - e.begin_sector() * 512) % cluster_bytes;
    BlockNode* backing = node.backing();
    bool copy_from_backing = backing && !zeroed;
    if (backing && !cid_valid(node, s)) {
        return make_errno_error(EINVAL);
    }
    std::vector<uint8_t> grain(static_cast<size_t>(cluster_bytes));
    auto fill = [&](int64_t from, int64_t to) -> Result<void> {
        auto part = std::span(grain).subspan(static_cast<size_t>(from), static_cast<size_t>(to - from));
        if (copy_from_backing) {
            blkdbg_event(e.file, BlkdebugEvent::CowRead);
            iovec one{part.data(), part.size()};
            if (!read_backing(*backing, grain_start + from, std::span(&one, 1))) {
                return make_errno_error(EINVAL);
            }
        }
        blkdbg_event(e.file, BlkdebugEvent::CowWrite);
        if (!e.file->pwrite(static_cast<int64_t>(cluster_offset) + from, part)) {
            return make_errno_error(EINVAL);
        }
        return {};
    };
    if (skip_start > 0) {
        TRY_VOID(fill(0, skip_start));
    }
    if (skip_end < cluster_bytes) {
        TRY_VOID(fill(skip_end, cluster_bytes));
    }
    return {};
}

Result<uint64_t> allocate_grain(Extent& e)
{
    if (e.next_cluster_sector >= kExtentMaxSectors) {
        return make_errno_error(EINVAL);
    }
    auto cluster_sector = static_cast<uint64_t>(e.next_cluster_sector);
    e.next_cluster_sector += static_cast<int64_t>(e.cluster_sectors);
    return cluster_sector * 512;
}

// Writes `bytes` zeros at `offset` through `write`, pages_per_write pages at a time, each
// piece an I/O vector repeating one static zero page: nothing to allocate or clear.
template <typename Write>
Result<void> write_zero_pages(int64_t offset, int64_t bytes, size_t pages_per_write, Write write)
{
    static constexpr uint8_t kZeroPage[4096] = {};
    std::vector<iovec> iov;
    while (bytes > 0) {
        iov.clear();
        int64_t now = 0;
        while (iov.size() < pages_per_write && now < bytes) {
            auto len = static_cast<size_t>(std::min<int64_t>(bytes - now, sizeof(kZeroPage)));
            iov.push_back(iovec{const_cast<uint8_t*>(kZeroPage), len});
            now += static_cast<int64_t>(len);
        }
        TRY_VOID(write(offset, std::span<const iovec>(iov)));
        offset += now;
        bytes -= now;
    }
    return {};
}

Result<void> write_compressed(
    Extent& e, uint64_t cluster_offset, int64_t offset, std::span<const iovec> iov, const PreparedWrite* prepared)
{
    int64_t n = static_cast<int64_t>(iov_size(iov));
    int64_t in_cluster = e.offset_in_cluster(offset);
    if (in_cluster != 0 || n > e.cluster_bytes() || (n < e.cluster_bytes() && offset + n != e.end_sector * 512)) {
        return make_errno_error(EINVAL);
    }
    if (!e.has_marker) {
        return make_errno_error(EINVAL);
    }
    GrainBuffers& buffers = grain_buffers();
    std::span<const uint8_t> stored;
    if (prepared && prepared->offset == offset && prepared->bytes == n &&
        prepared->payload_bytes <= prepared->payload.size()) {
        stored = std::span(prepared->payload).first(prepared->payload_bytes);
    } else {
        std::span<const uint8_t> data;
        if (iov.size() == 1) {
            data = std::span(static_cast<const uint8_t*>(iov[0].iov_base), iov[0].iov_len);
        } else {
            std::span<uint8_t> copy = sized(buffers.grain, static_cast<size_t>(n));
            iov_to_buf(iov, 0, copy.data(), copy.size());
            data = copy;
        }
        // QEMU writes the marker and stream unpadded.
        auto length = compress_grain_into(static_cast<uint64_t>(offset / 512), data, true, buffers.stored);
        release_if_huge(buffers.grain);
        if (!length) {
            release_if_huge(buffers.stored);
            return make_errno_error(EINVAL);
        }
        stored = std::span(buffers.stored).first(*length);
    }
    if (stored.size() < kGrainMarkerSize) {
        return make_errno_error(EINVAL);
    }
    auto length = stored.size();
    blkdbg_event(e.file, BlkdebugEvent::WriteCompressed);
    auto written = e.file->pwrite(static_cast<int64_t>(cluster_offset), stored);
    release_if_huge(buffers.stored);
    TRY_VOID(written);
    auto write_end = static_cast<int64_t>(cluster_offset + length);
    e.next_cluster_sector = (write_end + 511) / 512;
    // QEMU first fills the whole new grain with zeros (get_whole_cluster), then writes the
    // compressed grain over its start: the file ends a whole grain after the grain's start.
    // Only that growth is visible, so only the part past the end of the file is written.
    int64_t grain_end = static_cast<int64_t>(cluster_offset) + e.cluster_bytes();
    int64_t length_now = TRY(e.file->length());
    int64_t from = std::max(length_now, write_end);
    if (from < grain_end) {
        TRY_VOID(write_zero_pages(from, grain_end - from, 64,
            [&](int64_t at, std::span<const iovec> zeros) { return e.file->pwritev(at, zeros); }));
    }
    return {};
}

Result<void> update_cid_once(BlockNode& node, VmdkState& s)
{
    if (!s.cid_updated) {
        TRY_VOID(write_cid(node, s, random_cid()));
        s.cid_updated = true;
    }
    return {};
}

// vmdk_pwritev without the zeroed path.
Result<void> write_data(
    BlockNode& node, VmdkState& s, int64_t offset, std::span<const iovec> iov, const PreparedWrite* prepared)
{
    auto bytes = static_cast<int64_t>(iov_size(iov));
    size_t done = 0;
    PendingWrite pending;
    while (bytes > 0) {
        Extent* e = find_extent(s, offset / 512);
        if (!e) {
            return make_errno_error(EIO);
        }
        if (e->sesparse) {
            return make_errno_error(ENOTSUP);
        }
        int64_t in_cluster = e->offset_in_cluster(offset);
        int64_t n = std::min(bytes, e->cluster_bytes() - in_cluster);
        GrainRef ref = TRY(lookup_grain(*e, offset));
        if (ref.result == Lookup::Error) {
            return make_errno_error(EINVAL);
        }
        auto part = iov_slice(iov, done, static_cast<size_t>(n));
        if (e->compressed) {
            if (ref.result == Lookup::Ok) {
                report("Could not write to allocated cluster for streamOptimized");
                return make_errno_error(EIO);
            }
        }
        bool new_allocation = false;
        uint64_t cluster_offset = ref.cluster_offset;
        if (ref.result != Lookup::Ok) {
            if (ref.l2_offset == 0) {
                // QEMU "succeeds" here and writes the data over the header at offset 0.
                return std::unexpected(Error{ErrorClass::GenericError,
                    "Cannot allocate a grain without a grain table (grain directory entry is 0)", EINVAL});
            }
            cluster_offset = TRY(allocate_grain(*e));
            TRY_VOID(pending.flush());
            if (!e->compressed) {
                TRY_VOID(fill_new_grain(
                    node, s, *e, cluster_offset, offset, in_cluster, in_cluster + n, ref.result == Lookup::Zeroed));
            }
            new_allocation = true;
        }
        if (e->compressed) {
            TRY_VOID(pending.flush());
            TRY_VOID(write_compressed(*e, cluster_offset, offset, part, prepared));
        } else {
            auto at = static_cast<int64_t>(cluster_offset) + in_cluster;
            TRY_VOID(pending.add(e->file, at, std::move(part), n));
            e->next_cluster_sector = std::max(e->next_cluster_sector, (at + n + 511) / 512);
        }
        if (new_allocation) {
            set_grain_entry(*e, ref, static_cast<uint32_t>(cluster_offset / 512));
        }
        bytes -= n;
        offset += n;
        done += static_cast<size_t>(n);
    }
    TRY_VOID(pending.flush());
    return {};
}

}  // namespace

Result<void> write_cid(BlockNode& node, VmdkState& s, uint32_t cid)
{
    BlockNode& file = *node.file();
    std::vector<char> desc(kDescSize, '\0');
    TRY_VOID(file.pread(s.desc_offset, std::span(reinterpret_cast<uint8_t*>(desc.data()), desc.size())));
    if (!rewrite_cid(desc, cid)) {
        return make_errno_error(EINVAL);
    }
    // The write stops at the end of the file's last sector (a descriptor file grows to a
    // whole sector, NUL-padded, as in QEMU, whose descriptor child cannot resize).
    int64_t length = TRY(file.length());
    int64_t room = std::clamp<int64_t>(length - s.desc_offset, 0, kDescSize);
    TRY_VOID(file.pwrite(s.desc_offset, std::span(reinterpret_cast<const uint8_t*>(desc.data()), static_cast<size_t>(room))));
    return file.flush();
}

bool vmdk_prepare_write(BlockNode& node, int64_t offset, std::span<const uint8_t> data, PreparedWrite& out)
{
    // Only what open fixed is read here: the extents' places and kinds.
    auto& s = node.state<VmdkState>();
    Extent* e = find_extent(s, offset / 512);
    if (!e || !e->compressed || !e->has_marker || offset % 512 != 0 || e->offset_in_cluster(offset) != 0 ||
        data.empty() || static_cast<int64_t>(data.size()) > e->cluster_bytes()) {
        return false;
    }
    auto length = compress_grain_into(static_cast<uint64_t>(offset / 512), data, true, out.payload);
    if (!length) {
        return false;
    }
    out.offset = offset;
    out.bytes = static_cast<int64_t>(data.size());
    out.payload_bytes = *length;
    return true;
}

Result<void> vmdk_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    auto& s = node.state<VmdkState>();
    if ((offset + 511) / 512 > s.total_sectors) {
        report_wrong_offset(offset, s.total_sectors);
        return make_errno_error(EIO);
    }
    auto written = write_data(node, s, offset, iov, flags.prepared);
    // Whatever grains were written keep their table entries, even when a later part failed.
    auto tables = write_dirty_tables(s);
    TRY_VOID(written);
    TRY_VOID(tables);
    if (iov_size(iov) > 0) {
        TRY_VOID(update_cid_once(node, s));
    }
    return {};
}

namespace {

// Where a request the asynchronous forms may serve lands: inside one grain of an extent
// that is not compressed, whose grain table is already read, and whose extent file is not
// a blkdebug node (its events and breakpoints fire on the synchronous path, as QEMU's
// order has them). An allocated grain never moves, so the request needs nothing once
// started. nullopt sends the request to the synchronous path.
std::optional<std::pair<Extent*, GrainRef>> grain_in_place(VmdkState& s, int64_t offset, std::span<const iovec> iov)
{
    auto bytes = static_cast<int64_t>(iov_size(iov));
    if (offset < 0 || bytes <= 0 || offset + bytes > s.total_sectors * 512) {
        return std::nullopt;
    }
    Extent* e = find_extent(s, offset / 512);
    if (!e || e->compressed || e->sesparse || e->file->driver().debug_breakpoint ||
        (offset + bytes - 1) / 512 >= e->end_sector) {
        return std::nullopt;
    }
    if (e->offset_in_cluster(offset) + bytes > e->cluster_bytes()) {
        return std::nullopt;
    }
    auto ref = lookup_cached_grain(*e, offset);
    if (!ref) {
        return std::nullopt;
    }
    return std::pair{e, *ref};
}

// A flat extent is one grain the size of the extent.
int64_t file_offset_of(const Extent& e, const GrainRef& ref, int64_t offset)
{
    return static_cast<int64_t>(ref.cluster_offset) + e.offset_in_cluster(offset);
}

}  // namespace

bool vmdk_aio_preadv(
    BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags, AioCallback& done)
{
    auto& s = node.state<VmdkState>();
    auto place = grain_in_place(s, offset, iov);
    if (!place) {
        return false;
    }
    auto& [e, ref] = *place;
    if (ref.result == Lookup::Ok) {
        e->file->aio_preadv(ctx, file_offset_of(*e, ref, offset), iov, {}, std::move(done));
        return true;
    }
    // A hole reads as zeros unless a backing file fills it (that path checks the CIDs).
    if (ref.result == Lookup::Zeroed || (ref.result == Lookup::Unallocated && !node.backing())) {
        iov_zero(iov);
        complete_later(ctx, done, {});
        return true;
    }
    return false;
}

bool vmdk_aio_pwritev(
    BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags, AioCallback& done)
{
    auto& s = node.state<VmdkState>();
    // The first write after open rewrites the descriptor's CID: that one goes the
    // synchronous way, as do writes that must allocate a grain.
    if (!s.cid_updated) {
        return false;
    }
    auto place = grain_in_place(s, offset, iov);
    if (!place || place->second.result != Lookup::Ok) {
        return false;
    }
    auto& [e, ref] = *place;
    e->file->aio_pwritev(ctx, file_offset_of(*e, ref, offset), iov, {}, std::move(done));
    return true;
}

namespace {

// vmdk_pwritev's zeroed path over [offset, offset+bytes): ENOTSUP unless every grain is
// whole and in an extent with zeroed-grain entries.
Result<void> write_zeroed(BlockNode& node, VmdkState& s, int64_t offset, int64_t bytes, bool dry_run)
{
    while (bytes > 0) {
        Extent* e = find_extent(s, offset / 512);
        if (!e) {
            return make_errno_error(EIO);
        }
        if (e->sesparse) {
            return make_errno_error(ENOTSUP);
        }
        int64_t in_cluster = e->offset_in_cluster(offset);
        int64_t n = std::min(bytes, e->cluster_bytes() - in_cluster);
        GrainRef ref = TRY(lookup_grain(*e, offset));
        if (e->compressed && ref.result == Lookup::Ok) {
            report("Could not write to allocated cluster for streamOptimized");
            return make_errno_error(EIO);
        }
        if (ref.result == Lookup::Error) {
            return make_errno_error(EINVAL);
        }
        if (!(e->has_zero_grain && !e->flat && in_cluster == 0 && n >= e->cluster_bytes())) {
            return make_errno_error(ENOTSUP);
        }
        if (!dry_run && ref.result != Lookup::Zeroed) {
            if (ref.l2_offset == 0) {
                return std::unexpected(Error{ErrorClass::GenericError,
                    "Cannot write a zero grain without a grain table (grain directory entry is 0)", EINVAL});
            }
            set_grain_entry(*e, ref, static_cast<uint32_t>(kGteZeroed));
        }
        bytes -= n;
        offset += n;
        TRY_VOID(update_cid_once(node, s));
    }
    return {};
}

Result<void> write_zero_buffers(BlockNode& node, VmdkState&, int64_t offset, int64_t bytes)
{
    // 1 MiB per write, as the bounce buffer QEMU's generic fallback writes from.
    return write_zero_pages(offset, bytes, 256,
        [&](int64_t at, std::span<const iovec> zeros) { return vmdk_pwritev(node, at, zeros, {}); });
}

}  // namespace

Result<void> vmdk_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags)
{
    auto& s = node.state<VmdkState>();
    // The generic layer's split (bdrv_co_do_pwrite_zeroes): an unaligned head and tail go
    // alone, each piece tries zero grains and otherwise falls back to writing zeros.
    int64_t alignment = 1;
    for (const Extent& e : s.extents) {
        if (!e.flat) {
            alignment = std::max(alignment, e.cluster_bytes());
        }
    }
    int64_t head = offset % alignment;
    int64_t tail = (offset + bytes) % alignment;
    while (bytes > 0) {
        int64_t num = bytes;
        if (head) {
            num = std::min(bytes, alignment - head);
            head = (head + num) % alignment;
        } else if (tail && num > alignment) {
            num -= tail;
        }
        if ((offset + 511) / 512 > s.total_sectors) {
            report_wrong_offset(offset, s.total_sectors);
            return make_errno_error(EIO);
        }
        auto tried = write_zeroed(node, s, offset, num, true);
        if (tried) {
            tried = write_zeroed(node, s, offset, num, false);
            auto tables = write_dirty_tables(s);
            TRY_VOID(tried);
            TRY_VOID(tables);
        } else if (tried.error().errno_value != ENOTSUP) {
            return tried;
        } else if (flags.no_fallback) {
            return tried;
        } else {
            TRY_VOID(write_zero_buffers(node, s, offset, num));
        }
        offset += num;
        bytes -= num;
    }
    return {};
}

Result<BlockStatus> vmdk_block_status(BlockNode& node, bool, int64_t offset, int64_t bytes)
{
    auto& s = node.state<VmdkState>();
    Extent* e = find_extent(s, offset / 512);
    if (!e) {
        return make_errno_error(EIO);
    }
    BlockStatus result;
    auto answer = [&](const GrainRef& ref, int64_t at) -> Result<BlockStatus> {
        BlockStatus st;
        switch (ref.result) {
        case Lookup::Error:
            return make_errno_error(EIO);
        case Lookup::Unallocated:
            break;
        case Lookup::Zeroed:
            st.flags = status::kZero;
            break;
        case Lookup::Ok:
            st.flags = status::kData;
            if (!e->compressed) {
                st.flags |= status::kOffsetValid;
                st.map = static_cast<int64_t>(ref.cluster_offset) + e->offset_in_cluster(at);
                if (e->flat) {
                    st.flags |= status::kRecurse;
                }
            }
            st.file = e->file;
            break;
        }
        st.bytes = e->cluster_bytes() - e->offset_in_cluster(at);
        return st;
    };
    result = TRY(answer(TRY(lookup_grain(*e, offset)), offset));
    // Grains that answer the same (and continue the mapping) are reported as one run, up to
    // a bound: QEMU answers one grain per call, and a huge image of tiny grains must not
    // make one call walk millions of table entries.
    constexpr int kMaxGrainsPerAnswer = 16384;
    for (int merged = 1; result.bytes < bytes && !e->flat && merged < kMaxGrainsPerAnswer; ++merged) {
        int64_t next = offset + result.bytes;
        if (next / 512 >= e->end_sector) {
            break;
        }
        GrainRef ref = TRY(lookup_grain(*e, next));
        if (ref.result == Lookup::Error) {
            break;
        }
        BlockStatus more = TRY(answer(ref, next));
        if (more.flags != result.flags ||
            ((result.flags & status::kOffsetValid) && more.map != result.map + result.bytes)) {
            break;
        }
        result.bytes += more.bytes;
    }
    result.bytes = std::min(result.bytes, bytes);
    return result;
}

Result<void> vmdk_flush(BlockNode&)
{
    // Table entries are written at the end of every request; the files below are flushed by
    // the generic layer after this.
    return {};
}

}  // namespace qemu::block::vmdk
