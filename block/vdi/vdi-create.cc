// Creating a vdi image as QEMU does: the file is created through the file protocol (which
// takes the protocol options: preallocation, nocow, extent_size_hint) empty, then gets a
// header and a block map. A dynamic image is just those; a static one maps block i to data
// block i and is extended (sparsely) to hold every block.
#include <algorithm>

#include "block/drivers.h"
#include "block/vdi/vdi.h"
#include "util/bswap.h"
#include "util/qemu-option.h"

namespace qemu::block::vdi {

namespace {

Header new_header(uint64_t disk_size, bool is_static)
{
    Header h;
    std::copy(kBanner.begin(), kBanner.end(), h.raw.begin());
    uint32_t blocks = static_cast<uint32_t>((disk_size + kBlockSize - 1) / kBlockSize);
    uint32_t map_bytes = (blocks * 4 + kSectorSize - 1) / kSectorSize * kSectorSize;
    h.signature = kSignature;
    h.version = kVersion11;
    h.header_size = 0x180;
    h.image_type = is_static ? kTypeStatic : kTypeDynamic;
    h.offset_bmap = kHeaderBytes;
    h.offset_data = kHeaderBytes + map_bytes;
    h.sector_size = kSectorSize;
    h.disk_size = disk_size;
    h.block_size = kBlockSize;
    h.blocks_in_image = blocks;
    h.blocks_allocated = is_static ? blocks : 0;
    h.uuid_image = random_uuid();
    h.uuid_last_snap = random_uuid();
    return h;
}

}  // namespace

Result<void> create(const OpenContext& context, const CreateOptions& options)
{
    BlockOptions rest = options.opts;
    bool is_static = false;
    if (auto value = take_string(rest, "static")) {
        is_static = TRY(parse_option_bool("static", *value));
    }
    uint64_t size = options.size;
    if (size > static_cast<uint64_t>(INT64_MAX) - (kSectorSize - 1)) {
        size = static_cast<uint64_t>(INT64_MAX);
    }
    size = (size + kSectorSize - 1) / kSectorSize * kSectorSize;

    // The file comes first, empty, with what is left of the options: QEMU creates it before
    // looking at the size, so a refused size still leaves an empty file behind.
    CreateOptions file_options{.filename = options.filename, .size = 0, .prealloc = options.prealloc, .opts = rest};
    TRY_VOID(kFileDriver.create(context, file_options));

    if (size > kMaxDiskSize) {
        return size_unsupported(size);
    }

    BlockGraph graph(context);
    auto file = TRY(graph.open(options.filename, {{"driver", "file"}}, OpenFlags{.read_write = true}));
    return write_image(*file, size, is_static);
}

Result<void> write_image(BlockNode& file, uint64_t size, bool is_static)
{
    Header header = new_header(size, is_static);
    auto header_bytes = serialize_header(header);
    TRY_VOID(file.pwrite(0, header_bytes));

    uint64_t map_bytes = header.offset_data - header.offset_bmap;
    if (map_bytes > 0) {
        std::vector<uint8_t> map(map_bytes);
        for (uint32_t i = 0; i < header.blocks_in_image; ++i) {
            store_le32(map, size_t{i} * 4, is_static ? i : kUnallocated);
        }
        TRY_VOID(file.pwrite(header.offset_bmap, map));
    }
    if (is_static) {
        int64_t end = int64_t{header.offset_data} + int64_t{header.blocks_in_image} * kBlockSize;
        auto grown = file.truncate(end, Prealloc::Off);
        if (!grown) {
            return std::unexpected(std::move(grown.error().prepend("Failed to statically allocate file")));
        }
    }
    return {};
}

}  // namespace qemu::block::vdi
