// The rw vvfat commit link (see vvfat-commit.h).
#include "block/vvfat/vvfat-commit.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "block/vvfat/vvfat.h"

namespace qemu::block::vvfat {

namespace {

// The partition as the guest sees it now, for the committer: sector numbers count from the
// partition's boot sector.
class GuestView : public SectorSource {
public:
    GuestView(VvfatState& state, uint32_t partition_start, uint32_t partition_sectors)
        : m_state(state), m_start(partition_start), m_sectors(partition_sectors)
    {
    }

    Result<void> read_sectors(uint32_t sector, uint32_t count, std::span<uint8_t> out) const override
    {
        if (uint64_t{sector} + count > m_sectors || out.size() < size_t{count} * 512) {
            return make_errno_error(EIO, "vvfat: read past the partition");
        }
        for (uint32_t k = 0; k < count; ++k) {
            read_disk_sector(m_state, m_start + sector + k, std::span<uint8_t, 512>(out.data() + size_t{k} * 512, 512));
        }
        return {};
    }

private:
    VvfatState& m_state;
    uint32_t m_start;
    uint32_t m_sectors;
};

// QEMU's layout in the committer's terms: one reserved sector (the boot sector), two FATs,
// the fixed root directory of clusters 0 and 1, then cluster 2.
FatGeometry commit_geometry(const Geometry& g)
{
    FatGeometry f;
    f.fat_type = static_cast<uint32_t>(g.fat_type);
    f.sectors_per_cluster = g.sectors_per_cluster;
    f.reserved_sectors = g.offset_to_fat - g.offset_to_bootsector;
    f.fat_count = 2;
    f.sectors_per_fat = g.sectors_per_fat;
    f.root_dir_sectors = g.root_entries * 32 / 512;
    f.first_data_sector = g.offset_to_root_dir - g.offset_to_bootsector + 2 * g.sectors_per_cluster;
    f.total_sectors = g.sector_count;
    return f;
}

}  // namespace

CommitLink::CommitLink(FatCommitter committer, const FatGeometry& geometry, uint32_t partition_start)
    : m_committer(std::move(committer)), m_geometry(geometry), m_partition_start(partition_start)
{
}

Result<std::unique_ptr<CommitLink>> CommitLink::create(VvfatState& state)
{
    const Geometry& g = state.image->geometry();
    FatGeometry geometry = commit_geometry(g);
    GuestView view(state, g.offset_to_bootsector, geometry.total_sectors);
    auto committer = FatCommitter::create(geometry, state.image->root().fd.get(), view);
    if (!committer) {
        return make_error(
            "vvfat: cannot write changes back to " + state.image->root().name + ": " + committer.error().desc);
    }
    return std::make_unique<CommitLink>(std::move(*committer), geometry, g.offset_to_bootsector);
}

void CommitLink::after_write(BlockNode& node, VvfatState& state, uint32_t first_sector, uint32_t count)
{
    if (first_sector < m_partition_start) {
        return;  // the driver refuses such writes before they land
    }
    m_dirty.add(first_sector - m_partition_start, count);
    GuestView view(state, m_partition_start, m_geometry.total_sectors);
    auto outcome = m_committer.try_commit(view, m_dirty);
    if (!outcome) {
        // QEMU prints what failed and carries on; the guest's data stays in the overlay and
        // the next write tries again. The same failure is printed once.
        std::string text = outcome.error().desc + "\n";
        if (text != m_last_warning) {
            node.graph().warn(text);
            m_last_warning = std::move(text);
        }
        // Operations before the failure did change the host.
        remap(state);
        return;
    }
    if (!outcome->committed()) {
        return;
    }
    m_dirty.clear();
    m_last_warning.clear();
    if (outcome->host_changes == 0 && !m_remapped) {
        return;  // the host is as the disk was built from it
    }
    remap(state);
    // The host files now hold what the guest wrote to them: the overlay keeps only sectors
    // with bytes past a file's end (the host has none there).
    const Geometry& g = state.image->geometry();
    const uint32_t cluster_bytes = g.cluster_size();
    for (const CommittedEntry& entry : m_committer.committed_entries()) {
        if (entry.is_directory) {
            continue;
        }
        for (size_t i = 0; i < entry.chain.size(); ++i) {
            uint32_t first = g.offset_to_root_dir + entry.chain[i] * g.sectors_per_cluster;
            for (uint32_t k = 0; k < g.sectors_per_cluster; ++k) {
                uint64_t end = uint64_t{i} * cluster_bytes + uint64_t{k + 1} * 512;
                if (end > entry.size) {
                    break;
                }
                state.overlay->erase(first + k);
            }
        }
    }
}

void CommitLink::remap(VvfatState& state)
{
    const Geometry& g = state.image->geometry();
    m_open = -1;
    m_open_fd = QemuFd();
    m_files.clear();
    // Every cluster the committer may have put in a chain (QEMU's cluster_count is a few
    // short of the partition's).
    size_t clusters = (m_geometry.total_sectors - m_geometry.first_data_sector) / m_geometry.sectors_per_cluster + 2;
    m_owner.assign(std::max<size_t>(clusters, size_t{g.cluster_count} + 2), kFree);
    m_index.assign(m_owner.size(), 0);
    for (CommittedEntry& entry : m_committer.committed_entries()) {
        int32_t owner = kDirectory;
        if (!entry.is_directory) {
            owner = static_cast<int32_t>(m_files.size());
            m_files.push_back(File{.path = std::move(entry.path), .size = entry.size});
        }
        for (size_t i = 0; i < entry.chain.size(); ++i) {
            uint32_t cluster = entry.chain[i];
            if (cluster < m_owner.size()) {
                m_owner[cluster] = owner;
                m_index[cluster] = static_cast<uint32_t>(i);
            }
        }
    }
    state.image->forget_host_files();
    m_remapped = true;
}

bool CommitLink::read_sector(VvfatState& state, uint32_t sector, std::span<uint8_t, 512> out)
{
    const Geometry& g = state.image->geometry();
    if (!m_remapped || sector < g.offset_to_root_dir + 2 * g.sectors_per_cluster) {
        return false;  // boot area, FATs, root directory: generated, never from a host file
    }
    uint32_t relative = sector - g.offset_to_root_dir;
    uint32_t cluster = relative / g.sectors_per_cluster;
    if (cluster >= m_owner.size()) {
        return false;
    }
    int32_t owner = m_owner[cluster];
    if (owner >= 0) {
        uint64_t offset = uint64_t{m_index[cluster]} * g.cluster_size() + uint64_t{relative % g.sectors_per_cluster} * 512;
        read_file(state, owner, offset, out);
        return true;
    }
    // A directory's or a free cluster: the generated directory entries are still what the
    // guest left there, but a cluster generated from a host file must not be read through
    // a path that may now name another file.
    const Mapping* generated = state.image->mapping_for_cluster(cluster);
    if (generated && !generated->is_directory) {
        std::fill(out.begin(), out.end(), 0);
        return true;
    }
    return false;
}

void CommitLink::read_file(VvfatState& state, int32_t file, uint64_t offset, std::span<uint8_t, 512> out)
{
    std::fill(out.begin(), out.end(), 0);
    const File& f = m_files[static_cast<size_t>(file)];
    if (offset >= f.size) {
        return;
    }
    if (m_open != file) {
        m_open = -1;
        // O_NONBLOCK: a file swapped for a FIFO behind our back must not block the read.
        auto fd = open_below_root(state.image->root(), f.path, O_RDONLY | O_NONBLOCK);
        if (!fd) {
            m_open_fd = QemuFd();
            return;
        }
        m_open_fd = std::move(*fd);
        m_open = file;
    }
    auto want = static_cast<size_t>(std::min<uint64_t>(512, f.size - offset));
    size_t done = 0;
    while (done < want) {
        ssize_t got = ::pread(m_open_fd.get(), out.data() + done, want - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        done += static_cast<size_t>(got);
    }
}

}  // namespace qemu::block::vvfat
