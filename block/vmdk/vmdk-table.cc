// Grain lookup through the grain directory (GD, "L1") and grain tables (GT, "L2"), and
// the table updates allocation makes. Tables are read on first use and kept; entries a
// request changes are written once at its end, the primary table then the redundant one
// (QEMU writes each entry on its own and flushes after every one: see vmdk-io.cc).
#include <algorithm>
#include <cerrno>

#include "block/vmdk/vmdk-codec.h"
#include "block/vmdk/vmdk-state.h"
#include "util/bswap.h"

namespace qemu::block::vmdk {

namespace {

// The cache is dropped (between requests) once it holds this many bytes of tables, so a
// walk over every table (map, check, convert of a 64 GiB image: 2048 tables) keeps memory
// at QEMU's level rather than holding all of them; 1 MiB covers 8 GiB of 64 KiB grains,
// more than random reads over the images we time need.
constexpr size_t kTableCacheBytes = size_t{1} << 20;
constexpr size_t kMinCachedTables = 16;  // QEMU's L2_CACHE_SIZE

Result<std::vector<uint64_t>*> load_table(Extent& e, uint64_t l2_offset)
{
    if (auto it = e.l2_cache.find(l2_offset); it != e.l2_cache.end()) {
        return &it->second;
    }
    size_t max_tables = std::max(kMinCachedTables, kTableCacheBytes / (std::max<size_t>(e.l2_size, 1) * sizeof(uint64_t)));
    if (e.l2_cache.size() >= max_tables && e.dirty_entries.empty()) {
        e.l2_cache.clear();
    }
    std::vector<uint8_t> raw(e.l2_size * e.entry_size);
    blkdbg_event(e.file, BlkdebugEvent::L2Load);
    TRY_VOID(e.file->pread(static_cast<int64_t>(l2_offset * 512), raw));
    std::vector<uint64_t> table(e.l2_size);
    for (uint64_t i = 0; i < e.l2_size; ++i) {
        table[i] = e.entry_size == 8 ? load_le64(raw, i * 8) : load_le32(raw, i * 4);
    }
    return &e.l2_cache.emplace(l2_offset, std::move(table)).first->second;
}

// The grain table's sector for a directory index, 0 when there is none.
std::optional<uint64_t> table_offset(const Extent& e, uint64_t l1_index)
{
    uint64_t entry = e.l1_table[l1_index];
    if (!e.sesparse) {
        return entry;
    }
    auto index = decode_sesparse_gd_entry(entry);
    if (!index) {
        return std::nullopt;
    }
    if (!*index) {
        return 0;
    }
    auto sector = sesparse_gt_sector(e.sesparse_l2_tables_offset, **index);
    if (!sector) {
        return std::nullopt;
    }
    return *sector;
}

Result<void> write_entries(Extent& e, uint64_t l2_offset, uint64_t first, std::span<const uint64_t> values)
{
    std::vector<uint8_t> raw(values.size() * 4);
    for (size_t i = 0; i < values.size(); ++i) {
        store_le32(raw, i * 4, static_cast<uint32_t>(values[i]));
    }
    auto written = e.file->pwrite(static_cast<int64_t>(l2_offset * 512 + first * 4), raw);
    if (!written) {
        return make_errno_error(EIO);
    }
    return {};
}

}  // namespace

Extent* find_extent(VmdkState& s, int64_t sector)
{
    auto it = std::ranges::upper_bound(s.extents, sector, {}, &Extent::end_sector);
    return it == s.extents.end() ? nullptr : &*it;
}

namespace {

// lookup_grain's work. With `may_load` false a grain table that is not cached is not
// read, and the answer is nullopt; otherwise there always is one.
std::optional<GrainRef> lookup(Extent& e, int64_t offset, bool may_load)
{
    GrainRef ref;
    if (e.flat) {
        ref.result = Lookup::Ok;
        ref.cluster_offset = static_cast<uint64_t>(e.flat_start_offset);
        return ref;
    }
    auto rel_sector = static_cast<uint64_t>(offset / 512 - e.begin_sector());
    ref.l1_index = rel_sector / e.l1_entry_sectors;
    if (ref.l1_index >= e.l1_size) {
        ref.result = Lookup::Error;
        return ref;
    }
    auto l2_offset = table_offset(e, ref.l1_index);
    if (!l2_offset) {
        ref.result = Lookup::Error;
        return ref;
    }
    ref.l2_offset = *l2_offset;
    if (ref.l2_offset == 0) {
        ref.result = Lookup::Unallocated;
        return ref;
    }
    ref.l2_index = (rel_sector / e.cluster_sectors) % e.l2_size;
    uint64_t entry;
    {
        std::lock_guard lock(*e.table_lock);
        if (!may_load && !e.l2_cache.contains(ref.l2_offset)) {
            return std::nullopt;
        }
        auto table = load_table(e, ref.l2_offset);
        if (!table) {
            ref.result = Lookup::Error;
            return ref;
        }
        entry = (**table)[ref.l2_index];
    }
    uint64_t cluster_sector = entry;
    bool zeroed = false;
    if (e.sesparse) {
        auto gte = decode_sesparse_gte(entry);
        if (!gte) {
            ref.result = Lookup::Error;
            return ref;
        }
        switch (gte->kind) {
        case SeSparseGrain::Unallocated:
            cluster_sector = 0;
            break;
        case SeSparseGrain::Zero:
            zeroed = true;
            break;
        case SeSparseGrain::Allocated:
            cluster_sector = e.sesparse_clusters_offset + gte->cluster * e.cluster_sectors;
            break;
        }
    }
    if (e.has_zero_grain && cluster_sector == kGteZeroed) {
        zeroed = true;
    }
    if (zeroed) {
        ref.result = Lookup::Zeroed;
    } else if (cluster_sector == 0) {
        ref.result = Lookup::Unallocated;
    } else if (cluster_sector > kMaxFileOffset / 512) {
        ref.result = Lookup::Error;
    } else {
        ref.result = Lookup::Ok;
        ref.cluster_offset = cluster_sector * 512;
    }
    return ref;
}

}  // namespace

Result<GrainRef> lookup_grain(Extent& e, int64_t offset)
{
    return *lookup(e, offset, true);
}

std::optional<GrainRef> lookup_cached_grain(Extent& e, int64_t offset)
{
    return lookup(e, offset, false);
}

void set_grain_entry(Extent& e, const GrainRef& ref, uint32_t value)
{
    // lookup_grain loaded the table; it stays cached while entries are dirty.
    e.l2_cache[ref.l2_offset][ref.l2_index] = value;
    e.dirty_entries.push_back({ref.l1_index, ref.l2_index});
}

Result<void> write_dirty_tables(VmdkState& s)
{
    Result<void> outcome;
    for (Extent& e : s.extents) {
        if (e.dirty_entries.empty()) {
            continue;
        }
        auto entries = std::move(e.dirty_entries);
        e.dirty_entries.clear();
        std::ranges::sort(entries);
        auto [last, end] = std::ranges::unique(entries);
        entries.erase(last, end);
        // Runs of neighbouring entries of one table go out in one write each.
        size_t i = 0;
        while (i < entries.size()) {
            size_t j = i + 1;
            while (j < entries.size() && entries[j].first == entries[i].first &&
                entries[j].second == entries[j - 1].second + 1) {
                ++j;
            }
            uint64_t l1_index = entries[i].first;
            uint64_t first = entries[i].second;
            uint64_t l2_offset = e.l1_table[l1_index];
            const auto& table = e.l2_cache[l2_offset];
            std::span<const uint64_t> values(table.data() + first, j - i);
            blkdbg_event(e.file, BlkdebugEvent::L2Update);
            if (auto done = write_entries(e, l2_offset, first, values); !done && outcome) {
                outcome = done;
            }
            // QEMU writes the redundant table even when its directory entry is 0, which
            // lands in the header; we leave such a table alone.
            if (e.l1_backup_table_offset != 0 && e.l1_backup_table[l1_index] != 0) {
                if (auto done = write_entries(e, e.l1_backup_table[l1_index], first, values); !done && outcome) {
                    outcome = done;
                }
            }
            i = j;
        }
    }
    return outcome;
}

}  // namespace qemu::block::vmdk
