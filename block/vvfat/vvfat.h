// What an open vvfat node keeps, and the operations its driver table (vvfat.cc) is built
// from: reads and writes in vvfat-io.cc. The disk itself is vvfat-image's FatImage.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <optional>
#include <span>

#include "block/block.h"
#include "block/vvfat/vvfat-commit.h"
#include "block/vvfat/vvfat-image.h"
#include "block/vvfat/vvfat-overlay.h"

namespace qemu::block::vvfat {

struct VvfatState : DriverState {
    std::unique_ptr<FatImage> image;
    // Read-write mode only: what the guest wrote, read back over the generated disk.
    std::optional<SectorOverlay> overlay;
    // Read-write mode only: writes the guest's changes back to the host directory.
    std::unique_ptr<CommitLink> commit;
};

// One sector of the disk as the guest sees it: the overlay, else the committed host files,
// else the disk generated at open.
void read_disk_sector(VvfatState& state, uint32_t sector, std::span<uint8_t, 512> out);

Result<void> vvfat_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
Result<void> vvfat_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);

}  // namespace qemu::block::vvfat
