// A tiny FAT writer for the vvfat committer's tests and fuzz target: an in-memory partition
// with a given geometry that the tests change the way a guest's FAT driver would (allocate
// clusters, write data, add, rename and delete directory entries with VFAT long names),
// recording every written sector as dirty. It is written independently of the committer's
// parser, and has raw accessors so tests can build the hostile states a guest could write.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "block/vvfat/commit/fat-commit.h"

namespace vvfat_test {

using qemu::Result;
using qemu::block::vvfat::DirtySectors;
using qemu::block::vvfat::FatGeometry;
using qemu::block::vvfat::SectorSource;

constexpr uint32_t kRoot = 0;  // the directory "cluster" of the root in this writer

// A small partition: 64 root entries (4 sectors), `clusters` clusters of spc sectors.
// root_in_chain: a FAT32 root directory in a cluster chain (root_dir_sectors = 0).
inline FatGeometry small_geometry(
    uint32_t fat_type = 12, uint32_t spc = 2, uint32_t clusters = 200, bool root_in_chain = false)
{
    FatGeometry g;
    g.fat_type = fat_type;
    g.sectors_per_cluster = spc;
    g.reserved_sectors = 1;
    g.fat_count = 2;
    g.sectors_per_fat = static_cast<uint32_t>(((uint64_t{clusters} + 2) * fat_type / 8 + 511) / 512);
    g.root_dir_sectors = root_in_chain ? 0 : 4;
    g.root_cluster = root_in_chain ? 2 : 0;
    g.first_data_sector = g.reserved_sectors + g.fat_count * g.sectors_per_fat + g.root_dir_sectors;
    g.total_sectors = g.first_data_sector + clusters * spc;
    return g;
}

inline std::u16string to_utf16(const std::string& utf8)
{
    std::u16string out;
    for (size_t i = 0; i < utf8.size();) {
        auto b = static_cast<unsigned char>(utf8[i]);
        char32_t c;
        int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
        c = extra == 0 ? b : extra == 1 ? (b & 0x1F) : extra == 2 ? (b & 0x0F) : (b & 0x07);
        for (int k = 1; k <= extra; ++k) {
            c = (c << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
        }
        i += extra + 1;
        if (c >= 0x10000) {
            c -= 0x10000;
            out += static_cast<char16_t>(0xD800 + (c >> 10));
            out += static_cast<char16_t>(0xDC00 + (c & 0x3FF));
        } else {
            out += static_cast<char16_t>(c);
        }
    }
    return out;
}

class FatImage : public SectorSource {
public:
    explicit FatImage(const FatGeometry& g) : m_g(g), m_disk(size_t{g.total_sectors} * 512)
    {
        set_fat(0, 0x0FFFFFF8 & max_value());
        set_fat(1, max_value());
        if (g.root_dir_sectors == 0) {
            set_fat(g.root_cluster, max_value());
        }
        dirty.clear();
    }

    const FatGeometry& geometry() const { return m_g; }
    std::vector<uint8_t>& disk() { return m_disk; }
    DirtySectors dirty;
    // Called after every write, as QEMU's vvfat tries a commit after every guest write.
    std::function<void()> after_write;

    Result<void> read_sectors(uint32_t sector, uint32_t count, std::span<uint8_t> out) const override
    {
        if (uint64_t{sector} + count > m_g.total_sectors || out.size() < size_t{count} * 512) {
            return qemu::make_error("test image: read out of range");
        }
        std::memcpy(out.data(), m_disk.data() + size_t{sector} * 512, size_t{count} * 512);
        return {};
    }

    // ---- raw access ---------------------------------------------------------------------

    void write_bytes(size_t offset, std::span<const uint8_t> bytes)
    {
        std::memcpy(m_disk.data() + offset, bytes.data(), bytes.size());
        if (!bytes.empty()) {
            dirty.add(offset / 512, (offset + bytes.size() - 1) / 512 - offset / 512 + 1);
        }
        if (after_write) {
            after_write();
        }
    }
    uint32_t max_value() const { return m_g.fat_type == 12 ? 0xFFF : m_g.fat_type == 16 ? 0xFFFF : 0x0FFFFFFF; }
    uint32_t cluster_size() const { return m_g.sectors_per_cluster * 512; }
    size_t cluster_offset(uint32_t c) const
    {
        return (size_t{m_g.first_data_sector} + size_t{c - 2} * m_g.sectors_per_cluster) * 512;
    }
    uint32_t cluster_count() const { return (m_g.total_sectors - m_g.first_data_sector) / m_g.sectors_per_cluster; }

    uint32_t fat(uint32_t c) const
    {
        size_t base = size_t{m_g.reserved_sectors} * 512;
        if (m_g.fat_type == 12) {
            size_t at = base + c * 3 / 2;
            uint32_t v = m_disk[at] | (m_disk[at + 1] << 8);
            return (c & 1) ? v >> 4 : v & 0xFFF;
        }
        if (m_g.fat_type == 16) {
            return m_disk[base + c * 2] | (m_disk[base + c * 2 + 1] << 8);
        }
        size_t at = base + size_t{c} * 4;
        return (m_disk[at] | (m_disk[at + 1] << 8) | (m_disk[at + 2] << 16) | (uint32_t{m_disk[at + 3]} << 24)) &
            0x0FFFFFFF;
    }

    // Sets the entry of cluster c in every FAT copy.
    void set_fat(uint32_t c, uint32_t v)
    {
        for (uint32_t copy = 0; copy < m_g.fat_count; ++copy) {
            size_t base = (size_t{m_g.reserved_sectors} + size_t{copy} * m_g.sectors_per_fat) * 512;
            if (m_g.fat_type == 12) {
                size_t at = base + c * 3 / 2;
                uint32_t old = m_disk[at] | (m_disk[at + 1] << 8);
                uint32_t nv = (c & 1) ? (old & 0x000F) | ((v & 0xFFF) << 4) : (old & 0xF000) | (v & 0xFFF);
                uint8_t b[2] = {static_cast<uint8_t>(nv), static_cast<uint8_t>(nv >> 8)};
                write_bytes(at, b);
            } else if (m_g.fat_type == 16) {
                uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
                write_bytes(base + c * 2, b);
            } else {
                uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
                    static_cast<uint8_t>(v >> 24)};
                write_bytes(base + size_t{c} * 4, b);
            }
        }
    }

    // Allocates n free clusters (first fit) linked in order; returns them.
    std::vector<uint32_t> allocate(size_t n)
    {
        std::vector<uint32_t> got;
        for (uint32_t c = 2; c < cluster_count() + 2 && got.size() < n; ++c) {
            if (fat(c) == 0) {
                got.push_back(c);
                set_fat(c, max_value());  // reserve now so the next pick skips it
            }
        }
        if (got.size() < n) {
            throw std::runtime_error("test image full");
        }
        for (size_t i = 0; i + 1 < got.size(); ++i) {
            set_fat(got[i], got[i + 1]);
        }
        return got;
    }

    std::vector<uint32_t> chain(uint32_t first) const
    {
        std::vector<uint32_t> out;
        for (uint32_t c = first; c >= 2 && c < max_value() - 7 && out.size() <= cluster_count(); c = fat(c)) {
            out.push_back(c);
        }
        return out;
    }

    void free_chain(uint32_t first)
    {
        for (uint32_t c : chain(first)) {
            set_fat(c, 0);
        }
    }

    void write_data(const std::vector<uint32_t>& clusters, const std::string& data)
    {
        for (size_t i = 0; i < clusters.size(); ++i) {
            std::vector<uint8_t> buf(cluster_size(), 0);
            size_t from = i * cluster_size();
            size_t n = std::min<size_t>(cluster_size(), data.size() - std::min(data.size(), from));
            std::memcpy(buf.data(), data.data() + from, n);
            write_bytes(cluster_offset(clusters[i]), buf);
        }
    }

    // Byte offsets of the entry slots of directory dir (kRoot or its first cluster).
    std::vector<size_t> slots(uint32_t dir) const
    {
        std::vector<size_t> out;
        if (dir == kRoot && m_g.root_dir_sectors != 0) {
            size_t start = (size_t{m_g.reserved_sectors} + size_t{m_g.fat_count} * m_g.sectors_per_fat) * 512;
            for (size_t i = 0; i < size_t{m_g.root_dir_sectors} * 16; ++i) {
                out.push_back(start + i * 32);
            }
            return out;
        }
        for (uint32_t c : chain(dir == kRoot ? m_g.root_cluster : dir)) {
            for (size_t i = 0; i < cluster_size() / 32; ++i) {
                out.push_back(cluster_offset(c) + i * 32);
            }
        }
        return out;
    }

    // ---- directory entries ----------------------------------------------------------------

    // An 11-byte 8.3 name unique in this image, for entries that also get a long name.
    std::string next_alias() { return "A" + pad(std::to_string(++m_alias), 7, '0') + "TXT"; }

    // Writes long-name entries for `lfn` (none if empty) and the 8.3 entry `short11` into
    // free slots of dir; returns the offset of the 8.3 entry.
    size_t add_entry(uint32_t dir, const std::u16string& lfn, const std::string& short11, uint8_t attr,
        uint32_t cluster, uint32_t size)
    {
        std::vector<std::array<uint8_t, 32>> entries;
        uint8_t sum = checksum(short11);
        size_t count = (lfn.size() + 12) / 13;
        for (size_t k = count; k >= 1; --k) {
            std::array<uint8_t, 32> e{};
            e[0] = static_cast<uint8_t>(k | (k == count ? 0x40 : 0));
            e[11] = 0x0F;
            e[13] = sum;
            static constexpr size_t offsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
            for (size_t i = 0; i < 13; ++i) {
                size_t at = (k - 1) * 13 + i;
                char16_t u = at < lfn.size() ? lfn[at] : at == lfn.size() ? 0 : 0xFFFF;
                e[offsets[i]] = static_cast<uint8_t>(u);
                e[offsets[i] + 1] = static_cast<uint8_t>(u >> 8);
            }
            entries.push_back(e);
        }
        std::array<uint8_t, 32> s{};
        std::memcpy(s.data(), short11.data(), 11);
        s[11] = attr;
        s[26] = static_cast<uint8_t>(cluster);
        s[27] = static_cast<uint8_t>(cluster >> 8);
        s[20] = static_cast<uint8_t>(cluster >> 16);
        s[21] = static_cast<uint8_t>(cluster >> 24);
        s[28] = static_cast<uint8_t>(size);
        s[29] = static_cast<uint8_t>(size >> 8);
        s[30] = static_cast<uint8_t>(size >> 16);
        s[31] = static_cast<uint8_t>(size >> 24);
        entries.push_back(s);
        size_t first = free_run(dir, entries.size());
        std::vector<size_t> all = slots(dir);
        for (size_t i = 0; i < entries.size(); ++i) {
            write_bytes(all[first + i], entries[i]);
        }
        return all[first + entries.size() - 1];
    }

    // The 8.3 entry offset of `name` in dir, as added by add_file / make_dir.
    size_t entry_of(uint32_t dir, const std::string& name) const { return m_entries.at({dir, name}).offset; }
    uint32_t cluster_of(uint32_t dir, const std::string& name) const
    {
        size_t at = entry_of(dir, name);
        return m_disk[at + 26] | (m_disk[at + 27] << 8) |
            (m_g.fat_type == 32 ? (m_disk[at + 20] << 16) | (uint32_t{m_disk[at + 21]} << 24) : 0);
    }

    // ---- what a guest does -----------------------------------------------------------------

    uint32_t add_file(uint32_t dir, const std::string& name, const std::string& data)
    {
        std::vector<uint32_t> clusters = allocate((data.size() + cluster_size() - 1) / cluster_size());
        write_data(clusters, data);
        uint32_t first = clusters.empty() ? 0 : clusters[0];
        add_named(dir, name, 0x20, first, static_cast<uint32_t>(data.size()));
        return first;
    }

    uint32_t make_dir(uint32_t dir, const std::string& name)
    {
        uint32_t c = allocate(1)[0];
        write_data({c}, "");
        add_entry(c, u"", ".          ", 0x10, c, 0);
        add_entry(c, u"", "..         ", 0x10, dir == kRoot ? 0 : dir, 0);
        add_named(dir, name, 0x10, c, 0);
        return c;
    }

    // Replaces the contents of a file: keeps its clusters in order as far as they go.
    void rewrite_file(uint32_t dir, const std::string& name, const std::string& data)
    {
        size_t at = entry_of(dir, name);
        std::vector<uint32_t> old = chain(cluster_of(dir, name));
        size_t need = (data.size() + cluster_size() - 1) / cluster_size();
        std::vector<uint32_t> now(old.begin(), old.begin() + std::min(need, old.size()));
        if (need < old.size()) {
            if (need > 0) {
                set_fat(now.back(), max_value());
            }
            for (size_t i = need; i < old.size(); ++i) {
                set_fat(old[i], 0);
            }
        } else if (need > old.size()) {
            std::vector<uint32_t> more = allocate(need - old.size());
            if (!now.empty()) {
                set_fat(now.back(), more[0]);
            }
            now.insert(now.end(), more.begin(), more.end());
        }
        write_data(now, data);
        uint32_t first = now.empty() ? 0 : now[0];
        uint32_t size = static_cast<uint32_t>(data.size());
        uint8_t bytes[10] = {static_cast<uint8_t>(first >> 16), static_cast<uint8_t>(first >> 24), 0, 0, 0, 0,
            static_cast<uint8_t>(first), static_cast<uint8_t>(first >> 8), 0, 0};
        write_bytes(at + 20, std::span<const uint8_t>(bytes, 8));
        uint8_t sz[4] = {static_cast<uint8_t>(size), static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size >> 16),
            static_cast<uint8_t>(size >> 24)};
        write_bytes(at + 28, sz);
    }

    // Marks the entries deleted (0xE5) and, if free_clusters, frees the chain.
    void remove(uint32_t dir, const std::string& name, bool free_clusters = true)
    {
        Entry e = m_entries.at({dir, name});
        uint32_t first = cluster_of(dir, name);
        std::vector<size_t> all = slots(dir);
        size_t index = std::find(all.begin(), all.end(), e.offset) - all.begin();
        for (size_t i = index - e.lfn_count; i <= index; ++i) {
            uint8_t mark = 0xE5;
            write_bytes(all[i], std::span<const uint8_t>(&mark, 1));
        }
        m_entries.erase({dir, name});
        if (free_clusters && first != 0) {
            free_chain(first);
        }
    }

    // Moves/renames an entry, keeping its clusters (a directory's ".." follows).
    void rename(uint32_t dir, const std::string& name, uint32_t to_dir, const std::string& to_name)
    {
        size_t at = entry_of(dir, name);
        uint8_t attr = m_disk[at + 11];
        uint32_t first = cluster_of(dir, name);
        uint32_t size =
            m_disk[at + 28] | (m_disk[at + 29] << 8) | (m_disk[at + 30] << 16) | (uint32_t{m_disk[at + 31]} << 24);
        remove(dir, name, false);
        add_named(to_dir, to_name, attr, first, size);
        if ((attr & 0x10) && dir != to_dir) {
            size_t dotdot = cluster_offset(first) + 32;
            uint8_t b[2] = {static_cast<uint8_t>(to_dir), static_cast<uint8_t>(to_dir >> 8)};
            write_bytes(dotdot + 26, b);
        }
    }

private:
    struct Entry {
        size_t offset;
        size_t lfn_count;
    };

    static std::string pad(std::string s, size_t n, char c) { return std::string(n - std::min(n, s.size()), c) + s; }

    static uint8_t checksum(const std::string& short11)
    {
        uint8_t sum = 0;
        for (size_t i = 0; i < 11; ++i) {
            sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + static_cast<uint8_t>(short11[i]));
        }
        return sum;
    }

    void add_named(uint32_t dir, const std::string& name, uint8_t attr, uint32_t cluster, uint32_t size)
    {
        std::u16string lfn = to_utf16(name);
        size_t at = add_entry(dir, lfn, next_alias(), attr, cluster, size);
        m_entries[{dir, name}] = Entry{at, (lfn.size() + 12) / 13};
    }

    // Index (in slots(dir)) of n consecutive free slots; grows a subdirectory if needed.
    size_t free_run(uint32_t dir, size_t n)
    {
        for (;;) {
            std::vector<size_t> all = slots(dir);
            size_t run = 0;
            for (size_t i = 0; i < all.size(); ++i) {
                uint8_t first = m_disk[all[i]];
                run = (first == 0 || first == 0xE5) ? run + 1 : 0;
                if (run == n) {
                    return i + 1 - n;
                }
            }
            if (dir == kRoot && m_g.root_dir_sectors != 0) {
                throw std::runtime_error("test image: root directory full");
            }
            uint32_t last = chain(dir == kRoot ? m_g.root_cluster : dir).back();
            uint32_t more = allocate(1)[0];
            write_data({more}, "");
            set_fat(last, more);
        }
    }

    FatGeometry m_g;
    std::vector<uint8_t> m_disk;
    uint32_t m_alias = 0;
    std::map<std::pair<uint32_t, std::string>, Entry> m_entries;
};

}  // namespace vvfat_test
