// Creating VHD images the way qemu-img create -f vpc does: the file is created empty first
// (so it exists, empty, even when the options turn out to be bad), the size is rounded up to
// a CHS geometry unless force_size is on, then either a dynamic image (footer copy, dynamic
// header, an empty BAT, footer) or a fixed one (zeros, then the footer) is written.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>

#include "block/block-backend.h"
#include "block/drivers.h"
#include "block/vpc/vpc-geometry.h"
#include "block/vpc/vpc-state.h"
#include "util/qemu-option.h"

namespace qemu::block::vpc {

namespace {

constexpr uint32_t kDynamicBlockSize = 2 * 1024 * 1024;
constexpr int64_t kHeaderOffset = 512;
constexpr int64_t kTableOffset = 3 * 512;

struct VpcCreateSettings {
    DiskType type = DiskType::Dynamic;
    bool force_size = false;
};

Result<VpcCreateSettings> parse_settings(const BlockOptions& opts)
{
    VpcCreateSettings settings;
    if (auto it = opts.find("subformat"); it != opts.end()) {
        if (it->second == "fixed") {
            settings.type = DiskType::Fixed;
        } else if (it->second != "dynamic") {
            return make_error("Parameter 'subformat' does not accept value '" + it->second + "'");
        }
    }
    if (auto it = opts.find("force_size"); it != opts.end()) {
        settings.force_size = TRY(parse_option_bool("force_size", it->second));
    }
    return settings;
}

std::array<uint8_t, 16> random_uuid()
{
    std::random_device random;
    std::array<uint8_t, 16> uuid{};
    for (size_t i = 0; i < uuid.size(); i += 4) {
        uint32_t word = random();
        std::memcpy(uuid.data() + i, &word, 4);
    }
    // Version 4 (random), RFC 4122 variant.
    uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);
    uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);
    return uuid;
}

Footer make_footer(const VpcCreateSettings& settings, const RoundedSize& rounded, uint64_t size_bytes)
{
    Footer f;
    std::span<uint8_t> b = f.bytes;
    std::memcpy(b.data() + footer::kCookie, "conectix", 8);
    store_be32(b, footer::kFeatures, 2);
    store_be32(b, footer::kVersion, 0x00010000);
    store_be64(b, footer::kDataOffset, settings.type == DiskType::Dynamic ? kHeaderOffset : ~uint64_t{0});
    store_be32(b, footer::kTimestamp, static_cast<uint32_t>(std::time(nullptr) - kTimestampBase));
    std::memcpy(b.data() + footer::kCreatorApp, settings.force_size ? "qem2" : "qemu", 4);
    // Virtual PC 2007 on Windows 2000, which is what QEMU claims to be.
    store_be32(b, footer::kCreatorVersion, 0x00050003);
    std::memcpy(b.data() + footer::kCreatorOs, "Wi2k", 4);
    store_be64(b, footer::kOriginalSize, size_bytes);
    store_be64(b, footer::kCurrentSize, size_bytes);
    store_be16(b, footer::kCylinders, rounded.geometry.cylinders);
    b[footer::kHeads] = rounded.geometry.heads;
    b[footer::kSectorsPerTrack] = rounded.geometry.sectors_per_track;
    store_be32(b, footer::kDiskType, static_cast<uint32_t>(settings.type));
    auto uuid = random_uuid();
    std::memcpy(b.data() + footer::kUuid, uuid.data(), uuid.size());
    store_be32(b, footer::kChecksum, vhd_checksum(f.bytes));
    return f;
}

Result<void> write_dynamic(BlockNode& file, const Footer& f, int64_t total_sectors)
{
    uint64_t entries = (static_cast<uint64_t>(total_sectors) + kDynamicBlockSize / 512 - 1) / (kDynamicBlockSize / 512);
    uint64_t table_bytes = (entries * 4 + 511) & ~uint64_t{511};
    TRY_VOID(file.pwrite(0, f.bytes));
    TRY_VOID(file.pwrite(kTableOffset + static_cast<int64_t>(table_bytes), f.bytes));
    std::vector<uint8_t> table(512, 0xff);
    for (uint64_t at = 0; at < table_bytes; at += 512) {
        TRY_VOID(file.pwrite(kTableOffset + static_cast<int64_t>(at), table));
    }
    std::array<uint8_t, kDynHeaderSize> header{};
    std::memcpy(header.data() + dynheader::kCookie, "cxsparse", 8);
    // The specification says 0xFFFFFFFF here, but Microsoft's tools want all 64 bits set.
    store_be64(header, dynheader::kDataOffset, ~uint64_t{0});
    store_be64(header, dynheader::kTableOffset, kTableOffset);
    store_be32(header, dynheader::kVersion, 0x00010000);
    store_be32(header, dynheader::kMaxTableEntries, static_cast<uint32_t>(entries));
    store_be32(header, dynheader::kBlockSize, kDynamicBlockSize);
    store_be32(header, dynheader::kChecksum, vhd_checksum(header));
    return file.pwrite(kHeaderOffset, header);
}

Result<void> write_fixed(BlockNode& file, const Footer& f, int64_t size_bytes)
{
    TRY_VOID(file.truncate(size_bytes + static_cast<int64_t>(kFooterSize), Prealloc::Off));
    auto written = file.pwrite(size_bytes, f.bytes);
    if (!written) {
        return std::unexpected(std::move(written.error().prepend("Unable to write VHD header: ")));
    }
    return {};
}

Result<void> write_image(
    BlockNode& file, const VpcCreateSettings& settings, const RoundedSize& rounded, int64_t size_bytes)
{
    Footer f = make_footer(settings, rounded, static_cast<uint64_t>(size_bytes));
    if (settings.type == DiskType::Fixed) {
        return write_fixed(file, f, size_bytes);
    }
    auto written = write_dynamic(file, f, rounded.total_sectors);
    if (!written) {
        return std::unexpected(
            Error{ErrorClass::GenericError, "Unable to create or write VHD header", written.error().errno_value});
    }
    return {};
}

}  // namespace

Result<void> vpc_create(const OpenContext& context, const CreateOptions& options)
{
    // The protocol layer gets every option that is not ours, and an empty file.
    CreateOptions file_options{.filename = options.filename, .size = 0, .prealloc = options.prealloc};
    for (const auto& [key, value] : options.opts) {
        if (key != "subformat" && key != "force_size") {
            file_options.opts.emplace(key, value);
        }
    }
    TRY_VOID(kFileDriver.create(context, file_options));

    VpcCreateSettings settings = TRY(parse_settings(options.opts));
    BlockGraph graph(context);
    auto blk = TRY(BlockBackend::open(
        graph, options.filename, {{"driver", "file"}}, {.flags = {.read_write = true}, .resize = true}));
    BlockNode& file = blk->root();

    if (options.size > static_cast<uint64_t>(INT64_MAX) - kSectorSize) {
        return std::unexpected(Error{ErrorClass::GenericError, "Disk size is too large, max size is 2040 GiB", EFBIG});
    }
    // qemu-img rounds every size up to whole sectors, then up to a CHS geometry; the image
    // is then made from that size, whose geometry is computed afresh (as QEMU's two steps
    // do) and must give the same size back.
    auto size_bytes = static_cast<int64_t>((options.size + kSectorSize - 1) / kSectorSize * kSectorSize);
    if (!settings.force_size) {
        size_bytes = TRY(round_image_size(size_bytes, false)).total_sectors * kSectorSize;
    }
    RoundedSize rounded = TRY(round_image_size(size_bytes, settings.force_size));
    if (rounded.total_sectors * kSectorSize != size_bytes) {
        return make_error("The requested image size cannot be represented in CHS geometry");
    }
    return write_image(file, settings, rounded, size_bytes);
}

Result<void> create_on(BlockNode& file, uint64_t size, bool fixed, bool force_size)
{
    // blockdev-create takes the size as it is: no rounding, a size the geometry cannot
    // express is an error.
    VpcCreateSettings settings{.type = fixed ? DiskType::Fixed : DiskType::Dynamic, .force_size = force_size};
    if (size > static_cast<uint64_t>(INT64_MAX)) {
        return std::unexpected(Error{ErrorClass::GenericError, "Disk size is too large, max size is 2040 GiB", EFBIG});
    }
    auto size_bytes = static_cast<int64_t>(size);
    RoundedSize rounded = TRY(round_image_size(size_bytes, force_size));
    if (rounded.total_sectors * kSectorSize != size_bytes) {
        return make_error("The requested image size cannot be represented in CHS geometry");
    }
    return write_image(file, settings, rounded, size_bytes);
}

}  // namespace qemu::block::vpc
