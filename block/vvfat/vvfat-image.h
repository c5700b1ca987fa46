// The FAT disk QEMU 7.2 generates for a host directory: the directory entries (with long
// names and 8.3 aliases), the FAT chains, and the mapping from clusters to host files and
// directories. Built once at open from the tree beneath the root descriptor; file data
// stays on the host and is read cluster by cluster when the guest reads it.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "block/vvfat/vvfat-geometry.h"
#include "block/vvfat/vvfat-names.h"
#include "block/vvfat/vvfat-tree.h"
#include "util/batch-read.h"

namespace qemu::block::vvfat {

// A run of clusters that belongs to one host file or directory (QEMU's mapping_t).
struct Mapping {
    uint32_t begin = 0;  // first cluster
    uint32_t end = 0;  // one past the last
    uint32_t dir_index = 0;  // its 8.3 entry in the parent's listing (the root: the label)
    int32_t parent = -1;  // directories: the parent's mapping
    uint32_t first_dir_index = 0;  // directories: its first entry in the directory array
    std::string relative;  // path below the root, "" for the root
    bool is_directory = false;
    bool read_only = false;  // no write bit at all on the host
    uint64_t size = 0;  // files
    // Files: the earlier file whose last cluster left in QEMU's cluster buffer the bytes
    // this file's last cluster shows past its end (-1: the buffer's initial zeros).
    int32_t tail_source = -1;
    // Files: the file before this one in disk order (-1: none), whose last cluster QEMU
    // read into its buffer just before this file's first when the disk is read in order.
    int32_t previous_file = -1;
};

// fat_datetime: the host's local time, as QEMU converts it, as (time, date).
struct FatStamp {
    uint16_t time = 0;
    uint16_t date = 0;
};

// A tree's entries share few distinct times (files written together, one mtime copied to
// many): converting each distinct second once keeps localtime_r off the open's profile.
class FatStamps {
public:
    FatStamp operator()(time_t when);

private:
    struct Slot {
        time_t when = 0;
        bool valid = false;
        FatStamp stamp;
    };
    std::array<Slot, 64> m_slots{};
};

// Where messages QEMU prints to stderr during open go.
using MessageSink = std::function<void(const std::string&)>;

class FatImage {
public:
    // Walks the tree and lays the disk out; fails with QEMU's texts (Could not read
    // directory, Directory does not fit in FAT%d ...), printing what QEMU prints first.
    static Result<std::unique_ptr<FatImage>> build(
        HostRoot root, const Geometry& geometry, const std::array<uint8_t, 11>& label, const MessageSink& message);

    const Geometry& geometry() const { return m_geometry; }

    // The generated content of one 512-byte sector (no overlay).
    void read_sector(uint32_t sector, std::span<uint8_t, 512> out);
    // Sectors [first, first + count) of the generated disk into out (count * 512 bytes),
    // the same bytes read_sector gives one by one, without the per-sector cost: free
    // clusters are zeroed in place, each cluster is looked up once.
    void read_sectors(uint32_t first, uint32_t count, uint8_t* out);

    // The mapping that holds cluster, or nullptr.
    const Mapping* mapping_for_cluster(uint32_t cluster) const;
    // An entry of the directory array, or nullptr past its end.
    const DirEntry* directory_entry(uint64_t index) const;
    // The partition's boot sector as generated (a guest may change its one free byte).
    std::span<uint8_t, 512> boot_sector();
    // The name QEMU prints for a mapping: the directory as given, '/', the relative path.
    std::string host_path(const Mapping& mapping) const;

    size_t mapping_count() const { return m_mappings.size(); }

    // The directory the disk shows (rw mode reads committed files beneath it).
    const HostRoot& root() const { return m_root; }
    // Closes the host file kept open and forgets the cached cluster: once a commit changed
    // the host, file clusters are no longer read through the layout built at open.
    void forget_host_files();

private:
    FatImage(HostRoot root, const Geometry& geometry) : m_root(std::move(root)), m_geometry(geometry) { }

    Result<void> read_directory(size_t mapping_index, const MessageSink& message);
    // The 8.3 names one directory already has, and per alias base the first ~N not yet
    // known to be taken.
    struct TakenNames {
        std::unordered_set<std::string> names;
        std::unordered_map<std::string, unsigned> next_tail;
    };
    // The long-name entries and the 8.3 entry of one host name; the 8.3 entry's index.
    Result<size_t> add_named_entries(std::string_view name, TakenNames& taken, const MessageSink& message);
    void fat_set(uint32_t cluster, uint32_t value);
    void link_tail_sources();

    // Bytes [lo, hi) of cluster `index` (counted from the file's first) of a file mapping;
    // what the file does not have reads as zeros.
    void read_file_bytes(size_t mapping_index, uint32_t index, uint32_t lo, uint32_t hi, uint8_t* out);
    // The same without the zeros: reads what the file has into out, counting it in done.
    void read_from_file(size_t mapping_index, uint32_t index, uint32_t lo, uint32_t hi, uint8_t* out, size_t& done);
    // Bytes [lo, hi) of what QEMU's cluster buffer held after reading the last cluster of
    // file `mapping_index` (or zeros for -1).
    void buffer_after_file(int32_t mapping_index, uint32_t lo, uint32_t hi, uint8_t* out);
    void load_cluster(uint32_t cluster);
    // Reads, in one batch, the host file bytes of the clusters [first, end) that a
    // read_sectors call is about to serve, at most kPrefetchBytes of them; returns end.
    uint32_t prefetch_files(uint32_t first, uint32_t last);
    // Serves [offset, offset + want) of a file mapping from the batch, when it holds that
    // range; false sends the caller to the file.
    bool read_prefetched(size_t mapping_index, uint64_t offset, size_t want, uint8_t* out, size_t& done) const;
    // One cluster of a directory mapping: its entries, zeros past the array's end.
    void copy_directory_cluster(const Mapping& m, uint32_t cluster, uint8_t* out) const;

    HostRoot m_root;
    Geometry m_geometry;
    bool m_overflowed = false;  // a directory outgrew the disk while it was read
    std::vector<uint8_t> m_first_sectors;  // MBR, hidden sectors and boot sector
    std::vector<uint8_t> m_fat;  // one FAT; the disk shows it twice
    std::vector<DirEntry> m_directory;
    std::vector<Mapping> m_mappings;
    FatStamps m_stamps;  // used while the tree is read
    ThreadPool* m_walk_pool = nullptr;  // set only while build() walks the tree

    // The last data cluster read, QEMU's s->cluster_buffer and current_cluster.
    std::vector<uint8_t> m_cluster;
    int64_t m_cached_cluster = -1;
    // The file cluster after whose read m_cluster holds what QEMU's buffer holds (-1: it
    // holds something else; kInitialBuffer: the zeros it starts with). Read in disk order,
    // a file's short last cluster then only needs its own bytes read over it.
    static constexpr int64_t kInitialBuffer = -2;
    int64_t m_buffer_after = kInitialBuffer;
    // The host file last read from (QEMU keeps one open too).
    int32_t m_open_mapping = -1;
    QemuFd m_open_file;

    // The batch of file bytes read for the current read_sectors window: one range per file
    // mapping, in mapping order, stored back to back in m_prefetch_data. Empty outside
    // read_sectors, so nothing read earlier is ever served after the host changed.
    static constexpr size_t kPrefetchBytes = 1 << 20;
    struct Prefetched {
        size_t mapping;
        uint64_t offset;  // in the file
        size_t at;  // in m_prefetch_data
        size_t length;
        ssize_t got;  // bytes read, -1 if the file could not be opened
    };
    std::vector<Prefetched> m_prefetched;
    std::vector<uint8_t> m_prefetch_data;
    std::unique_ptr<BatchReader> m_batch_reader;  // made at the first batch
};

}  // namespace qemu::block::vvfat
