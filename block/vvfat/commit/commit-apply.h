// Carrying out a CommitPlan on the host directory, in an order that loses nothing:
//   0. read every clean cluster that must be copied (its bytes come from host files the
//      later steps change) and refuse, before any change, data changes to host files that
//      are write-protected or not regular files (QEMU's "Tried to write to write-protected
//      file");
//   1. park every moved node under a temporary name in its own directory, so swaps and
//      chains of renames cannot collide;
//   2. walking the current tree from the root: create new directories and empty new files,
//      and move parked nodes to their final place (a node about to be deleted that sits in
//      the way is parked first);
//   3. write changed file data and set sizes;
//   4. delete what the guest deleted, deepest first; a directory the host still has
//      entries in (things the guest never saw) stays, as in QEMU.
// Each step that succeeds is recorded in the HostTree at once.
#pragma once

#include <cstdint>

#include "block/vvfat/commit/commit-plan.h"

namespace qemu::block::vvfat {

struct ApplyInputs {
    const FatGeometry& geometry;
    int root_fd;  // the committer's directory; borrowed for the call
    const SectorSource& source;
    const DirtySectors& dirty;
};

// Returns how many host operations were made.
Result<uint32_t> apply_commit(HostTree& host, const FsTree& current, const CommitPlan& plan, const ApplyInputs& in);

}  // namespace qemu::block::vvfat
