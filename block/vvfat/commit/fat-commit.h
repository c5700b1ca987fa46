// The vvfat write-back library: given the guest's view of a FAT partition, it commits the
// guest's changes (new, changed, renamed, moved and deleted files and directories) to the
// host directory the disk presents, as QEMU 7.2's vvfat does after every guest write.
//
// It is decoupled from the driver: it sees the disk only through a SectorSource (the
// partition's sectors as the guest would read them now), the geometry the driver built the
// disk with, and the set of sectors the guest wrote since the last commit. It keeps the
// metadata of the last committed state (names, first clusters, chains, sizes), never file
// data. Every host change is made beneath the directory fd it was given, one name component
// at a time, without following a symlink; nothing outside that directory is ever touched,
// whatever the guest put into the FAT.
//
// How the driver uses it (one committer per rw vvfat node):
//
//   1. After building the disk, FatCommitter::create(geometry, dir_fd, view). The view
//      must be the disk as presented (no guest write yet).
//   2. After every guest write that landed (the driver has already refused boot-sector
//      writes and writes to read-only files, as QEMU does), add the written sectors to a
//      DirtySectors it keeps and call try_commit(view, dirty). The outcome:
//        - Committed: the host now holds the guest's state; clear `dirty`. The driver then
//          rebuilds its map from clusters to host files from committed_entries() and may
//          drop the file data of its overlay (QEMU empties its qcow overlay here). The FAT
//          and directory sectors must keep reading as the guest wrote them: QEMU copies the
//          guest's directory clusters into its own table at this point.
//        - NotConsistent: the guest is half-way through an update (QEMU silently waits for
//          the next write); keep `dirty`, nothing changed.
//        - an Error: a host operation failed (ENOSPC, a host file changed behind our back,
//          a write-protected file, which carries QEMU's "Tried to write to write-protected
//          file PATH", PATH relative to the directory). What was done before the failure is
//          recorded, so the next try_commit continues from there; keep `dirty`.
//      Call it after *every* write, as QEMU does, not in batches: a long update such as a
//      recursive delete only gets through by the commits at its intermediate consistent
//      states. A cluster the guest wrote that belongs to no file or directory does not make
//      a state inconsistent (QEMU's USED_ALLOCATED check waits for it to be used, forever
//      if the guest wrote into a directory it had just freed, so nothing after is ever
//      committed). The driver must keep such sectors readable after the commit: should a
//      later state link the cluster into a file, the committer reads the data from there.
//   3. Reads the committer makes of sectors that are *not* in `dirty` must come from the
//      host files as they were at the last commit: the committer makes all of those reads
//      before it changes anything on the host. Reads of dirty sectors must not depend on the
//      host (they are the overlay's).
//
// Where this differs from QEMU 7.2, each time because QEMU loses or misplaces the guest's
// change or could be steered outside the directory:
//   - empty files (first cluster 0) are created, renamed and deleted, and a file truncated
//     to 0 is truncated; QEMU ignores them (checked against Debian's QEMU 7.2: a new empty
//     8.3 entry creates nothing, a file truncated to 0 keeps its bytes);
//   - a file moved to another directory under the same name is moved (QEMU compares base
//     names only), and clusters appended to a file are written even if none of its
//     previous clusters was (QEMU writes out only from a cluster it had mapped);
//   - long names are decoded as UTF-16 to UTF-8, so names the driver made from UTF-8 host
//     names come back unchanged (QEMU keeps the low byte of each unit, refuses the rest);
//   - names with '/', '\', control characters, "." or "..", over 255 bytes or 20 entries,
//     garbage after a long name's terminator, and the same name twice in a directory are
//     not consistent (QEMU takes most of them, '/' included);
//   - a free cluster the guest wrote does not hold back a commit (see 2. above);
//   - a new file or directory never replaces a host entry the guest could not see (the
//     commit fails with EEXIST); QEMU opens with O_CREAT and writes through it.
//
// For QEMU's hard-disk geometry the partition starts at disk sector 63 (subtract it from the
// disk's sector numbers); reserved_sectors = 1, fat_count = 2, root_dir_sectors = 32 (512
// entries) and first_data_sector = 1 + 2 * sectors_per_fat + 32.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "block/vvfat/commit/dirty-sectors.h"
#include "util/error.h"

namespace qemu::block::vvfat {

constexpr uint32_t kSectorSize = 512;

// The layout of the FAT partition as the driver built it. Sector numbers count from the
// partition's boot sector. The committer never reads the guest's BPB: QEMU refuses writes
// to the boot sector, and a guest-written BPB must not steer where the committer reads.
struct FatGeometry {
    uint32_t fat_type = 16;  // 12, 16 or 32
    uint32_t sectors_per_cluster = 0;  // a power of two, 1..128
    uint32_t reserved_sectors = 0;  // sectors before the first FAT (boot sector included)
    uint32_t fat_count = 0;  // FAT copies; only the first is read, as QEMU does
    uint32_t sectors_per_fat = 0;
    // The fixed root directory right after the FATs (FAT12/16, and QEMU's FAT32 too). 0 only
    // for a FAT32 whose root is a cluster chain starting at root_cluster.
    uint32_t root_dir_sectors = 0;
    uint32_t root_cluster = 0;
    uint32_t first_data_sector = 0;  // the sector of cluster 2
    uint32_t total_sectors = 0;  // of the partition
};

// The guest's view of the partition, supplied by the driver.
class SectorSource {
public:
    virtual ~SectorSource() = default;
    // Fills out (count * 512 bytes) with sectors [sector, sector + count) of the partition.
    virtual Result<void> read_sectors(uint32_t sector, uint32_t count, std::span<uint8_t> out) const = 0;
};

// What try_commit did. `reason` says, for a developer, why a state was not committed
// (QEMU only prints such things in debug builds).
struct CommitOutcome {
    enum class Kind { Committed, NotConsistent };
    Kind kind = Kind::Committed;
    std::string reason;
    // Host operations performed by a Committed outcome (0 when the state had no change).
    uint32_t host_changes = 0;

    bool committed() const { return kind == Kind::Committed; }
};

// One file or directory of the committed state, for the driver's cluster map.
struct CommittedEntry {
    std::string path;  // relative to the directory, components joined by '/'
    bool is_directory = false;
    uint32_t first_cluster = 0;  // 0 for an empty file
    uint32_t size = 0;  // 0 for directories
    std::vector<uint32_t> chain;  // its clusters in order (what the host file holds, for files)
};

class FatCommitter {
public:
    // Parses `baseline` (the disk as presented, before any guest write) with `geometry`.
    // dir_fd is borrowed for the call: the committer keeps its own duplicate. Fails if the
    // geometry is impossible, if dir_fd is not a directory, or if the baseline itself is not
    // a consistent filesystem (a driver bug).
    static Result<FatCommitter> create(const FatGeometry& geometry, int dir_fd, const SectorSource& baseline);

    FatCommitter(FatCommitter&&) noexcept;
    FatCommitter& operator=(FatCommitter&&) noexcept;
    ~FatCommitter();

    // Commits `current` if it is a consistent filesystem; `dirty` holds the sectors the guest
    // wrote since the last Committed outcome. Order of host changes, as in QEMU: renames,
    // moves and new directories first, then file data (new and changed files), deletions
    // last, so no step removes data a later step needs. Host files and directories that are
    // not regular files or directories (symlinks, devices) are never opened or followed.
    Result<CommitOutcome> try_commit(const SectorSource& current, const DirtySectors& dirty);

    // The committed state, parents before children.
    std::vector<CommittedEntry> committed_entries() const;

private:
    struct State;
    explicit FatCommitter(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
};

}  // namespace qemu::block::vvfat
