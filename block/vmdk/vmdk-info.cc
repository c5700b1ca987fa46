// What qemu-img info and check learn from a vmdk image: the cluster size when all extents
// agree, the format-specific block (CIDs, create type, one ImageInfo per extent), the host
// bytes of every extent file, and QEMU's check that allocated grains lie inside their file.
#include <cerrno>
#include <cstdio>

#include "block/vmdk/vmdk-state.h"

namespace qemu::block::vmdk {

Result<DriverInfo> vmdk_get_info(BlockNode& node)
{
    auto& s = node.state<VmdkState>();
    if (s.extents.empty()) {
        return make_errno_error(ENOTSUP);
    }
    const Extent& first = s.extents.front();
    for (const Extent& e : s.extents) {
        bool same = e.flat == first.flat && e.compressed == first.compressed &&
            (e.flat || e.cluster_sectors == first.cluster_sectors);
        if (!same) {
            return make_errno_error(ENOTSUP);
        }
    }
    DriverInfo info;
    info.needs_compressed_writes = first.compressed;
    if (!first.flat) {
        info.cluster_size = first.cluster_bytes();
    }
    return info;
}

Result<std::optional<JsonValue>> vmdk_get_specific_info(BlockNode& node)
{
    auto& s = node.state<VmdkState>();
    JsonValue extents = JsonValue::array();
    for (const Extent& e : s.extents) {
        // ImageInfo's members in QAPI order.
        JsonValue info = JsonValue::object();
        info["filename"] = e.file->filename();
        info["format"] = e.type;
        info["virtual-size"] = e.sectors * 512;
        if (!e.flat) {
            info["cluster-size"] = e.cluster_bytes();
        }
        if (e.compressed) {
            info["compressed"] = true;
        }
        extents.push_back(std::move(info));
    }
    JsonValue data = JsonValue::object();
    data["create-type"] = s.create_type;
    data["cid"] = s.cid;
    data["parent-cid"] = s.parent_cid;
    data["extents"] = std::move(extents);
    JsonValue spec = JsonValue::object();
    spec["type"] = "vmdk";
    spec["data"] = std::move(data);
    return std::optional<JsonValue>(std::move(spec));
}

Result<int64_t> vmdk_get_allocated_file_size(BlockNode& node)
{
    auto& s = node.state<VmdkState>();
    int64_t total = TRY(node.file()->allocated_file_size());
    for (const Extent& e : s.extents) {
        if (e.file != node.file()) {
            total += TRY(e.file->allocated_file_size());
        }
    }
    return total;
}

Result<CheckResult> vmdk_check(BlockNode& node, bool fix)
{
    if (fix) {
        return make_errno_error(ENOTSUP);
    }
    auto& s = node.state<VmdkState>();
    CheckResult result;
    int64_t total_sectors = s.total_sectors;
    int64_t sector = 0;
    // QEMU prints each problem to stderr as it finds it, and stops at the first.
    auto fail = [&](const std::string& line, int err) -> Result<CheckResult> {
        std::fprintf(stderr, "%s\n", line.c_str());
        return make_errno_error(err);
    };
    while (sector < total_sectors) {
        Extent* e = find_extent(s, sector);
        if (!e) {
            return fail("ERROR: could not find extent for sector " + std::to_string(sector), EINVAL);
        }
        GrainRef ref = TRY(lookup_grain(*e, sector * 512));
        if (ref.result == Lookup::Error) {
            // QEMU returns its VMDK_ERROR (-1) here, which reads as EPERM.
            return fail("ERROR: could not get cluster_offset for sector " + std::to_string(sector), EPERM);
        }
        if (ref.result == Lookup::Ok) {
            auto length = e->file->length();
            if (!length) {
                return fail("ERROR: could not get extent file length for sector " + std::to_string(sector),
                    length.error().errno_or(EIO));
            }
            if (ref.cluster_offset >= static_cast<uint64_t>(*length)) {
                return fail("ERROR: cluster offset for sector " + std::to_string(sector) + " points after EOF", EINVAL);
            }
        }
        if (!e->flat && ref.result == Lookup::Unallocated && ref.l2_offset == 0 &&
            e->offset_in_cluster(sector * 512) == 0) {
            // A whole grain table is absent: skip to the end of what it would cover, in
            // steps of whole grains as QEMU walks.
            int64_t rel = sector - e->begin_sector();
            int64_t table_end = (rel / static_cast<int64_t>(e->l1_entry_sectors) + 1) *
                static_cast<int64_t>(e->l1_entry_sectors);
            int64_t steps = (table_end - rel + static_cast<int64_t>(e->cluster_sectors) - 1) /
                static_cast<int64_t>(e->cluster_sectors);
            sector += std::max<int64_t>(steps, 1) * static_cast<int64_t>(e->cluster_sectors);
            continue;
        }
        sector += static_cast<int64_t>(e->cluster_sectors);
    }
    return result;
}

}  // namespace qemu::block::vmdk
