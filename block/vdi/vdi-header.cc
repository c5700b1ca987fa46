// The vdi header: little-endian decoding and encoding of its 512 bytes, QEMU's open-time
// validation with its exact messages, the format probe and UUID generation.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "block/vdi/vdi.h"

namespace qemu::block::vdi {

namespace {

// Field offsets inside the 512-byte header.
enum : size_t {
    kOffSignature = 0x40,
    kOffVersion = 0x44,
    kOffHeaderSize = 0x48,
    kOffImageType = 0x4C,
    kOffImageFlags = 0x50,
    kOffBmap = 0x154,
    kOffData = 0x158,
    kOffSectorSize = 0x168,
    kOffDiskSize = 0x170,
    kOffBlockSize = 0x178,
    kOffBlockExtra = 0x17C,
    kOffBlocksInImage = 0x180,
    kOffBlocksAllocated = 0x184,
    kOffUuidImage = 0x188,
    kOffUuidLastSnap = 0x198,
    kOffUuidLink = 0x1A8,
    kOffUuidParent = 0x1B8,
};

uint32_t le32(std::span<const uint8_t> b, size_t at)
{
    return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}

uint64_t le64(std::span<const uint8_t> b, size_t at)
{
    return uint64_t{le32(b, at)} | uint64_t{le32(b, at + 4)} << 32;
}

void put_le32(std::span<uint8_t> b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; ++i) {
        b[at + i] = static_cast<uint8_t>(v >> (8 * i));
    }
}

void put_le64(std::span<uint8_t> b, size_t at, uint64_t v)
{
    put_le32(b, at, static_cast<uint32_t>(v));
    put_le32(b, at + 4, static_cast<uint32_t>(v >> 32));
}

std::array<uint8_t, 16> uuid_at(std::span<const uint8_t> b, size_t at)
{
    std::array<uint8_t, 16> out{};
    std::memcpy(out.data(), b.data() + at, out.size());
    return out;
}

bool is_null(const std::array<uint8_t, 16>& uuid)
{
    for (uint8_t byte : uuid) {
        if (byte != 0) {
            return false;
        }
    }
    return true;
}

std::unexpected<Error> unsupported(std::string text)
{
    return std::unexpected(Error{ErrorClass::GenericError, std::move(text), ENOTSUP});
}

std::string format(const char* fmt, auto... args)
{
    char buf[256];
    std::snprintf(buf, sizeof(buf), fmt, args...);
    return buf;
}

}  // namespace

Header parse_header(std::span<const uint8_t, kHeaderBytes> bytes)
{
    Header h;
    std::memcpy(h.raw.data(), bytes.data(), kHeaderBytes);
    h.signature = le32(bytes, kOffSignature);
    h.version = le32(bytes, kOffVersion);
    h.header_size = le32(bytes, kOffHeaderSize);
    h.image_type = le32(bytes, kOffImageType);
    h.image_flags = le32(bytes, kOffImageFlags);
    h.offset_bmap = le32(bytes, kOffBmap);
    h.offset_data = le32(bytes, kOffData);
    h.sector_size = le32(bytes, kOffSectorSize);
    h.disk_size = le64(bytes, kOffDiskSize);
    h.block_size = le32(bytes, kOffBlockSize);
    h.block_extra = le32(bytes, kOffBlockExtra);
    h.blocks_in_image = le32(bytes, kOffBlocksInImage);
    h.blocks_allocated = le32(bytes, kOffBlocksAllocated);
    h.uuid_image = uuid_at(bytes, kOffUuidImage);
    h.uuid_last_snap = uuid_at(bytes, kOffUuidLastSnap);
    h.uuid_link = uuid_at(bytes, kOffUuidLink);
    h.uuid_parent = uuid_at(bytes, kOffUuidParent);
    return h;
}

std::array<uint8_t, kHeaderBytes> serialize_header(const Header& h)
{
    std::array<uint8_t, kHeaderBytes> out = h.raw;
    std::span<uint8_t> b(out);
    put_le32(b, kOffSignature, h.signature);
    put_le32(b, kOffVersion, h.version);
    put_le32(b, kOffHeaderSize, h.header_size);
    put_le32(b, kOffImageType, h.image_type);
    put_le32(b, kOffImageFlags, h.image_flags);
    put_le32(b, kOffBmap, h.offset_bmap);
    put_le32(b, kOffData, h.offset_data);
    put_le32(b, kOffSectorSize, h.sector_size);
    put_le64(b, kOffDiskSize, h.disk_size);
    put_le32(b, kOffBlockSize, h.block_size);
    put_le32(b, kOffBlockExtra, h.block_extra);
    put_le32(b, kOffBlocksInImage, h.blocks_in_image);
    put_le32(b, kOffBlocksAllocated, h.blocks_allocated);
    std::memcpy(out.data() + kOffUuidImage, h.uuid_image.data(), 16);
    std::memcpy(out.data() + kOffUuidLastSnap, h.uuid_last_snap.data(), 16);
    std::memcpy(out.data() + kOffUuidLink, h.uuid_link.data(), 16);
    std::memcpy(out.data() + kOffUuidParent, h.uuid_parent.data(), 16);
    return out;
}

std::unexpected<Error> size_unsupported(uint64_t disk_size)
{
    return unsupported(format(
        "Unsupported VDI image size (size is 0x%" PRIx64 ", max supported is 0x%" PRIx64 ")", disk_size, kMaxDiskSize));
}

Result<void> validate_header(Header& h)
{
    if (h.disk_size > kMaxDiskSize) {
        return size_unsupported(h.disk_size);
    }
    h.disk_size = (h.disk_size + kSectorSize - 1) / kSectorSize * kSectorSize;
    if (h.signature != kSignature) {
        return std::unexpected(Error{ErrorClass::GenericError,
            format("Image not in VDI format (bad signature %08" PRIx32 ")", h.signature), EINVAL});
    }
    if (h.version != kVersion11) {
        return unsupported(
            format("unsupported VDI image (version %" PRIu32 ".%" PRIu32 ")", h.version >> 16, h.version & 0xffff));
    }
    if (h.offset_bmap % kSectorSize != 0) {
        return unsupported(format("unsupported VDI image (unaligned block map offset 0x%" PRIx32 ")", h.offset_bmap));
    }
    if (h.offset_data % kSectorSize != 0) {
        return unsupported(format("unsupported VDI image (unaligned data offset 0x%" PRIx32 ")", h.offset_data));
    }
    if (h.sector_size != kSectorSize) {
        return unsupported(format("unsupported VDI image (sector size %" PRIu32 " is not %u)", h.sector_size,
            static_cast<unsigned>(kSectorSize)));
    }
    if (h.block_size != kBlockSize) {
        return unsupported(
            format("unsupported VDI image (block size %" PRIu32 " is not %" PRIu32 ")", h.block_size, kBlockSize));
    }
    uint64_t room = uint64_t{h.blocks_in_image} * h.block_size;
    if (h.disk_size > room) {
        return unsupported(format(
            "unsupported VDI image (disk size %" PRIu64 ", image bitmap has room for %" PRIu64 ")", h.disk_size, room));
    }
    if (!is_null(h.uuid_link)) {
        return unsupported("unsupported VDI image (non-NULL link UUID)");
    }
    if (!is_null(h.uuid_parent)) {
        return unsupported("unsupported VDI image (non-NULL parent UUID)");
    }
    if (h.blocks_in_image > kMaxBlocks) {
        return unsupported(
            format("unsupported VDI image (too many blocks %u, max is %u)", h.blocks_in_image, kMaxBlocks));
    }
    return {};
}

int probe(std::span<const uint8_t> buf, std::string_view)
{
    if (buf.size() < kHeaderBytes) {
        return 0;
    }
    return le32(buf, kOffSignature) == kSignature ? 100 : 0;
}

std::array<uint8_t, 16> random_uuid()
{
    std::random_device source;
    std::array<uint8_t, 16> rfc{};
    for (size_t i = 0; i < rfc.size(); i += 4) {
        uint32_t word = source();
        std::memcpy(rfc.data() + i, &word, 4);
    }
    rfc[6] = static_cast<uint8_t>((rfc[6] & 0x0F) | 0x40);  // version 4
    rfc[8] = static_cast<uint8_t>((rfc[8] & 0x3F) | 0x80);  // RFC 4122 variant
    // On disk the first three fields are little-endian (Microsoft GUID layout).
    std::array<uint8_t, 16> disk = rfc;
    std::swap(disk[0], disk[3]);
    std::swap(disk[1], disk[2]);
    std::swap(disk[4], disk[5]);
    std::swap(disk[6], disk[7]);
    return disk;
}

}  // namespace qemu::block::vdi
