// The vdi header: little-endian decoding and encoding of its 512 bytes, QEMU's open-time
// validation with its exact messages, the format probe and UUID generation.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "block/vdi/vdi.h"
#include "util/bswap.h"

namespace qemu::block::vdi {

namespace {

// The fields inside the 512-byte header.
namespace field {
constexpr LeField<uint32_t> kSignature{0x40};
constexpr LeField<uint32_t> kVersion{0x44};
constexpr LeField<uint32_t> kHeaderSize{0x48};
constexpr LeField<uint32_t> kImageType{0x4C};
constexpr LeField<uint32_t> kImageFlags{0x50};
constexpr LeField<uint32_t> kOffsetBmap{0x154};
constexpr LeField<uint32_t> kOffsetData{0x158};
constexpr LeField<uint32_t> kSectorSize{0x168};
constexpr LeField<uint64_t> kDiskSize{0x170};
constexpr LeField<uint32_t> kBlockSize{0x178};
constexpr LeField<uint32_t> kBlockExtra{0x17C};
constexpr LeField<uint32_t> kBlocksInImage{0x180};
constexpr LeField<uint32_t> kBlocksAllocated{0x184};
}  // namespace field

// The UUIDs are byte arrays, copied as they are.
enum : size_t {
    kOffUuidImage = 0x188,
    kOffUuidLastSnap = 0x198,
    kOffUuidLink = 0x1A8,
    kOffUuidParent = 0x1B8,
};

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
    h.signature = field::kSignature.load(bytes);
    h.version = field::kVersion.load(bytes);
    h.header_size = field::kHeaderSize.load(bytes);
    h.image_type = field::kImageType.load(bytes);
    h.image_flags = field::kImageFlags.load(bytes);
    h.offset_bmap = field::kOffsetBmap.load(bytes);
    h.offset_data = field::kOffsetData.load(bytes);
    h.sector_size = field::kSectorSize.load(bytes);
    h.disk_size = field::kDiskSize.load(bytes);
    h.block_size = field::kBlockSize.load(bytes);
    h.block_extra = field::kBlockExtra.load(bytes);
    h.blocks_in_image = field::kBlocksInImage.load(bytes);
    h.blocks_allocated = field::kBlocksAllocated.load(bytes);
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
    field::kSignature.store(b, h.signature);
    field::kVersion.store(b, h.version);
    field::kHeaderSize.store(b, h.header_size);
    field::kImageType.store(b, h.image_type);
    field::kImageFlags.store(b, h.image_flags);
    field::kOffsetBmap.store(b, h.offset_bmap);
    field::kOffsetData.store(b, h.offset_data);
    field::kSectorSize.store(b, h.sector_size);
    field::kDiskSize.store(b, h.disk_size);
    field::kBlockSize.store(b, h.block_size);
    field::kBlockExtra.store(b, h.block_extra);
    field::kBlocksInImage.store(b, h.blocks_in_image);
    field::kBlocksAllocated.store(b, h.blocks_allocated);
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
    return field::kSignature.load(buf) == kSignature ? 100 : 0;
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
