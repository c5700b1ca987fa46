// CHS geometry for VHD images, as the VHD specification's algorithm computes it in QEMU's
// variant, and the size rounding qemu-img create applies so that a converted image is
// never smaller than its source.
#pragma once

#include <cstdint>

#include "util/error.h"

namespace qemu::block::vpc {

struct Geometry {
    uint16_t cylinders = 0;
    uint8_t heads = 0;
    uint8_t sectors_per_track = 0;

    int64_t sectors() const { return int64_t{cylinders} * heads * sectors_per_track; }
    bool operator==(const Geometry&) const = default;
};

// 65535 cylinders, 16 heads, 255 sectors: the largest geometry a footer can carry.
constexpr Geometry kMaxGeometry{65535, 16, 255};
constexpr int64_t kMaxGeometrySectors = 65535LL * 16 * 255;
// 2040 GiB, the largest disk QEMU opens or creates.
constexpr int64_t kMaxSectors = 0xff000000LL;

// The geometry the specification assigns to a disk of total_sectors (clamped to the maximum).
Geometry calculate_geometry(int64_t total_sectors);

// What create stores: the geometry and the virtual size in sectors.
struct RoundedSize {
    Geometry geometry;
    int64_t total_sectors = 0;
};

// For a requested size in bytes: without force_size the smallest geometry covering it (the
// size becomes C*H*S sectors, unless that is the maximum geometry, where the size is kept);
// with force_size the maximum geometry and the size as given. Fails with EFBIG past 2040 GiB.
Result<RoundedSize> round_image_size(int64_t size_bytes, bool force_size);

}  // namespace qemu::block::vpc
