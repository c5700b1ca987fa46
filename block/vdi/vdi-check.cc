// qemu-img check for vdi: only the block map's consistency. Every mapped entry must point
// inside the image's block count, no two entries may share a data block, and the number
// of mapped entries must match the header's count. Repairs are not offered.
// Findings go to stderr as they are found, as QEMU prints them.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "block/vdi/vdi.h"
#include "util/alloc.h"

namespace qemu::block::vdi {

namespace {

// The findings, written to stderr in pieces of 64 KiB: a hostile map can hold hundreds of
// millions of them, which one unbuffered write each would make take minutes, and which
// kept in memory would take gigabytes.
class Findings {
public:
    ~Findings() { flush(); }

    template <typename... Args> void add(const char* fmt, Args... args)
    {
        char line[128];
        int n = std::snprintf(line, sizeof(line), fmt, args...);
        m_buf.append(line, static_cast<size_t>(std::clamp(n, 0, static_cast<int>(sizeof(line) - 1))));
        m_buf += '\n';
        if (m_buf.size() >= kFlushBytes) {
            flush();
        }
    }

    void flush()
    {
        if (!m_buf.empty()) {
            std::fwrite(m_buf.data(), 1, m_buf.size(), stderr);
            m_buf.clear();
        }
    }

private:
    static constexpr size_t kFlushBytes = 64 * 1024;
    std::string m_buf;
};

}  // namespace

Result<CheckResult> check(BlockNode& node, bool fix)
{
    if (fix) {
        return make_errno_error(ENOTSUP);
    }
    VdiState& s = node.state<VdiState>();
    const uint32_t blocks = s.header.blocks_in_image;
    CheckResult result;
    // One bit per data block, set once some entry has claimed it: a header may claim half
    // a billion blocks, so this stays a bitmap. Problems go to stderr as they are found,
    // as QEMU prints them, rather than piling up in memory.
    auto claimed = TRY(try_make_vector<uint64_t>((uint64_t{blocks} + 63) / 64));
    uint32_t mapped = 0;
    Findings findings;
    for (uint32_t block = 0; block < blocks; ++block) {
        uint32_t entry = s.bmap[block];
        if (!is_allocated(entry)) {
            continue;
        }
        if (entry >= blocks) {
            findings.add("ERROR: block index %" PRIu32 " too large, is %" PRIu32, block, entry);
            result.corruptions++;
            continue;
        }
        mapped++;
        uint64_t bit = uint64_t{1} << (entry % 64);
        if (claimed[entry / 64] & bit) {
            // QEMU names the data block twice here, not the two map entries.
            findings.add("ERROR: block index %" PRIu32 " also used by %" PRIu32, entry, entry);
            result.corruptions++;
        } else {
            claimed[entry / 64] |= bit;
        }
    }
    if (mapped != s.header.blocks_allocated) {
        findings.add(
            "ERROR: allocated blocks mismatch, is %" PRIu32 ", should be %" PRIu32, mapped, s.header.blocks_allocated);
        result.corruptions++;
    }
    return result;
}

}  // namespace qemu::block::vdi
