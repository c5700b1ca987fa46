// The "ringbuf" backend (alias "memory"): output kept in a power-of-two ring buffer that
// overwrites its oldest bytes; ringbuf-read and ringbuf-write act on it through this class.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "char/chardev.h"

namespace qemu::chr {

class RingbufChardev final : public Chardev {
public:
    // size must be a power of two (the registry's open checks it).
    RingbufChardev(std::string id, uint64_t size);

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
    size_t size() const { return m_buf.size(); }
    size_t used() const { return static_cast<size_t>(m_prod - m_cons); }

private:
    std::vector<uint8_t> m_buf;
    // Free-running counters; their difference is the fill level.
    uint64_t m_prod = 0;
    uint64_t m_cons = 0;
};

}  // namespace qemu::chr
