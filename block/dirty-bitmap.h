// Dirty bitmaps (QEMU's block/dirty-bitmap.c over util/hbitmap.c): which parts of a node
// were written since a bitmap was made or cleared, one bit per `granularity` bytes. A
// node keeps its bitmaps newest first; every write, write-zeroes or discard it receives
// marks the bitmaps that are recording. Here they live only in memory (QEMU stores them in
// qcow2 images alone, a format this build does not have).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/error.h"

namespace qemu::block {

class DirtyBitmap {
public:
    // QEMU's BDRV_BITMAP_MAX_NAME_SIZE.
    static constexpr size_t kMaxNameSize = 1023;

    // A bitmap over `size` bytes; fails where its bits would need more memory than any
    // image here should (a 512-byte granularity over exabytes).
    static Result<std::shared_ptr<DirtyBitmap>> make(std::string name, uint32_t granularity, int64_t size);

    const std::string& name() const { return m_name; }
    uint32_t granularity() const { return m_granularity; }
    int64_t size() const;
    bool recording() const;
    void set_recording(bool on);
    // The bytes the set bits cover (bdrv_get_dirty_count): whole chunks.
    int64_t count() const;

    void set_range(int64_t offset, int64_t bytes);
    void clear();
    // hbitmap_truncate: bits past a smaller size go, a larger one starts clean.
    Result<void> resize(int64_t size);
    // hbitmap_merge: every chunk dirty in `source` (of any granularity) becomes dirty
    // here. The sizes must match; the caller checks.
    void merge(const DirtyBitmap& source);
    // In use by an operation that others must not disturb (a transaction removing it): the
    // commands that change or remove a bitmap refuse a busy one.
    bool busy() const { return m_busy.load(std::memory_order_relaxed); }
    void set_busy(bool busy) { m_busy.store(busy, std::memory_order_relaxed); }

    // The bits and size as they are now, for restore() to put back (a transaction's undo
    // of clear and merge).
    struct Saved {
        int64_t size = 0;
        std::vector<uint64_t> words;
        uint64_t set = 0;
    };
    Saved save() const;
    void restore(Saved saved);

    // The bits as QEMU's HBitmap keeps its last level: 64-bit words, at least one, first
    // chunk in the lowest bit. x-debug-block-dirty-bitmap-sha256 hashes them.
    std::vector<uint64_t> words() const;

private:
    DirtyBitmap(std::string name, uint32_t granularity) : m_name(std::move(name)), m_granularity(granularity) { }
    Result<void> resize_locked(int64_t size);
    void set_chunks_locked(uint64_t first, uint64_t last);

    const std::string m_name;
    const uint32_t m_granularity;
    // Writes mark from the worker threads of aio requests.
    mutable std::mutex m_lock;
    int64_t m_size = 0;
    bool m_recording = true;
    std::vector<uint64_t> m_words;
    uint64_t m_set = 0;
    std::atomic<bool> m_busy{false};
};

// A node's bitmaps, newest first.
class DirtyBitmaps {
public:
    std::vector<std::shared_ptr<DirtyBitmap>> list() const;
    std::shared_ptr<DirtyBitmap> find(const std::string& name) const;
    void add(std::shared_ptr<DirtyBitmap> bitmap);
    bool remove(const std::string& name);
    // A request that may change [offset, offset + bytes) reached the node: the recording
    // bitmaps mark it, and grow with a node that grew past their end (to whole sectors,
    // as QEMU's total_sectors).
    void note_write(int64_t offset, int64_t bytes);
    // A discard of [offset, offset + bytes): marks, but a node never grows by one.
    void note_discard(int64_t offset, int64_t bytes);
    // The node's length changed (truncate): every bitmap follows.
    void resize(int64_t size);

private:
    mutable std::mutex m_lock;
    std::vector<std::shared_ptr<DirtyBitmap>> m_bitmaps;
};

}  // namespace qemu::block
