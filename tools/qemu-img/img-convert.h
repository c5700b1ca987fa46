// qemu-img convert's copy engine, shared by the front end (img-convert.cc, options, sources
// and target) and the copy itself (img-convert-copy.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block/block.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"

namespace qemu::img {

struct ConvertSource {
    std::string name;
    OpenImage image;
    int64_t length = 0;
};

// The sources (copied one after the other), the opened target, and how to copy.
struct Converter {
    std::vector<ConvertSource> sources;
    OpenImage target;
    int64_t total = 0;
    int64_t min_sparse = 8 * block::kSectorSize;
    bool has_zero_init = false;
    int workers = 8;  // -m
    bool in_order = true;  // no -W
    // The target takes only whole compressed clusters of this size (0: any write).
    int64_t compressed_cluster = 0;
    // -B (or -o backing_file): the target has a backing file, so only the source's top
    // layer is copied; what the source leaves unallocated stays so in the target.
    bool target_has_backing = false;
    // The length of the target's new backing file, -1 when unknown (-n): past it, zeros
    // are left to read as zeros.
    int64_t target_backing_bytes = -1;
    // The last block status answer, [start, end) of one source: the pieces inside it reuse
    // it, as QEMU's convert does (sector_next_status), instead of asking once per piece.
    struct {
        size_t source = SIZE_MAX;
        int64_t start = 0;
        int64_t end = 0;
        block::BlockStatus status;
    } last_status;
};

// Copies the sources' concatenation into the target, holes as holes, and flushes it;
// reports a failure with QEMU's text and returns the exit status.
int convert_copy(Converter& conv, Progress& progress);

}  // namespace qemu::img
