// Fixed-width integers stored in a given byte order at an offset of a byte buffer: the
// on-disk fields of the image formats (vdi and vmdk are little-endian, vpc big-endian).
// Fields are assembled byte by byte, so they may sit at any alignment and the code means
// the same on any host; compilers turn the loops into one load or store.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qemu {

enum class ByteOrder { Little, Big };

template <std::unsigned_integral T, ByteOrder order> constexpr T load_field(std::span<const uint8_t> buf, size_t at)
{
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
        size_t shift = order == ByteOrder::Little ? 8 * i : 8 * (sizeof(T) - 1 - i);
        value |= static_cast<T>(T{buf[at + i]} << shift);
    }
    return value;
}

template <std::unsigned_integral T, ByteOrder order>
constexpr void store_field(std::span<uint8_t> buf, size_t at, T value)
{
    for (size_t i = 0; i < sizeof(T); ++i) {
        size_t shift = order == ByteOrder::Little ? 8 * i : 8 * (sizeof(T) - 1 - i);
        buf[at + i] = static_cast<uint8_t>(value >> shift);
    }
}

constexpr uint16_t load_le16(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint16_t, ByteOrder::Little>(buf, at);
}

constexpr uint32_t load_le32(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint32_t, ByteOrder::Little>(buf, at);
}

constexpr uint64_t load_le64(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint64_t, ByteOrder::Little>(buf, at);
}

constexpr uint16_t load_be16(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint16_t, ByteOrder::Big>(buf, at);
}

constexpr uint32_t load_be32(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint32_t, ByteOrder::Big>(buf, at);
}

constexpr uint64_t load_be64(std::span<const uint8_t> buf, size_t at)
{
    return load_field<uint64_t, ByteOrder::Big>(buf, at);
}

constexpr void store_le16(std::span<uint8_t> buf, size_t at, uint16_t value)
{
    store_field<uint16_t, ByteOrder::Little>(buf, at, value);
}

constexpr void store_le32(std::span<uint8_t> buf, size_t at, uint32_t value)
{
    store_field<uint32_t, ByteOrder::Little>(buf, at, value);
}

constexpr void store_le64(std::span<uint8_t> buf, size_t at, uint64_t value)
{
    store_field<uint64_t, ByteOrder::Little>(buf, at, value);
}

constexpr void store_be16(std::span<uint8_t> buf, size_t at, uint16_t value)
{
    store_field<uint16_t, ByteOrder::Big>(buf, at, value);
}

constexpr void store_be32(std::span<uint8_t> buf, size_t at, uint32_t value)
{
    store_field<uint32_t, ByteOrder::Big>(buf, at, value);
}

constexpr void store_be64(std::span<uint8_t> buf, size_t at, uint64_t value)
{
    store_field<uint64_t, ByteOrder::Big>(buf, at, value);
}

// A field of a header: its offset, width and byte order in one constant, so a table of
// them is the layout, and a 32-bit field cannot be read as 64 bits by mistake.
template <std::unsigned_integral T, ByteOrder order> struct Field {
    size_t offset;

    constexpr T load(std::span<const uint8_t> buf) const { return load_field<T, order>(buf, offset); }
    constexpr void store(std::span<uint8_t> buf, T value) const { store_field<T, order>(buf, offset, value); }
};

template <std::unsigned_integral T> using LeField = Field<T, ByteOrder::Little>;

template <std::unsigned_integral T> using BeField = Field<T, ByteOrder::Big>;

}  // namespace qemu
