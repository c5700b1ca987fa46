// Serving sectors of the disk vvfat-image laid out: the boot area and the FATs from memory,
// directory clusters from the entry array, file clusters from the host files beneath the
// root descriptor, read when asked (never all at open). Also where the bytes QEMU shows past
// a file's end come from (its reused cluster buffer), made independent of the read order.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "block/vvfat/vvfat-image.h"

namespace qemu::block::vvfat {

void FatImage::link_tail_sources()
{
    // QEMU reads each file cluster with one read() into a buffer it reuses, so the bytes
    // past a file's end in its last cluster are what the previous read left there. Read
    // in disk order (as qemu-img convert reads), the byte at offset p comes from the
    // nearest earlier file whose last read reached past p. A stack of earlier files with
    // falling reach finds that file for each; this makes the bytes the same whatever order
    // our readers ask in.
    const uint32_t cluster_size = m_geometry.cluster_size();
    struct Reach {
        uint32_t bytes;
        int32_t mapping;
    };
    std::vector<Reach> stack;
    int32_t previous = -1;
    for (size_t i = 0; i < m_mappings.size(); ++i) {
        Mapping& m = m_mappings[i];
        if (m.is_directory) {
            continue;
        }
        m.previous_file = previous;
        previous = static_cast<int32_t>(i);
        uint32_t clusters = m.end - m.begin;
        auto last_fill = static_cast<uint32_t>(m.size - uint64_t{clusters - 1} * cluster_size);
        uint32_t reach = clusters > 1 ? cluster_size : last_fill;
        while (!stack.empty() && stack.back().bytes <= last_fill) {
            stack.pop_back();
        }
        m.tail_source = stack.empty() ? -1 : stack.back().mapping;
        while (!stack.empty() && stack.back().bytes <= reach) {
            stack.pop_back();
        }
        stack.push_back({reach, static_cast<int32_t>(i)});
    }
}

const Mapping* FatImage::mapping_for_cluster(uint32_t cluster) const
{
    auto it = std::upper_bound(
        m_mappings.begin(), m_mappings.end(), cluster, [](uint32_t c, const Mapping& m) { return c < m.begin; });
    if (it == m_mappings.begin()) {
        return nullptr;
    }
    --it;
    return cluster < it->end ? &*it : nullptr;
}

const DirEntry* FatImage::directory_entry(uint64_t index) const
{
    return index < m_directory.size() ? &m_directory[index] : nullptr;
}

std::span<uint8_t, 512> FatImage::boot_sector()
{
    return std::span<uint8_t, 512>(m_first_sectors.data() + size_t{m_geometry.offset_to_bootsector} * 512, 512);
}

std::string FatImage::host_path(const Mapping& mapping) const
{
    return mapping.relative.empty() ? m_root.name : m_root.name + "/" + mapping.relative;
}

void FatImage::read_file_bytes(size_t mapping_index, uint32_t index, uint32_t lo, uint32_t hi, uint8_t* out)
{
    size_t done = 0;
    read_from_file(mapping_index, index, lo, hi, out, done);
    std::fill(out + done, out + (hi - lo), 0);
}

void FatImage::read_from_file(size_t mapping_index, uint32_t index, uint32_t lo, uint32_t hi, uint8_t* out, size_t& done)
{
    uint64_t start = uint64_t{index} * m_geometry.cluster_size() + lo + done;
    if (read_prefetched(mapping_index, start, hi - lo - done, out + done, done)) {
        return;
    }
    if (m_open_mapping != static_cast<int32_t>(mapping_index)) {
        m_open_file = QemuFd();
        m_open_mapping = -1;
        // O_NONBLOCK: should the file have been replaced by a FIFO since the open, opening
        // it must not wait for a writer (its reads then fail and give zeros).
        auto fd = open_below_root(m_root, m_mappings[mapping_index].relative, O_RDONLY | O_NONBLOCK);
        if (!fd) {
            return;
        }
        m_open_file = std::move(*fd);
        m_open_mapping = static_cast<int32_t>(mapping_index);
    }
    off_t offset = static_cast<off_t>(index) * m_geometry.cluster_size() + lo;
    while (done < hi - lo) {
        ssize_t got = ::pread(m_open_file.get(), out + done, hi - lo - done, offset + static_cast<off_t>(done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        done += static_cast<size_t>(got);
    }
}

bool FatImage::read_prefetched(size_t mapping_index, uint64_t offset, size_t want, uint8_t* out, size_t& done) const
{
    auto it = std::lower_bound(m_prefetched.begin(), m_prefetched.end(), mapping_index,
        [](const Prefetched& p, size_t mapping) { return p.mapping < mapping; });
    if (it == m_prefetched.end() || it->mapping != mapping_index || offset < it->offset
        || offset + want > it->offset + it->length) {
        return false;
    }
    if (it->got < 0) {
        return true;  // the file could not be opened: it gives nothing, as in the plain read
    }
    uint64_t have_end = it->offset + static_cast<uint64_t>(it->got);
    size_t n = offset < have_end ? static_cast<size_t>(std::min<uint64_t>(want, have_end - offset)) : 0;
    std::memcpy(out, m_prefetch_data.data() + it->at + (offset - it->offset), n);
    done += n;
    return true;
}

uint32_t FatImage::prefetch_files(uint32_t first, uint32_t last)
{
    const uint32_t cluster_size = m_geometry.cluster_size();
    uint32_t end = static_cast<uint32_t>(
        std::min<uint64_t>(uint64_t{last} + 1, first + std::max<uint64_t>(1, kPrefetchBytes / cluster_size)));
    m_prefetched.clear();
    auto it = std::upper_bound(
        m_mappings.begin(), m_mappings.end(), first, [](uint32_t c, const Mapping& m) { return c < m.begin; });
    if (it != m_mappings.begin() && std::prev(it)->end > first) {
        --it;
    }
    size_t total = 0;
    for (; it != m_mappings.end() && it->begin < end; ++it) {
        if (it->is_directory) {
            continue;
        }
        uint64_t from = uint64_t{std::max(it->begin, first) - it->begin} * cluster_size;
        uint64_t to = std::min<uint64_t>(uint64_t{std::min(it->end, end) - it->begin} * cluster_size, it->size);
        if (from >= to) {
            continue;
        }
        auto length = static_cast<size_t>(to - from);
        m_prefetched.push_back({static_cast<size_t>(it - m_mappings.begin()), from, total, length, -1});
        total += length;
    }
    // One file is read as well through the descriptor kept open for it.
    if (m_prefetched.size() < 2) {
        m_prefetched.clear();
        return end;
    }
    m_prefetch_data.resize(total);  // at most kPrefetchBytes and one cluster
    std::vector<BeneathRead> reads;
    reads.reserve(m_prefetched.size());
    for (const Prefetched& p : m_prefetched) {
        reads.push_back({.relative = m_mappings[p.mapping].relative, .offset = p.offset,
            .out = std::span<uint8_t>(m_prefetch_data.data() + p.at, p.length)});
    }
    if (!m_batch_reader) {
        m_batch_reader = std::make_unique<BatchReader>();
    }
    // O_NONBLOCK as in read_from_file: a FIFO put in a file's place must not block the read.
    m_batch_reader->read(m_root.fd.get(), reads, O_RDONLY | O_NONBLOCK);
    for (size_t i = 0; i < reads.size(); ++i) {
        m_prefetched[i].got = reads[i].result;
    }
    return end;
}

void FatImage::buffer_after_file(int32_t mapping_index, uint32_t lo, uint32_t hi, uint8_t* out)
{
    const uint32_t cluster_size = m_geometry.cluster_size();
    while (lo < hi) {
        if (mapping_index < 0) {
            std::fill(out, out + (hi - lo), 0);
            return;
        }
        const Mapping& m = m_mappings[mapping_index];
        uint32_t clusters = m.end - m.begin;
        auto fill = static_cast<uint32_t>(m.size - uint64_t{clusters - 1} * cluster_size);
        uint32_t own_end = std::min(hi, fill);
        if (lo < own_end) {
            read_file_bytes(mapping_index, clusters - 1, lo, own_end, out);
            out += own_end - lo;
            lo = own_end;
        }
        if (lo >= hi) {
            return;
        }
        if (clusters > 1) {
            // The cluster before the last was read whole.
            read_file_bytes(mapping_index, clusters - 2, lo, hi, out);
            return;
        }
        mapping_index = m.tail_source;
    }
}

void FatImage::load_cluster(uint32_t cluster)
{
    if (m_cached_cluster == cluster) {
        return;
    }
    m_cached_cluster = cluster;
    const Mapping* m = mapping_for_cluster(cluster);
    if (!m) {
        std::fill(m_cluster.begin(), m_cluster.end(), 0);
        m_buffer_after = -1;
        return;
    }
    const uint32_t cluster_size = m_geometry.cluster_size();
    if (m->is_directory) {
        copy_directory_cluster(*m, cluster, m_cluster.data());
        m_buffer_after = -1;
        return;
    }
    auto mapping_index = static_cast<size_t>(m - m_mappings.data());
    uint32_t index = cluster - m->begin;
    uint64_t start = uint64_t{index} * cluster_size;
    auto fill = static_cast<uint32_t>(std::min<uint64_t>(cluster_size, m->size - start));
    // What QEMU's buffer held before it read this cluster, when the disk is read in order.
    int64_t before = index > 0 ? int64_t{cluster} - 1
        : m->previous_file >= 0 ? int64_t{m_mappings[m->previous_file].end} - 1
                                : kInitialBuffer;
    bool buffer_is_before = m_buffer_after == before;
    m_buffer_after = cluster;
    read_file_bytes(mapping_index, index, 0, fill, m_cluster.data());
    if (fill == cluster_size || buffer_is_before) {
        return;
    }
    // Only a file's last cluster is short. The buffer held the file's cluster before
    // it, or for a one-cluster file what the files before it in disk order left.
    if (index > 0) {
        read_file_bytes(mapping_index, index - 1, fill, cluster_size, m_cluster.data() + fill);
    } else {
        buffer_after_file(m->tail_source, fill, cluster_size, m_cluster.data() + fill);
    }
}

void FatImage::copy_directory_cluster(const Mapping& m, uint32_t cluster, uint8_t* out) const
{
    const uint32_t per_cluster = m_geometry.cluster_size() / 32;
    uint64_t first = m.first_dir_index + uint64_t{cluster - m.begin} * per_cluster;
    uint64_t have = first < m_directory.size() ? std::min<uint64_t>(per_cluster, m_directory.size() - first) : 0;
    if (have > 0) {
        std::memcpy(out, m_directory[first].data(), have * 32);
    }
    std::memset(out + have * 32, 0, (per_cluster - have) * 32);
}

void FatImage::forget_host_files()
{
    m_open_file = QemuFd();
    m_open_mapping = -1;
    m_cached_cluster = -1;
    m_buffer_after = -1;
}

void FatImage::read_sector(uint32_t sector, std::span<uint8_t, 512> out)
{
    const Geometry& g = m_geometry;
    if (sector < g.offset_to_fat) {
        std::copy_n(m_first_sectors.begin() + size_t{sector} * 512, 512, out.begin());
        return;
    }
    if (sector < g.offset_to_root_dir) {
        // Both FAT copies show the same table.
        uint32_t in_fat = (sector - g.offset_to_fat) % g.sectors_per_fat;
        std::copy_n(m_fat.begin() + size_t{in_fat} * 512, 512, out.begin());
        return;
    }
    uint32_t relative = sector - g.offset_to_root_dir;
    uint32_t cluster = relative / g.sectors_per_cluster;
    if (cluster > g.cluster_count) {
        std::fill(out.begin(), out.end(), 0);
        return;
    }
    load_cluster(cluster);
    std::copy_n(m_cluster.begin() + size_t{relative % g.sectors_per_cluster} * 512, 512, out.begin());
}

}  // namespace qemu::block::vvfat

namespace qemu::block::vvfat {

void FatImage::read_sectors(uint32_t first, uint32_t count, uint8_t* out)
{
    const Geometry& g = m_geometry;
    // The host files of the clusters ahead are read a window at a time, in one batch.
    uint32_t prefetched_end = 0;
    struct ForgetBatch {
        std::vector<Prefetched>& prefetched;
        ~ForgetBatch() { prefetched.clear(); }
    } forget{m_prefetched};
    while (count > 0) {
        if (first < g.offset_to_root_dir) {
            read_sector(first, std::span<uint8_t, 512>(out, 512));
            ++first;
            --count;
            out += 512;
            continue;
        }
        uint32_t relative = first - g.offset_to_root_dir;
        uint32_t cluster = relative / g.sectors_per_cluster;
        uint32_t in_cluster = relative % g.sectors_per_cluster;
        uint32_t n = std::min(count, g.sectors_per_cluster - in_cluster);
        const Mapping* m = cluster > g.cluster_count ? nullptr : mapping_for_cluster(cluster);
        if (m && !m->is_directory && cluster >= prefetched_end) {
            uint32_t last = (relative + count - 1) / g.sectors_per_cluster;
            prefetched_end = prefetch_files(cluster, std::min(last, g.cluster_count));
        }
        if (!m) {
            // Free clusters up to the next mapping read as zeros.
            auto next = std::upper_bound(m_mappings.begin(), m_mappings.end(), cluster,
                [](uint32_t c, const Mapping& mapping) { return c < mapping.begin; });
            if (cluster <= g.cluster_count && next != m_mappings.end()) {
                uint64_t upto = uint64_t{next->begin - cluster} * g.sectors_per_cluster - in_cluster;
                n = static_cast<uint32_t>(std::min<uint64_t>(count, upto));
            } else {
                n = count;
            }
            std::memset(out, 0, size_t{n} * 512);
        } else if (m->is_directory && n == g.sectors_per_cluster) {
            copy_directory_cluster(*m, cluster, out);
        } else {
            load_cluster(cluster);
            std::memcpy(out, m_cluster.data() + size_t{in_cluster} * 512, size_t{n} * 512);
        }
        first += n;
        count -= n;
        out += size_t{n} * 512;
    }
}

}  // namespace qemu::block::vvfat
