// The "ringbuf" backend (alias "memory"): output kept in a power-of-two ring buffer that
// overwrites its oldest bytes; ringbuf-read and ringbuf-write act on it through this class.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "char/chardev.h"

namespace qemu::chr {

class RingbufChardev final : public Chardev {
public:
    // size must be a power of two (open_ringbuf checks it). The ring is taken from calloc,
    // whose pages arrive lazily as QEMU's g_malloc'd ring does; a size that cannot be had at
    // all is an error for the command, not an abort of the emulator.
    static Result<std::unique_ptr<RingbufChardev>> create(std::string id, uint64_t size);

    std::string_view driver() const override { return "ringbuf"; }
    std::string filename() const override { return "ringbuf"; }
    bool is_open() const override { return true; }
    // Guest output goes into the ring, like write().
    using Chardev::write_all;
    Result<size_t> write_all(std::span<const uint8_t> data) override;

    // ringbuf-write: appends, dropping the oldest bytes when the ring is full.
    void write(std::span<const uint8_t> data);
    // ringbuf-read: takes up to size of the oldest bytes (format conversion is the
    // QMP layer's business).
    std::vector<uint8_t> read(size_t size);
    size_t size() const { return m_size; }
    size_t used() const { return static_cast<size_t>(m_prod - m_cons); }

private:
    struct FreeDeleter {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    RingbufChardev(std::string id, std::unique_ptr<uint8_t[], FreeDeleter> buf, size_t size);

    std::unique_ptr<uint8_t[], FreeDeleter> m_buf;
    size_t m_size = 0;
    // Free-running counters; their difference is the fill level.
    uint64_t m_prod = 0;
    uint64_t m_cons = 0;
};

}  // namespace qemu::chr
