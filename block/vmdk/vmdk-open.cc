// Opening a vmdk image: a sparse file with its descriptor inside (VMDK4 "KDMV", VMDK3
// "COWD"), or a descriptor file naming extents that are opened as children "extents.N"
// (through BlockGraph::open_child, so options can name or describe them). QEMU 7.2's
// checks and messages, in its order; every number from the file is bounded before it sizes
// a table or an offset.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "block/vmdk/vmdk-codec.h"
#include "block/vmdk/vmdk-descriptor.h"
#include "block/vmdk/vmdk-state.h"
#include "util/bswap.h"

namespace qemu::block::vmdk {

namespace {

constexpr uint32_t kFlagRgd = 1u << 1;
constexpr uint32_t kFlagZeroGrain = 1u << 2;
constexpr uint32_t kFlagMarker = 1u << 17;
constexpr uint16_t kCompressionDeflate = 1;
constexpr uint64_t kGdAtEnd = 0xffffffffffffffffull;
// The largest descriptor read (vmdk_read_desc), one byte short of 1 MiB.
constexpr int64_t kMaxDescBytes = (1 << 20) - 1;

struct OpenState {
    BlockNode& node;
    VmdkState& s;
    BlockOptions& options;
};

std::unexpected<Error> open_failed(BlockNode& node, int err)
{
    return make_errno_error(err, "Could not open '" + node.filename() + "'");
}

// vmdk_read_desc: the text (or header) at `offset`, at most 1 MiB - 1 bytes.
Result<std::string> read_desc(BlockNode& file, int64_t offset)
{
    auto length = file.length();
    if (!length) {
        return std::unexpected(std::move(length.error().prepend("Could not access file: ")));
    }
    if (*length < 4) {
        return make_error("File is too small, not a valid image");
    }
    int64_t size = std::min(*length, kMaxDescBytes);
    std::string buf(static_cast<size_t>(size), '\0');
    if (offset < 0 || static_cast<uint64_t>(offset) > kMaxFileOffset - static_cast<uint64_t>(size)) {
        return make_errno_error(EIO, "Could not read from file");
    }
    // The read's own errno, as QEMU reports it (an injected ENOSPC stays ENOSPC).
    if (auto read = file.pread(offset, std::span(reinterpret_cast<uint8_t*>(buf.data()), buf.size())); !read) {
        return make_errno_error(read.error().errno_or(EIO), "Could not read from file");
    }
    return buf;
}

Result<Extent*> add_extent(VmdkState& s, BlockNode& file, bool flat, int64_t sectors, uint64_t l1_offset,
    uint64_t l1_backup_offset, uint64_t l1_size, uint64_t l2_size, uint64_t cluster_sectors)
{
    if (cluster_sectors > kMaxClusterSectors) {
        return std::unexpected(Error{ErrorClass::GenericError, "Invalid granularity, image may be corrupt", EFBIG});
    }
    if (l1_size > kMaxL1Size) {
        return std::unexpected(Error{ErrorClass::GenericError, "L1 size too big", EFBIG});
    }
    if (!flat && l2_size * cluster_sectors == 0) {
        // QEMU would divide by zero on the first lookup; refuse as for a VMDK4 header.
        return make_error("L1 entry size is invalid");
    }
    int64_t begin = s.extents.empty() ? 0 : s.extents.back().end_sector;
    if (sectors < 0 || sectors > INT64_MAX / 512 - begin) {
        return make_errno_error(EFBIG, "Could not refresh total sector count");
    }
    int64_t length = TRY(file.length());
    int64_t nb_sectors = (length + 511) / 512;
    Extent e;
    e.file = &file;
    e.flat = flat;
    e.sectors = sectors;
    e.l1_table_offset = l1_offset;
    e.l1_backup_table_offset = l1_backup_offset;
    e.l1_size = l1_size;
    e.l1_entry_sectors = l2_size * cluster_sectors;
    e.l2_size = l2_size;
    e.cluster_sectors = flat ? static_cast<uint64_t>(sectors) : cluster_sectors;
    if (e.cluster_sectors == 0) {
        e.cluster_sectors = 1;  // an empty flat extent: never looked into
    }
    auto cs = static_cast<int64_t>(e.cluster_sectors);
    e.next_cluster_sector = (nb_sectors + cs - 1) / cs * cs;
    e.end_sector = begin + sectors;
    s.extents.push_back(std::move(e));
    s.total_sectors = s.extents.back().end_sector;
    return &s.extents.back();
}

Result<void> read_table(BlockNode& file, uint64_t offset, uint64_t entries, uint64_t entry_size,
    std::vector<uint64_t>& table, const char* what)
{
    uint64_t bytes = entries * entry_size;
    auto fail = [&](int err) {
        return make_errno_error(err, std::string("Could not read ") + what + " from extent '" + file.filename() + "'");
    };
    if (offset > kMaxFileOffset || bytes > kMaxFileOffset - offset) {
        return fail(EIO);
    }
    int64_t length = TRY(file.length());
    // Past the end of the file a table reads as zeros; only what lies inside is read, in
    // pieces of at most 1 MiB, so a header that claims a huge table costs the table, never
    // a second copy of it. If even the table cannot be had, the open fails with QEMU's
    // "Cannot allocate memory" (BlockGraph catches the bad_alloc for every driver).
    uint64_t inside = offset >= static_cast<uint64_t>(length) ? 0 : std::min(bytes, length - offset);
    table.assign(entries, 0);
    constexpr uint64_t kChunk = uint64_t{1} << 20;
    std::vector<uint8_t> raw(static_cast<size_t>(std::min(inside, kChunk)));
    for (uint64_t done = 0; done < inside;) {
        size_t now = static_cast<size_t>(std::min(inside - done, kChunk));
        auto read = file.pread(static_cast<int64_t>(offset + done), std::span<uint8_t>(raw.data(), now));
        if (!read) {
            return fail(read.error().errno_or(EIO));
        }
        for (uint64_t at = 0; at + entry_size <= now; at += entry_size) {
            table[(done + at) / entry_size] = entry_size == 8 ? load_le64(raw, at) : load_le32(raw, at);
        }
        done += now;
    }
    return {};
}

Result<void> init_tables(Extent& e)
{
    TRY_VOID(read_table(*e.file, e.l1_table_offset, e.l1_size, e.entry_size, e.l1_table, "l1 table"));
    if (e.l1_backup_table_offset) {
        TRY_VOID(read_table(
            *e.file, e.l1_backup_table_offset, e.l1_size, e.entry_size, e.l1_backup_table, "l1 backup table"));
    }
    return {};
}

Result<void> open_desc_file(OpenState& st, std::string_view buf, int depth);

Result<void> open_vmdk4(OpenState& st, BlockNode& file, int depth)
{
    std::array<uint8_t, 512> header{};
    if (auto read = file.pread(0, header); !read) {
        return make_errno_error(read.error().errno_or(EIO), "Could not read header from file '" + file.filename() + "'");
    }
    if (load_le64(header, 12) == 0) {
        uint64_t desc_offset = load_le64(header, 28);
        if (desc_offset) {
            if (depth > 0) {
                // QEMU follows a descriptor inside an extent without limit; one level is enough.
                return make_error("Nested VMDK descriptor in extent '" + file.filename() + "' is not supported");
            }
            if (desc_offset > kMaxFileOffset / 512) {
                return make_errno_error(EIO, "Could not read from file");
            }
            std::string text = TRY(read_desc(file, static_cast<int64_t>(desc_offset * 512)));
            return open_desc_file(st, text, depth + 1);
        }
    }
    if (st.s.create_type.empty()) {
        st.s.create_type = "monolithicSparse";
    }
    if (load_le64(header, 56) == kGdAtEnd) {
        int64_t length = TRY(file.length());
        int64_t end = (length + 511) / 512 * 512;
        // A file shorter than the footer gives the codec a short tail, which it refuses as
        // QEMU's read at a negative offset fails.
        std::vector<uint8_t> tail(static_cast<size_t>(std::min<int64_t>(end, 1536)));
        if (auto read = file.pread(end - static_cast<int64_t>(tail.size()), tail); !read) {
            return make_errno_error(read.error().errno_or(EIO), "Failed to read footer");
        }
        header = TRY(parse_stream_footer(tail));
    }
    uint32_t version = load_le32(header, 4);
    uint32_t flags = load_le32(header, 8);
    uint64_t capacity = load_le64(header, 12);
    uint64_t granularity = load_le64(header, 20);
    uint32_t gtes_per_gt = load_le32(header, 44);
    uint64_t rgd_offset = load_le64(header, 48);
    uint64_t gd_offset = load_le64(header, 56);
    uint64_t grain_offset = load_le64(header, 64);
    bool compressed = load_le16(header, 77) == kCompressionDeflate;

    if (version > 3) {
        return std::unexpected(
            Error{ErrorClass::GenericError, "Unsupported VMDK version " + std::to_string(version), ENOTSUP});
    }
    if (version == 3 && st.node.flags().read_write && !compressed) {
        return make_error("VMDK version 3 must be read only");
    }
    if (gtes_per_gt > 512) {
        return make_error("L2 table size too big");
    }
    // QEMU keeps both in 32 bits; wrapping the same way gives the same checks and sizes.
    auto l1_entry_sectors = static_cast<uint32_t>(uint64_t{gtes_per_gt} * granularity);
    if (l1_entry_sectors == 0) {
        return make_error("L1 entry size is invalid");
    }
    auto l1_size = static_cast<uint32_t>((capacity + l1_entry_sectors - 1) / l1_entry_sectors);
    uint64_t l1_backup_offset = 0;
    if (flags & kFlagRgd) {
        if (rgd_offset > kMaxFileOffset / 512) {
            return make_errno_error(EIO, "Could not read l1 backup table from extent '" + file.filename() + "'");
        }
        l1_backup_offset = rgd_offset * 512;
    }
    int64_t nb_sectors = (TRY(file.length()) + 511) / 512;
    if (static_cast<uint64_t>(nb_sectors) < grain_offset) {
        return make_error("File truncated, expecting at least " +
            std::to_string(static_cast<int64_t>(grain_offset * 512)) + " bytes");
    }
    if (capacity > static_cast<uint64_t>(INT64_MAX / 512)) {
        return make_errno_error(EFBIG, "Could not refresh total sector count");
    }
    if (gd_offset > kMaxFileOffset / 512) {
        return make_errno_error(EIO, "Could not read l1 table from extent '" + file.filename() + "'");
    }
    Extent* e = TRY(add_extent(st.s, file, false, static_cast<int64_t>(capacity), gd_offset * 512, l1_backup_offset,
        l1_size, gtes_per_gt, granularity));
    e->compressed = compressed;
    if (compressed) {
        st.s.create_type = "streamOptimized";
    }
    e->has_marker = (flags & kFlagMarker) != 0;
    e->version = version;
    e->has_zero_grain = (flags & kFlagZeroGrain) != 0;
    if (auto done = init_tables(*e); !done) {
        st.s.extents.pop_back();
        return done;
    }
    return {};
}

Result<void> open_vmfs_sparse(OpenState& st, BlockNode& file)
{
    std::array<uint8_t, 512> sector{};
    if (auto read = file.pread(0, sector); !read) {
        return make_errno_error(read.error().errno_or(EIO), "Could not read header from file '" + file.filename() + "'");
    }
    CowdHeader h = TRY(parse_cowd_header(sector));
    Extent* e = TRY(add_extent(st.s, file, false, h.disk_sectors, uint64_t{h.l1dir_offset} * 512, 0, h.l1dir_size,
        kCowdGtEntries, h.granularity));
    if (auto done = init_tables(*e); !done) {
        st.s.extents.pop_back();
        return done;
    }
    return {};
}

Result<void> open_se_sparse(OpenState& st, BlockNode& file)
{
    if (st.node.flags().read_write) {
        if (!st.node.flags().auto_read_only) {
            return make_error("No write support for seSparse images available");
        }
        st.node.mutable_flags().read_write = false;
    }
    std::array<uint8_t, 512> sector{};
    if (auto read = file.pread(0, sector); !read) {
        return make_errno_error(
            read.error().errno_or(EIO), "Could not read const header from file '" + file.filename() + "'");
    }
    SeSparseHeader h = TRY(parse_sesparse_const_header(sector));
    std::array<uint8_t, 512> volatile_sector{};
    if (h.volatile_header_offset > kMaxFileOffset / 512) {
        return make_errno_error(EIO, "Could not read volatile header from file '" + file.filename() + "'");
    }
    if (auto read = file.pread(static_cast<int64_t>(h.volatile_header_offset * 512), volatile_sector); !read) {
        return make_errno_error(
            read.error().errno_or(EIO), "Could not read volatile header from file '" + file.filename() + "'");
    }
    TRY_VOID(check_sesparse_volatile_header(volatile_sector));
    if (h.capacity > static_cast<uint64_t>(INT64_MAX / 512) || h.grain_dir_offset > kMaxFileOffset / 512 ||
        h.grain_dir_size > kMaxFileOffset / 512) {
        return make_errno_error(EFBIG);
    }
    Extent* e = TRY(add_extent(st.s, file, false, static_cast<int64_t>(h.capacity), h.grain_dir_offset * 512, 0,
        h.grain_dir_size * 512 / 8, h.grain_table_size * 512 / 8, h.grain_size));
    e->sesparse = true;
    e->sesparse_l2_tables_offset = h.grain_tables_offset;
    e->sesparse_clusters_offset = h.grains_offset;
    e->entry_size = 8;
    if (auto done = init_tables(*e); !done) {
        st.s.extents.pop_back();
        return done;
    }
    return {};
}

Result<void> open_sparse(OpenState& st, BlockNode& file, std::string_view buf, int depth)
{
    if (buf.starts_with("COWD")) {
        return open_vmfs_sparse(st, file);
    }
    if (buf.starts_with("KDMV")) {
        return open_vmdk4(st, file, depth);
    }
    return std::unexpected(Error{ErrorClass::GenericError, "Image not in VMDK format", EINVAL});
}

Result<void> open_extents(OpenState& st, std::string_view desc, int depth)
{
    auto lines = TRY(parse_extent_lines(desc));
    for (const ExtentLine& line : lines) {
        std::string path = line.filename.starts_with('/')
            ? line.filename
            : qemu_path_combine(st.node.file()->filename(), line.filename);
        std::string child_name = "extents." + std::to_string(st.s.extents.size());
        auto child = TRY(st.node.graph().open_child(st.options, child_name, path, st.node.flags(), false));
        BlockNode& file = *child;
        bool flat = line.type == "FLAT" || line.type == "VMFS";
        // Only a sparse extent holds metadata to write without a writer.
        st.node.add_child(child_name, std::move(child), flat ? child_role::kData : child_role::kImage);
        TRY_VOID(st.node.graph().refresh_perm(st.node));
        if (flat) {
            if (line.flat_offset > INT64_MAX / 512) {
                return make_errno_error(EFBIG);
            }
            Extent* e = TRY(add_extent(st.s, file, true, line.sectors, 0, 0, 0, 0, 0));
            e->flat_start_offset = line.flat_offset * 512;
        } else if (line.type == "SPARSE" || line.type == "VMFSSPARSE") {
            std::string buf = TRY(read_desc(file, 0));
            TRY_VOID(open_sparse(st, file, buf, depth));
        } else {
            TRY_VOID(open_se_sparse(st, file));
        }
        st.s.extents.back().type = line.type;
    }
    return {};
}

Result<void> open_desc_file(OpenState& st, std::string_view buf, int depth)
{
    std::string_view desc = c_string(buf);
    auto create_type = parse_description(desc, "createType", 127);
    if (!create_type) {
        return std::unexpected(Error{ErrorClass::GenericError, "invalid VMDK image descriptor", EINVAL});
    }
    static constexpr std::string_view kAccepted[] = {
        "monolithicFlat", "vmfs", "vmfsSparse", "seSparse", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"};
    if (std::ranges::find(kAccepted, *create_type) == std::end(kAccepted)) {
        return std::unexpected(
            Error{ErrorClass::GenericError, "Unsupported image type '" + *create_type + "'", ENOTSUP});
    }
    st.s.create_type = *create_type;
    st.s.desc_offset = 0;
    return open_extents(st, desc, depth);
}

Result<std::string> read_descriptor_area(BlockNode& file, int64_t desc_offset)
{
    std::string desc(kDescSize, '\0');
    TRY_VOID(file.pread(desc_offset, std::span(reinterpret_cast<uint8_t*>(desc.data()), desc.size())));
    desc.back() = '\0';
    return desc;
}

}  // namespace

Result<uint32_t> read_cid(BlockNode& file, int64_t desc_offset, bool parent)
{
    std::string desc = TRY(read_descriptor_area(file, desc_offset));
    auto cid = parse_cid(c_string(desc), parent);
    if (!cid) {
        return make_errno_error(EINVAL);
    }
    return *cid;
}

Result<void> vmdk_open(BlockNode& node, BlockOptions& options, const OpenContext&)
{
    BlockNode& file = *node.file();
    auto state = std::make_unique<VmdkState>();
    VmdkState& s = *state;
    OpenState st{node, s, options};
    std::string buf = TRY(read_desc(file, 0));
    if (buf.starts_with("KDMV") || buf.starts_with("COWD")) {
        TRY_VOID(open_sparse(st, file, buf, 0));
        s.desc_offset = 0x200;
    } else {
        // A descriptor file holds no guest data (the extents do).
        node.set_child_role("file", child_role::kMetadata | child_role::kPrimary);
        TRY_VOID(node.graph().refresh_perm(node));
        TRY_VOID(open_desc_file(st, buf, 0));
    }
    auto area = read_descriptor_area(file, s.desc_offset);
    if (!area) {
        return open_failed(node, area.error().errno_or(EIO));
    }
    auto hint = parse_parent_hint(c_string(*area));
    if (!hint) {
        return open_failed(node, EINVAL);
    }
    if (*hint) {
        node.set_backing_file(**hint, "vmdk");
    }
    auto cid = parse_cid(c_string(*area), false);
    auto parent_cid = parse_cid(c_string(*area), true);
    if (!cid || !parent_cid) {
        return open_failed(node, EINVAL);
    }
    s.cid = *cid;
    s.parent_cid = *parent_cid;
    // QEMU opens such a disk, then fails on its size.
    if (static_cast<uint64_t>(s.total_sectors) > kMaxFileOffset / 512) {
        return make_errno_error(EFBIG, "Could not refresh total sector count");
    }
    node.set_state(std::move(state));
    return {};
}

void vmdk_close(BlockNode&) { }

}  // namespace qemu::block::vmdk
