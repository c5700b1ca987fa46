// Lays out the disk as QEMU 7.2's init_directories and read_directory do: the root's
// entries first (clusters 0 and 1 are the root directory of FAT12/16), then every file and
// subdirectory in the order the walk found them, breadth first, each given consecutive
// clusters. Serving sectors from the layout is vvfat-image-read.cc.
#include "block/vvfat/vvfat-image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace qemu::block::vvfat {

namespace {

constexpr uint64_t kMaxFileSize = 0x7fffffff;

void put16(uint8_t* at, uint32_t value)
{
    at[0] = static_cast<uint8_t>(value);
    at[1] = static_cast<uint8_t>(value >> 8);
}

void put32(uint8_t* at, uint32_t value)
{
    put16(at, value & 0xffff);
    put16(at + 2, value >> 16);
}

void set_begin(DirEntry& entry, uint32_t cluster)
{
    put16(&entry[26], cluster & 0xffff);
    put16(&entry[20], cluster >> 16);
}

void fill_entry(DirEntry& entry, const struct stat& st, FatStamps& stamps)
{
    FatStamp changed = stamps(st.st_ctime);
    FatStamp modified = stamps(st.st_mtime);
    entry[11] = S_ISDIR(st.st_mode) ? kAttrDirectory : kAttrArchive;
    entry[12] = entry[13] = 0;
    put16(&entry[14], changed.time);
    put16(&entry[16], changed.date);
    put16(&entry[18], stamps(st.st_atime).date);
    put16(&entry[20], 0);
    put16(&entry[22], modified.time);
    put16(&entry[24], modified.date);
    put16(&entry[26], 0);
    put32(&entry[28], S_ISDIR(st.st_mode) ? 0 : static_cast<uint32_t>(st.st_size));
}

DirEntry dot_entry(std::string_view name)
{
    DirEntry entry{};
    std::fill_n(entry.begin(), 11, ' ');
    std::copy(name.begin(), name.end(), entry.begin());
    return entry;
}

std::string short_key(const DirEntry& entry)
{
    return std::string(entry.begin(), entry.begin() + 11);
}

}  // namespace

FatStamp FatStamps::operator()(time_t when)
{
    Slot& slot = m_slots[static_cast<uint64_t>(when) % m_slots.size()];
    if (!slot.valid || slot.when != when) {
        struct tm t { };
        localtime_r(&when, &t);
        slot.stamp.time = static_cast<uint16_t>((t.tm_sec / 2) | (t.tm_min << 5) | (t.tm_hour << 11));
        slot.stamp.date = static_cast<uint16_t>(t.tm_mday | ((t.tm_mon + 1) << 5) | ((t.tm_year - 80) << 9));
        slot.when = when;
        slot.valid = true;
    }
    return slot.stamp;
}

Result<std::unique_ptr<FatImage>> FatImage::build(
    HostRoot root, const Geometry& geometry, const std::array<uint8_t, 11>& label, const MessageSink& message)
{
    std::unique_ptr<FatImage> image(new FatImage(std::move(root), geometry));
    const Geometry& g = image->m_geometry;
    image->m_first_sectors.assign(size_t{g.offset_to_fat} * 512, 0);
    image->m_fat.assign(size_t{g.sectors_per_fat} * 512, 0);
    image->m_cluster.assign(g.cluster_size(), 0);

    DirEntry volume{};
    std::copy(label.begin(), label.end(), volume.begin());
    volume[11] = kAttrVolumeLabel;
    image->m_directory.push_back(volume);

    Mapping top;
    top.is_directory = true;
    image->m_mappings.push_back(top);

    // One worker shares the stat calls of the walk with this thread; it goes with the walk.
    ThreadPool walk_pool(1);
    image->m_walk_pool = &walk_pool;
    uint32_t cluster = 0;
    for (size_t i = 0; i < image->m_mappings.size(); ++i) {
        // The root directory has no FAT chain (DOS wants its entries zero).
        bool chain = i != 0;
        if (image->m_mappings[i].is_directory) {
            image->m_mappings[i].begin = cluster;
            auto read = image->read_directory(i, message);
            if (!read && !image->m_overflowed) {
                return make_error("Could not read directory " + image->host_path(image->m_mappings[i]));
            }
        } else {
            Mapping& file = image->m_mappings[i];
            file.begin = cluster;
            // Files of 0 bytes get no mapping, so every file here has a cluster at least.
            file.end = cluster + 1 + static_cast<uint32_t>((file.size - 1) / g.cluster_size());
            set_begin(image->m_directory[file.dir_index], file.begin);
        }
        Mapping& m = image->m_mappings[i];
        cluster = m.end;
        if (cluster > g.cluster_count || image->m_overflowed) {
            char text[96];
            std::snprintf(text, sizeof text, "Directory does not fit in FAT%d (capacity %.2f MB)", g.fat_type,
                g.sector_count / 2000.0);
            return make_error(text);
        }
        if (chain) {
            for (uint32_t c = m.begin; c + 1 < m.end; ++c) {
                image->fat_set(c, c + 1);
            }
            image->fat_set(m.end - 1, g.max_fat_value);
        }
    }
    image->m_walk_pool = nullptr;
    // The FAT's first two entries: media byte and end-of-chain markers.
    image->fat_set(0, g.max_fat_value);
    image->fat_set(1, g.max_fat_value);
    image->m_fat[0] = g.has_mbr() ? 0xf8 : 0xf0;

    if (g.has_mbr()) {
        Sector mbr = make_mbr(g);
        std::copy(mbr.begin(), mbr.end(), image->m_first_sectors.begin());
    }
    Sector boot = make_boot_sector(g, label);
    std::copy(boot.begin(), boot.end(), image->m_first_sectors.begin() + size_t{g.offset_to_bootsector} * 512);
    image->link_tail_sources();
    return image;
}

Result<size_t> FatImage::add_named_entries(std::string_view name, TakenNames& taken, const MessageSink& message)
{
    size_t long_start = m_directory.size();
    if (auto long_entries = long_name_entries(name)) {
        m_directory.insert(m_directory.end(), long_entries->begin(), long_entries->end());
    } else {
        message("vvfat: invalid UTF-8 name: " + std::string(name) + "\n");
    }
    ShortNameBase base = short_name_base(name);
    size_t name_length = short_name_length(base.name);
    DirEntry entry{};
    std::copy(base.name.begin(), base.name.end(), entry.begin());
    std::string base_key = short_key(entry);
    // QEMU tries ~1, ~2, ... from the start for every name. The names only ever become
    // taken, so the tails an earlier name of the same base found taken still are: starting
    // after them gives the same alias without QEMU's quadratic search.
    unsigned& next_tail = taken.next_tail[base_key];
    unsigned n = base.lossy ? 1 : 0;
    if (n == 0 && taken.names.contains(base_key)) {
        n = 1;
    }
    if (n > 0) {
        n = std::max(n, next_tail);
    }
    for (;; ++n) {
        if (n >= 999999) {
            return make_error("no free 8.3 name");
        }
        if (n > 0) {
            apply_numeric_tail(base.name, name_length, n);
        }
        std::copy(base.name.begin(), base.name.end(), entry.begin());
        if (!taken.names.contains(short_key(entry))) {
            break;
        }
    }
    if (n > 0) {
        next_tail = n + 1;
    }
    taken.names.insert(short_key(entry));
    uint8_t checksum = short_name_checksum(base.name);
    for (size_t i = long_start; i < m_directory.size(); ++i) {
        m_directory[i][13] = checksum;
    }
    m_directory.push_back(entry);
    return m_directory.size() - 1;
}

Result<void> FatImage::read_directory(size_t mapping_index, const MessageSink& message)
{
    const Geometry& g = m_geometry;
    const uint32_t first_cluster = m_mappings[mapping_index].begin;
    const bool is_root = first_cluster == 0;
    const std::string relative = m_mappings[mapping_index].relative;
    const int32_t parent = m_mappings[mapping_index].parent;
    const uint32_t parent_cluster = parent >= 0 ? m_mappings[parent].begin : 0xffffffff;

    QemuFd opened;
    if (!is_root) {
        opened = TRY(open_below_root(m_root, relative, O_RDONLY | O_DIRECTORY));
    }
    const QemuFd& dir = is_root ? m_root.fd : opened;
    std::vector<std::string> names = TRY(list_directory(dir));

    const size_t first = is_root ? 0 : m_directory.size();
    m_mappings[mapping_index].first_dir_index = static_cast<uint32_t>(first);
    // Aliases must differ from every 8.3 name already in this directory, the volume label
    // and the dot entries included.
    TakenNames taken;
    if (is_root) {
        taken.names.insert(short_key(m_directory[0]));
    } else {
        m_directory.push_back(dot_entry("."));
        m_directory.push_back(dot_entry(".."));
        taken.names.insert(short_key(m_directory[first]));
        taken.names.insert(short_key(m_directory[first + 1]));
    }

    std::vector<std::optional<struct stat>> stats = stat_entries(m_root, dir, relative, names, m_walk_pool);
    for (size_t n = 0; n < names.size(); ++n) {
        const std::string& name = names[n];
        if (is_root && m_directory.size() >= g.root_entries - 1) {
            message("Too many entries in root directory\n");
            return make_error("Too many entries in root directory");
        }
        bool is_dot = name == ".";
        bool is_dotdot = name == "..";
        if (is_root && (is_dot || is_dotdot)) {
            continue;
        }
        std::optional<struct stat> st;
        struct stat self { };
        if (is_dot) {
            if (::fstat(dir.get(), &self) == 0) {
                st = self;
            }
        } else if (is_dotdot) {
            const std::string& up = m_mappings[parent].relative;
            if (up.empty()) {
                if (::fstat(m_root.fd.get(), &self) == 0) {
                    st = self;
                }
            } else if (auto updir = open_below_root(m_root, up, O_PATH); updir && ::fstat(updir->get(), &self) == 0) {
                st = self;
            }
        } else {
            st = stats[n];
        }
        if (!st) {
            continue;
        }
        size_t index = is_dot ? first : is_dotdot ? first + 1 : TRY(add_named_entries(name, taken, message));
        // A directory that can no longer fit fails now rather than after all of it is in
        // memory; QEMU reads it to the end first, then fails with the same text.
        if (!is_root && first_cluster + (m_directory.size() - first) * 32 / g.cluster_size() > g.cluster_count) {
            m_overflowed = true;
            m_mappings[mapping_index].end = g.cluster_count + 1;
            return make_error("does not fit");
        }
        DirEntry& entry = m_directory[index];
        fill_entry(entry, *st, m_stamps);
        if (is_dotdot) {
            set_begin(entry, parent_cluster);
        } else if (is_dot) {
            set_begin(entry, first_cluster);
        }
        bool is_dir = S_ISDIR(st->st_mode);
        if (st->st_size > static_cast<off_t>(kMaxFileSize)) {
            message("File " + host_path(m_mappings[mapping_index]) + "/" + name + " is larger than 2GB\n");
            return make_error("file too large");
        }
        if (!is_dot && !is_dotdot && (is_dir || st->st_size > 0)) {
            Mapping child;
            child.dir_index = static_cast<uint32_t>(index);
            child.relative = join_relative(relative, name);
            child.is_directory = is_dir;
            child.parent = is_dir ? static_cast<int32_t>(mapping_index) : -1;
            child.size = is_dir ? 0 : static_cast<uint64_t>(st->st_size);
            child.read_only = (st->st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0;
            m_mappings.push_back(std::move(child));
        }
    }

    // A directory fills whole clusters; the FAT12/16 root has its fixed 512 entries.
    const size_t per_cluster = 16 * g.sectors_per_cluster;
    m_directory.resize((m_directory.size() + per_cluster - 1) / per_cluster * per_cluster);
    if (g.fat_type != 32 && is_root && m_directory.size() < g.root_entries) {
        m_directory.resize(g.root_entries);
    }
    Mapping& m = m_mappings[mapping_index];
    m.end = first_cluster + static_cast<uint32_t>((m_directory.size() - first) * 32 / g.cluster_size());
    set_begin(m_directory[m.dir_index], m.begin);
    return {};
}

void FatImage::fat_set(uint32_t cluster, uint32_t value)
{
    switch (m_geometry.fat_type) {
    case 32:
        if (size_t{cluster} * 4 + 4 <= m_fat.size()) {
            put32(&m_fat[size_t{cluster} * 4], value);
        }
        break;
    case 16:
        if (size_t{cluster} * 2 + 2 <= m_fat.size()) {
            put16(&m_fat[size_t{cluster} * 2], value);
        }
        break;
    default: {
        size_t at = size_t{cluster} * 3 / 2;
        if (at + 2 > m_fat.size()) {
            break;
        }
        uint8_t* p = &m_fat[at];
        if (cluster & 1) {
            p[0] = static_cast<uint8_t>((p[0] & 0x0f) | ((value & 0x0f) << 4));
            p[1] = static_cast<uint8_t>(value >> 4);
        } else {
            p[0] = static_cast<uint8_t>(value);
            p[1] = static_cast<uint8_t>((p[1] & 0xf0) | ((value >> 8) & 0x0f));
        }
        break;
    }
    }
}

}  // namespace qemu::block::vvfat
