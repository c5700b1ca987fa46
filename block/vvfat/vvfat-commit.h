// Read-write vvfat: the link between the driver and the commit library (commit/). After
// every guest write it offers the disk as the guest now sees it (overlay over the generated
// disk) to the FatCommitter, as QEMU 7.2 tries a commit after every write; commit errors are
// printed and otherwise ignored, as QEMU ignores them.
//
// Once a commit changed the host, the layout built at open no longer says where file data
// is (files were renamed, moved, deleted, written): from then on the link maps each data
// cluster to the committed file that holds it (its path and place in the chain) and serves
// the clusters the overlay does not hold from those files. The overlay forgets the file
// sectors the host now holds, so memory does not grow with what the guest wrote; FAT and
// directory sectors stay in the overlay, since the guest's bytes there are the truth.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "block/block.h"
#include "block/vvfat/commit/fat-commit.h"
#include "util/osdep.h"

namespace qemu::block::vvfat {

struct VvfatState;

class CommitLink {
public:
    // Called once the disk is built and the overlay is empty.
    static Result<std::unique_ptr<CommitLink>> create(VvfatState& state);

    // After sectors [first_sector, first_sector + count) of the disk landed in the overlay.
    void after_write(BlockNode& node, VvfatState& state, uint32_t first_sector, uint32_t count);

    // Serves a disk sector the overlay does not hold when the committed state decides its
    // content; false when the generated disk still does.
    bool read_sector(VvfatState& state, uint32_t sector, std::span<uint8_t, 512> out);

    CommitLink(FatCommitter committer, const FatGeometry& geometry, uint32_t partition_start);

private:
    // Where the committed state puts a data cluster.
    static constexpr int32_t kFree = -1;
    static constexpr int32_t kDirectory = -2;
    struct File {
        std::string path;
        uint32_t size = 0;
    };

    void remap(VvfatState& state);
    void read_file(VvfatState& state, int32_t file, uint64_t offset, std::span<uint8_t, 512> out);

    FatCommitter m_committer;
    FatGeometry m_geometry;
    uint32_t m_partition_start;
    DirtySectors m_dirty;
    std::string m_last_warning;

    bool m_remapped = false;
    std::vector<int32_t> m_owner;  // per cluster: a file index, kFree or kDirectory
    std::vector<uint32_t> m_index;  // per cluster: its place in the owner's chain
    std::vector<File> m_files;
    int32_t m_open = -1;  // the file m_open_fd holds
    QemuFd m_open_fd;
};

}  // namespace qemu::block::vvfat
