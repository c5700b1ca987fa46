// The `vpc` format driver (VHD images of Virtual PC, Hyper-V and friends): its table entry.
// The pieces live beside it: on-disk structures (vpc-format), CHS geometry (vpc-geometry),
// opening (vpc-open), guest I/O through the allocation table (vpc-table), create
// (vpc-create).
#include <cstring>

#include "block/drivers.h"
#include "block/vpc/vpc-state.h"

namespace qemu::block {

namespace {

int vpc_probe(std::span<const uint8_t> buf, std::string_view)
{
    // Only images with a footer copy at the start are recognised: a fixed VHD (footer at
    // the end only) probes as raw and needs -f vpc.
    if (buf.size() >= 8 && std::memcmp(buf.data(), "conectix", 8) == 0) {
        return 100;
    }
    return 0;
}

Result<int64_t> vpc_get_length(BlockNode& node)
{
    return node.state<vpc::VpcState>().total_sectors * kSectorSize;
}

Result<DriverInfo> vpc_get_info(BlockNode& node)
{
    auto& s = node.state<vpc::VpcState>();
    DriverInfo info;
    // Every disk but a fixed one reports its block size (0 if it has no dynamic header).
    if (!s.is_fixed()) {
        info.cluster_size = s.block_size;
    }
    return info;
}

constexpr CreateOptionDesc kVpcCreateOptions[] = {
    {"size", CreateOptType::Size, "Virtual disk size"},
    {"subformat", CreateOptType::String,
        "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} "},
    {"force_size", CreateOptType::Bool,
        "Force disk size calculation to use the actual size specified, rather than using the nearest CHS-based "
        "calculation"},
};

// How the size is computed changes what the guest sees, so it is part of the image's name.
constexpr std::string_view kVpcStrongOpts[] = {"force_size_calc"};

}  // namespace

const BlockDriver kVpcDriver = {
    .format_name = "vpc",
    .strong_runtime_opts = kVpcStrongOpts,
    // Reads only look up the BAT; writes change it, the bitmaps and the footer's place.
    .concurrency = Concurrency::SharedReads,
    .probe = vpc_probe,
    .open = vpc::vpc_open,
    .preadv = vpc::vpc_preadv,
    .pwritev = vpc::vpc_pwritev,
    .aio_preadv = vpc::vpc_aio_preadv,
    .aio_pwritev = vpc::vpc_aio_pwritev,
    .block_status = vpc::vpc_block_status,
    .get_length = vpc_get_length,
    .get_info = vpc_get_info,
    .create = vpc::vpc_create,
    .create_opts = kVpcCreateOptions,
};

}  // namespace qemu::block
