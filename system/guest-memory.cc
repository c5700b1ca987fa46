// Sparse guest RAM for the qtest server (see guest-memory.h).
#include "system/guest-memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace qemu {

Result<GuestMemory> GuestMemory::create(uint64_t ram_size)
{
    GuestMemory mem;
    if (ram_size == 0) {
        return mem;
    }
    if (ram_size > SIZE_MAX) {
        return make_error("cannot set up guest memory 'ram': Cannot allocate memory");
    }
    void* base = ::mmap(nullptr, static_cast<size_t>(ram_size), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        return make_errno_error(errno, "cannot set up guest memory 'ram'");
    }
    mem.m_base = static_cast<uint8_t*>(base);
    mem.m_size = ram_size;
    return mem;
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : m_base(std::exchange(other.m_base, nullptr)), m_size(std::exchange(other.m_size, 0))
{
}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept
{
    if (this != &other) {
        std::swap(m_base, other.m_base);
        std::swap(m_size, other.m_size);
    }
    // other now holds (and will unmap) what this held.
    return *this;
}

GuestMemory::~GuestMemory()
{
    if (m_base) {
        ::munmap(m_base, static_cast<size_t>(m_size));
    }
}

GuestMemory::Overlap GuestMemory::overlap(uint64_t addr, uint64_t len) const
{
    // RAM starts at 0, so the part inside RAM is a prefix of the request.
    if (addr >= m_size) {
        return {};
    }
    return {addr, std::min(len, m_size - addr)};
}

void GuestMemory::read(uint64_t addr, std::span<uint8_t> out) const
{
    Overlap in_ram = overlap(addr, out.size());
    if (in_ram.length) {
        std::memcpy(out.data(), m_base + in_ram.offset, in_ram.length);
    }
    std::fill(out.begin() + static_cast<ptrdiff_t>(in_ram.length), out.end(), uint8_t{0});
}

void GuestMemory::write(uint64_t addr, std::span<const uint8_t> data)
{
    Overlap in_ram = overlap(addr, data.size());
    if (in_ram.length) {
        std::memcpy(m_base + in_ram.offset, data.data(), in_ram.length);
    }
}

void GuestMemory::fill(uint64_t addr, uint64_t len, uint8_t value)
{
    Overlap in_ram = overlap(addr, len);
    if (in_ram.length) {
        std::memset(m_base + in_ram.offset, value, in_ram.length);
    }
}

}  // namespace qemu
