// CHS geometry and create-time size rounding for VHD (see vpc-geometry.h).
#include "block/vpc/vpc-geometry.h"

#include <algorithm>
#include <cerrno>

#include "block/block.h"

namespace qemu::block::vpc {

Geometry calculate_geometry(int64_t total_sectors)
{
    total_sectors = std::min(total_sectors, kMaxGeometrySectors);
    Geometry g;
    uint32_t cylinders_times_heads = 0;
    if (total_sectors >= 65535LL * 16 * 63) {
        g.sectors_per_track = 255;
        g.heads = 16;
        cylinders_times_heads = static_cast<uint32_t>(total_sectors / 255);
    } else {
        g.sectors_per_track = 17;
        cylinders_times_heads = static_cast<uint32_t>(total_sectors / 17);
        // The head count is a byte in the footer; it is narrowed before the range checks,
        // exactly as the reference does, although the checks below make that unobservable.
        g.heads = static_cast<uint8_t>((cylinders_times_heads + 1023) / 1024);
        g.heads = std::max<uint8_t>(g.heads, 4);
        if (cylinders_times_heads >= uint32_t{g.heads} * 1024 || g.heads > 16) {
            g.sectors_per_track = 31;
            g.heads = 16;
            cylinders_times_heads = static_cast<uint32_t>(total_sectors / 31);
        }
        if (cylinders_times_heads >= uint32_t{g.heads} * 1024) {
            g.sectors_per_track = 63;
            g.heads = 16;
            cylinders_times_heads = static_cast<uint32_t>(total_sectors / 63);
        }
    }
    g.cylinders = static_cast<uint16_t>(cylinders_times_heads / g.heads);
    return g;
}

Result<RoundedSize> round_image_size(int64_t size_bytes, bool force_size)
{
    RoundedSize out;
    if (force_size) {
        out.geometry = kMaxGeometry;
    } else {
        int64_t wanted = std::min(kMaxGeometrySectors, size_bytes / kSectorSize);
        // Growing the sector count until the geometry covers it rounds up, never down.
        for (int64_t extra = 0; wanted > out.geometry.sectors(); ++extra) {
            out.geometry = calculate_geometry(wanted + extra);
        }
    }
    if (out.geometry.sectors() == kMaxGeometrySectors) {
        out.total_sectors = size_bytes / kSectorSize;
        if (out.total_sectors > kMaxSectors) {
            return std::unexpected(
                Error{ErrorClass::GenericError, "Disk size is too large, max size is 2040 GiB", EFBIG});
        }
    } else {
        out.total_sectors = out.geometry.sectors();
    }
    return out;
}

}  // namespace qemu::block::vpc
