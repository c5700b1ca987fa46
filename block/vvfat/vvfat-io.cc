// Guest I/O on a vvfat disk. Reads are served sector by sector from the overlay (rw mode)
// or the generated disk. Writes go through QEMU 7.2's checks (the boot sector may change
// in one byte only, nothing before the FAT, no clusters of read-only host files, no
// change to the entry of a read-only file) and then into the overlay. Requests need not
// be sector aligned: QEMU's block layer aligns them for the driver, here the driver does.
#include <cerrno>
#include <cstring>
#include <string>

#include "block/iov.h"
#include "block/vvfat/vvfat.h"

namespace qemu::block::vvfat {

namespace {

constexpr uint64_t kSector = 512;

bool is_short_name_entry(const uint8_t* entry)
{
    uint8_t attr = entry[11];
    return attr != kAttrVolumeLabel && attr != kAttrLongName && entry[0] != 0xe5 && entry[0] != 0x00;
}

void warn(BlockNode& node, const std::string& text)
{
    node.graph().warn(text);
}

// vvfat_write's checks and the overlay write for whole sectors.
Result<void> write_sectors(BlockNode& node, VvfatState& s, uint32_t sector, const uint8_t* buf, uint32_t count)
{
    FatImage& image = *s.image;
    const Geometry& g = image.geometry();
    if (sector == g.offset_to_bootsector && count == 1) {
        std::span<uint8_t, 512> boot = image.boot_sector();
        for (size_t i = 0; i < 512; ++i) {
            if (i != kBootSectorWritableByte && boot[i] != buf[i]) {
                warn(node, "Tried to write to protected bootsector\n");
                return make_errno_error(EPERM);
            }
        }
        // The dirty flag is kept in the generated boot sector, not in the overlay.
        boot[kBootSectorWritableByte] = buf[kBootSectorWritableByte];
        return {};
    }
    if (sector < g.offset_to_fat) {
        return make_errno_error(EPERM);
    }
    // As in QEMU, a signed division: writes to the FAT's last sectors count as cluster 0.
    auto to_cluster = [&](int64_t s_num) {
        return (s_num - int64_t{g.offset_to_root_dir}) / int64_t{g.sectors_per_cluster};
    };
    int64_t first_cluster = to_cluster(sector);
    int64_t last_cluster = to_cluster(int64_t{sector} + count - 1);
    for (int64_t i = first_cluster; i <= last_cluster;) {
        const Mapping* mapping = i >= 0 ? image.mapping_for_cluster(static_cast<uint32_t>(i)) : nullptr;
        if (!mapping) {
            ++i;
            continue;
        }
        if (mapping->read_only) {
            warn(node, "Tried to write to write-protected file " + image.host_path(*mapping) + "\n");
            return make_errno_error(EPERM);
        }
        if (mapping->is_directory) {
            int64_t begin = int64_t{g.offset_to_root_dir} + i * g.sectors_per_cluster;
            int64_t end = begin + g.sectors_per_cluster;
            begin = std::max<int64_t>(begin, sector);
            end = std::min<int64_t>(end, int64_t{sector} + count);
            // QEMU's index mixes units (an absolute sector against the mapping's first
            // cluster); an entry it cannot find is refused here rather than crash as QEMU's
            // assertion does.
            int64_t dir_index =
                int64_t{mapping->dir_index} + 16 * (begin - int64_t{mapping->begin} * g.sectors_per_cluster);
            const uint8_t* entries = buf + (begin - sector) * kSector;
            for (int64_t k = 0; k < (end - begin) * 16; ++k) {
                const uint8_t* entry = entries + k * 32;
                if (is_short_name_entry(entry) && (entry[11] & kAttrReadOnly)) {
                    const DirEntry* old =
                        dir_index + k >= 0 ? image.directory_entry(static_cast<uint64_t>(dir_index + k)) : nullptr;
                    if (!old || std::memcmp(entry, old->data(), 32) != 0) {
                        warn(node,
                            std::string(program_invocation_short_name) +
                                ": warning: tried to write to write-protected file\n");
                        return make_errno_error(EPERM);
                    }
                }
            }
        }
        i = mapping->end;
    }
    for (uint32_t k = 0; k < count; ++k) {
        s.overlay->store(sector + k, std::span<const uint8_t, 512>(buf + k * kSector, 512));
    }
    if (s.commit) {
        s.commit->after_write(node, s, sector, count);
    }
    return {};
}

}  // namespace

void read_disk_sector(VvfatState& s, uint32_t sector, std::span<uint8_t, 512> out)
{
    if (s.overlay) {
        if (const auto* written = s.overlay->find(sector)) {
            std::memcpy(out.data(), written->data(), 512);
            return;
        }
    }
    if (s.commit && s.commit->read_sector(s, sector, out)) {
        return;
    }
    s.image->read_sector(sector, out);
}

Result<void> vvfat_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    auto& s = node.state<VvfatState>();
    const uint64_t length = s.image->geometry().length();
    const size_t bytes = iov_size(iov);
    if (offset < 0 || static_cast<uint64_t>(offset) + bytes > length) {
        return make_errno_error(EIO);
    }
    size_t done = 0;
    if (!s.overlay && !s.commit) {
        // Read-only: whole sectors go straight from the generated disk into the request's
        // buffers; only the sectors a buffer splits take the copy below.
        for (const iovec& v : iov) {
            uint64_t at = static_cast<uint64_t>(offset) + done;
            if (at % kSector != 0 || v.iov_len % kSector != 0) {
                break;
            }
            s.image->read_sectors(static_cast<uint32_t>(at / kSector), static_cast<uint32_t>(v.iov_len / kSector),
                static_cast<uint8_t*>(v.iov_base));
            done += v.iov_len;
        }
    }
    std::array<uint8_t, 512> sector_buf;
    while (done < bytes) {
        uint64_t at = static_cast<uint64_t>(offset) + done;
        auto sector = static_cast<uint32_t>(at / kSector);
        size_t in_sector = at % kSector;
        size_t chunk = std::min(bytes - done, kSector - in_sector);
        read_disk_sector(s, sector, sector_buf);
        iov_from_buf(iov, done, sector_buf.data() + in_sector, chunk);
        done += chunk;
    }
    return {};
}

Result<void> vvfat_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags)
{
    auto& s = node.state<VvfatState>();
    if (!s.overlay) {
        return make_errno_error(EPERM);
    }
    const uint64_t length = s.image->geometry().length();
    const size_t bytes = iov_size(iov);
    if (offset < 0 || static_cast<uint64_t>(offset) + bytes > length) {
        return make_errno_error(EIO);
    }
    if (bytes == 0) {
        return {};
    }
    // QEMU's block layer hands vvfat whole sectors (read-modify-write around the edges)
    // and writes a request in one go, so the checks see every sector of it together.
    uint64_t first = static_cast<uint64_t>(offset) / kSector;
    uint64_t last = (static_cast<uint64_t>(offset) + bytes - 1) / kSector;
    // The span is bounded by the disk size checked above.
    std::vector<uint8_t> whole((last - first + 1) * kSector);
    if (offset % kSector != 0) {
        read_disk_sector(s, static_cast<uint32_t>(first), std::span<uint8_t, 512>(whole.data(), 512));
    }
    if ((offset + bytes) % kSector != 0) {
        read_disk_sector(
            s, static_cast<uint32_t>(last), std::span<uint8_t, 512>(whole.data() + whole.size() - kSector, 512));
    }
    iov_to_buf(iov, 0, whole.data() + offset % kSector, bytes);
    return write_sectors(node, s, static_cast<uint32_t>(first), whole.data(), static_cast<uint32_t>(last - first + 1));
}

}  // namespace qemu::block::vvfat
