// Opening a VHD: find the footer (at offset 0 for dynamic images, at the end of the file for
// fixed ones), check it, decide the virtual size, and for dynamic images read the dynamic
// header and the block allocation table, with QEMU's checks and messages in QEMU's order.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>

#include "block/vpc/vpc-geometry.h"
#include "block/vpc/vpc-state.h"
#include "util/alloc.h"

namespace qemu::block::vpc {

namespace {

// BDRV_MAX_LENGTH: no request may reach past this file offset.
constexpr int64_t kMaxFileOffset = INT64_MAX & ~((int64_t{1} << 30) - 1);

bool request_in_range(uint64_t offset, uint64_t bytes)
{
    return offset <= static_cast<uint64_t>(kMaxFileOffset) && bytes <= static_cast<uint64_t>(kMaxFileOffset) - offset;
}

Result<SizeCalc> parse_size_calc(BlockOptions& options)
{
    auto text = take_string(options, "force_size_calc");
    if (!text) {
        return SizeCalc::Auto;
    }
    if (*text == "current_size") {
        return SizeCalc::CurrentSize;
    }
    if (*text == "chs") {
        return SizeCalc::Chs;
    }
    return make_error("Invalid size calculation mode: '" + *text + "'");
}

// Returns whether the footer was found at the end of the file, which alone makes the image
// one without a dynamic header (whatever type a footer at offset 0 claims).
Result<bool> read_footer(BlockNode& file, VpcState& s)
{
    if (!file.pread(0, s.footer.bytes)) {
        return make_error("Unable to read VHD header");
    }
    if (s.footer.has_cookie()) {
        return false;
    }
    // No footer copy at the start: only a fixed image, footer at the end, is acceptable.
    auto length = file.length();
    if (!length) {
        return std::unexpected(std::move(length.error().prepend("Invalid file size: ")));
    }
    if (*length < static_cast<int64_t>(kFooterSize)) {
        return make_error("File too small for a VHD header");
    }
    TRY_VOID(file.pread(*length - static_cast<int64_t>(kFooterSize), s.footer.bytes));
    if (!s.footer.has_cookie() || s.footer.disk_type() != static_cast<uint32_t>(DiskType::Fixed)) {
        return make_error("invalid VPC image");
    }
    return true;
}

Result<void> read_dynamic_header(BlockNode& file, VpcState& s)
{
    std::array<uint8_t, kDynHeaderSize> header{};
    uint64_t header_offset = s.footer.data_offset();
    if (!request_in_range(header_offset, header.size()) || !file.pread(static_cast<int64_t>(header_offset), header)) {
        return make_error("Error reading dynamic VHD header");
    }
    if (std::memcmp(header.data() + dynheader::kCookie, "cxsparse", 8) != 0) {
        return make_error("Invalid header magic");
    }
    s.block_size = load_be32(header, dynheader::kBlockSize);
    if (!std::has_single_bit(s.block_size) || s.block_size < kSectorSize) {
        return make_error("Invalid block size " + std::to_string(s.block_size));
    }
    // One bit per sector, in whole sectors (so none at all for blocks under 4 KiB).
    s.bitmap_size = (s.block_size / (8 * 512) + 511) & ~511u;
    s.max_table_entries = load_be32(header, dynheader::kMaxTableEntries);
    if (static_cast<uint64_t>(s.total_sectors * kSectorSize) / s.block_size > 0xffffffffu) {
        return make_error("Too many blocks");
    }
    if (uint64_t{s.max_table_entries} * s.block_size < static_cast<uint64_t>(s.total_sectors * kSectorSize)) {
        return make_error("Page table too small");
    }
    if (s.max_table_entries > INT_MAX / 4) {
        return make_error(
            "Max Table Entries too large (" + std::to_string(static_cast<int32_t>(s.max_table_entries)) + ")");
    }
    s.bat_offset = load_be64(header, dynheader::kTableOffset);
    return {};
}

Result<void> read_table(BlockNode& file, VpcState& s)
{
    uint64_t table_bytes = uint64_t{s.max_table_entries} * 4;
    if (!request_in_range(s.bat_offset, table_bytes)) {
        return make_error("Error reading pagetable");
    }
    int64_t file_size = TRY(file.length());
    auto past_eof = [&] {
        return make_error(
            "block-vpc: free_data_block_offset points after the end of file. The image has been truncated.");
    };
    // Blocks only ever lie after the table, so a table reaching past the end of the file is
    // already the "truncated" error; checking first avoids reading gigabytes of zeros.
    s.free_data_block_offset = static_cast<int64_t>((s.bat_offset + table_bytes + 511) & ~uint64_t{511});
    if (s.free_data_block_offset > file_size) {
        return past_eof();
    }
    // The table is read straight into its own storage and converted in place, one copy as
    // in QEMU, whose words these are when that copy cannot be had.
    if (!try_resize(s.bat, s.max_table_entries)) {
        return std::unexpected(Error{ErrorClass::GenericError, "Unable to allocate memory for page table", ENOMEM});
    }
    std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(s.bat.data()), table_bytes);
    if (!file.pread(static_cast<int64_t>(s.bat_offset), raw)) {
        return make_error("Error reading pagetable");
    }
    for (uint32_t i = 0; i < s.max_table_entries; ++i) {
        s.bat[i] = load_be32(raw, size_t{i} * 4);
        if (s.bat[i] != kUnallocated) {
            int64_t block_end = 512 * int64_t{s.bat[i]} + s.bitmap_size + s.block_size;
            s.free_data_block_offset = std::max(s.free_data_block_offset, block_end);
        }
    }
    if (s.free_data_block_offset > file_size) {
        return past_eof();
    }
    return {};
}

}  // namespace

Result<void> vpc_open(BlockNode& node, BlockOptions& options, const OpenContext&)
{
    SizeCalc calc = TRY(parse_size_calc(options));
    BlockNode& file = *node.file();
    auto s = std::make_unique<VpcState>();
    bool footer_at_end = TRY(read_footer(file, *s));
    if (!s->footer.checksum_ok()) {
        return make_error("Incorrect header checksum");
    }
    s->total_sectors = footer_total_sectors(s->footer, calc);
    if (s->total_sectors > kMaxSectors) {
        // QEMU fails here without a message of its own, so the generic one shows.
        return make_errno_error(EFBIG, "Could not open '" + node.filename() + "'");
    }
    if (!footer_at_end) {
        TRY_VOID(read_dynamic_header(file, *s));
        TRY_VOID(read_table(file, *s));
    }
    node.set_state(std::move(s));
    return {};
}

}  // namespace qemu::block::vpc
