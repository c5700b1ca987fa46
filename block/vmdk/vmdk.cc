// The `vmdk` format driver (VMware virtual disks): its probe and table entry. The pieces
// live beside it: the descriptor text (vmdk-descriptor), opening and extents (vmdk-open),
// grain tables (vmdk-table), guest I/O (vmdk-io), create (vmdk-create), info and check
// (vmdk-info); the byte-level codecs (vmdk-codec) are shared with the fuzz target.
#include <cstring>

#include "block/drivers.h"
#include "block/vmdk/vmdk-state.h"

namespace qemu::block {

namespace {

bool version_line_at(std::span<const uint8_t> buf, size_t p)
{
    for (std::string_view line : {"version=1\n", "version=2\n", "version=3\n", "version=1\r\n", "version=2\r\n",
             "version=3\r\n"}) {
        if (buf.size() - p >= line.size() && std::memcmp(buf.data() + p, line.data(), line.size()) == 0) {
            return true;
        }
    }
    return false;
}

// vmdk_probe: the sparse magics, or a text descriptor whose first line that is neither a
// comment nor made of spaces is "version=N".
int vmdk_probe(std::span<const uint8_t> buf, std::string_view)
{
    if (buf.size() < 4) {
        return 0;
    }
    if (std::memcmp(buf.data(), "KDMV", 4) == 0 || std::memcmp(buf.data(), "COWD", 4) == 0) {
        return 100;
    }
    size_t p = 0;
    size_t end = buf.size();
    while (p < end) {
        if (buf[p] == '#') {
            while (p < end && buf[p] != '\n') {
                ++p;
            }
            ++p;
            continue;
        }
        if (buf[p] == ' ') {
            while (p < end && buf[p] == ' ') {
                ++p;
            }
            if (p < end && buf[p] == '\r') {
                ++p;
            }
            if (p == end || buf[p] != '\n') {
                return 0;
            }
            ++p;
            continue;
        }
        return version_line_at(buf, p) ? 100 : 0;
    }
    return 0;
}

constexpr CreateOptionDesc kVmdkCreateOptions[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
    {"adapter_type", CreateOptType::String,
        "Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX"},
    {"backing_file", CreateOptType::String, "File name of a base image"},
    {"backing_fmt", CreateOptType::String, "Must be 'vmdk' if present"},
    {"compat6", CreateOptType::Bool, "VMDK version 6 image", "off"},
    {"hwversion", CreateOptType::String, "VMDK hardware version", "undefined"},
    {"toolsversion", CreateOptType::String, "VMware guest tools version"},
    {"subformat", CreateOptType::String,
        "VMDK flat extent format, can be one of {monolithicSparse (default) | monolithicFlat | "
        "twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized} "},
    {"zeroed_grain", CreateOptType::Bool, "Enable efficient zero writes using the zeroed-grain GTE feature"},
};

}  // namespace

const BlockDriver kVmdkDriver = {
    .format_name = "vmdk",
    .supports_backing = true,
    .supports_compressed_writes = true,
    // Reads run together (convert's workers inflate stream grains on both cores); the grain
    // tables they load are guarded by each extent's table_lock. Writes run alone.
    .concurrency = Concurrency::SharedReads,
    .probe = vmdk_probe,
    .open = vmdk::vmdk_open,
    .close = vmdk::vmdk_close,
    .preadv = vmdk::vmdk_preadv,
    .pwritev = vmdk::vmdk_pwritev,
    .prepare_write = vmdk::vmdk_prepare_write,
    .flush = vmdk::vmdk_flush,
    .aio_preadv = vmdk::vmdk_aio_preadv,
    .aio_pwritev = vmdk::vmdk_aio_pwritev,
    .write_zeroes = vmdk::vmdk_write_zeroes,
    .block_status = vmdk::vmdk_block_status,
    .get_length = [](BlockNode& node) -> Result<int64_t> {
        return node.state<vmdk::VmdkState>().total_sectors * kSectorSize;
    },
    .get_info = vmdk::vmdk_get_info,
    .get_specific_info = vmdk::vmdk_get_specific_info,
    .get_allocated_file_size = vmdk::vmdk_get_allocated_file_size,
    .create = vmdk::vmdk_create,
    .create_opts = kVmdkCreateOptions,
    .check = vmdk::vmdk_check,
    // An extent in the node's own file (monolithic images) follows a new `file`.
    .child_replaced =
        [](BlockNode& node, BlockNode& old, BlockNode& now) {
            for (vmdk::Extent& extent : node.state<vmdk::VmdkState>().extents) {
                if (extent.file == &old) {
                    extent.file = &now;
                }
            }
        },
};

}  // namespace qemu::block
