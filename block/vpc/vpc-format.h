// The on-disk structures of a VHD (Virtual PC / Hyper-V) image: the 512-byte footer every
// image ends with (and a dynamic image also starts with), the 1024-byte dynamic disk
// header, their checksums, and the rule deciding whether the footer's size or its CHS
// geometry gives the virtual size. All fields are big-endian.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "util/bswap.h"

namespace qemu::block::vpc {

constexpr size_t kFooterSize = 512;
constexpr size_t kDynHeaderSize = 1024;

enum class DiskType : uint32_t { Fixed = 2, Dynamic = 3, Differencing = 4 };

// Seconds between the Unix epoch and the VHD epoch (2000-01-01 00:00 UTC).
constexpr int64_t kTimestampBase = 946684800;

// Field offsets inside the footer.
namespace footer {
constexpr size_t kCookie = 0;
constexpr size_t kFeatures = 8;
constexpr size_t kVersion = 12;
constexpr size_t kDataOffset = 16;
constexpr size_t kTimestamp = 24;
constexpr size_t kCreatorApp = 28;
constexpr size_t kCreatorVersion = 32;
constexpr size_t kCreatorOs = 36;
constexpr size_t kOriginalSize = 40;
constexpr size_t kCurrentSize = 48;
constexpr size_t kCylinders = 56;
constexpr size_t kHeads = 58;
constexpr size_t kSectorsPerTrack = 59;
constexpr size_t kDiskType = 60;
constexpr size_t kChecksum = 64;
constexpr size_t kUuid = 68;
}  // namespace footer

// Field offsets inside the dynamic disk header.
namespace dynheader {
constexpr size_t kCookie = 0;
constexpr size_t kDataOffset = 8;
constexpr size_t kTableOffset = 16;
constexpr size_t kVersion = 24;
constexpr size_t kMaxTableEntries = 28;
constexpr size_t kBlockSize = 32;
constexpr size_t kChecksum = 36;
}  // namespace dynheader

// One's complement of the byte sum; callers zero the checksum field first.
uint32_t vhd_checksum(std::span<const uint8_t> buf);

// A footer as read (kept whole: QEMU writes the same bytes back when the file grows).
struct Footer {
    std::array<uint8_t, kFooterSize> bytes{};

    bool has_cookie() const;
    uint64_t data_offset() const { return load_be64(bytes, footer::kDataOffset); }
    uint64_t current_size() const { return load_be64(bytes, footer::kCurrentSize); }
    uint16_t cylinders() const { return load_be16(bytes, footer::kCylinders); }
    uint8_t heads() const { return bytes[footer::kHeads]; }
    uint8_t sectors_per_track() const { return bytes[footer::kSectorsPerTrack]; }
    uint32_t disk_type() const { return load_be32(bytes, footer::kDiskType); }
    std::string_view creator_app() const;
    // Whether the stored checksum matches the rest of the footer.
    bool checksum_ok() const;
};

// How the virtual size is derived (the runtime option force_size_calc).
enum class SizeCalc { Auto, Chs, CurrentSize };

// The virtual size in sectors: C*H*S, unless the creator is one known to trust the footer
// size (Hyper-V, Disk2vhd, XenServer, XenConverter, QEMU with force_size), or the geometry is
// the maximum one, or the caller forces it either way.
int64_t footer_total_sectors(const Footer& footer, SizeCalc calc);

}  // namespace qemu::block::vpc
