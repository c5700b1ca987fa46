// What an open vvfat node keeps, and the operations its driver table (vvfat.cc) is built
// from: reads and writes in vvfat-io.cc. The disk itself is vvfat-image's FatImage.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <optional>
#include <span>

#include "block/block.h"
#include "block/vvfat/vvfat-image.h"
#include "block/vvfat/vvfat-overlay.h"

namespace qemu::block::vvfat {

struct VvfatState : DriverState {
    std::unique_ptr<FatImage> image;
    // Read-write mode only: what the guest wrote, read back over the generated disk.
    std::optional<SectorOverlay> overlay;
};

Result<void> vvfat_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);
Result<void> vvfat_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags);

// The place where changes are to reach the host directory. QEMU's vvfat parses the FAT
// and directories after every write and, when they are consistent, commits new, changed,
// renamed and deleted files to the host. That committer is a separate library
// (block/vvfat/commit/, being written); until it is wired in here, this does NOTHING: the
// writes stay in the overlay and the host directory is never changed.
void vvfat_after_write(BlockNode& node, VvfatState& state, uint32_t first_sector, uint32_t sector_count);

}  // namespace qemu::block::vvfat
