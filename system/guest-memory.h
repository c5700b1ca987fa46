// Guest RAM as the qtest server sees it: one RAM region of -m bytes mapped at guest
// physical address 0, like machine "none" does (it maps no RAM at all without -m).
// Addresses outside RAM are unassigned: reads give zero bytes and writes are dropped, which
// is what QEMU 7.2 answers for unassigned memory. The backing store is an anonymous
// MAP_NORESERVE mapping, so a large -m costs nothing until pages are touched.
#pragma once

#include <cstdint>
#include <span>

#include "util/error.h"

namespace qemu {

class GuestMemory {
public:
    // A machine without RAM; every access is unassigned.
    GuestMemory() = default;
    static Result<GuestMemory> create(uint64_t ram_size);

    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    GuestMemory(GuestMemory&& other) noexcept;
    GuestMemory& operator=(GuestMemory&& other) noexcept;
    ~GuestMemory();

    uint64_t ram_size() const { return m_size; }

    // Accesses may straddle the end of RAM (or of the 64-bit address space); each byte is
    // treated on its own, as QEMU's address_space_rw does across regions.
    void read(uint64_t addr, std::span<uint8_t> out) const;
    void write(uint64_t addr, std::span<const uint8_t> data);
    void fill(uint64_t addr, uint64_t len, uint8_t value);

private:
    // The part of [addr, addr+len) that lies inside RAM, as an offset and a length.
    struct Overlap {
        uint64_t offset = 0;  // offset into RAM
        uint64_t length = 0;  // bytes inside RAM, a prefix of the request
    };
    Overlap overlap(uint64_t addr, uint64_t len) const;

    uint8_t* m_base = nullptr;
    uint64_t m_size = 0;
};

}  // namespace qemu
