// FAT names to host name components (see fat-names.h).
#include "block/vvfat/commit/fat-names.h"

#include <array>

namespace qemu::block::vvfat {

namespace {

// VFAT allows 255 characters, so at most 20 entries of 13; QEMU takes up to 63, which
// cannot name a host file anyway.
constexpr int kMaxLongNameEntries = 20;

// Where the 13 UTF-16 units of a long-name entry sit.
constexpr std::array<size_t, 13> kUnitOffsets = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};

void append_utf8(std::string& out, char32_t c)
{
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// The name ends at the first 0x0000 (or at the padding a full last entry may omit); after
// it only 0x0000 and 0xFFFF may follow. Surrogates must pair.
std::optional<std::string> utf16_to_utf8(std::u16string_view units)
{
    size_t end = 0;
    while (end < units.size() && units[end] != 0 && units[end] != 0xFFFF) {
        ++end;
    }
    for (size_t i = end; i < units.size(); ++i) {
        if (units[i] != 0 && units[i] != 0xFFFF) {
            return std::nullopt;
        }
    }
    std::string out;
    for (size_t i = 0; i < end; ++i) {
        char32_t u = units[i];
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 >= end || units[i + 1] < 0xDC00 || units[i + 1] > 0xDFFF) {
                return std::nullopt;
            }
            u = 0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00);
            ++i;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return std::nullopt;
        }
        append_utf8(out, u);
    }
    return out;
}

}  // namespace

uint8_t short_name_checksum(std::span<const uint8_t> entry)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < 11; ++i) {
        sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + entry[i]);
    }
    return sum;
}

bool is_valid_host_name(std::string_view name)
{
    if (name.empty() || name.size() > kHostNameMax || name == "." || name == "..") {
        return false;
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7F || c == '/' || c == '\\') {
            return false;
        }
    }
    return true;
}

std::optional<std::string> decode_short_name(std::span<const uint8_t> entry)
{
    auto part = [&](size_t from, size_t len) -> std::optional<std::string> {
        size_t used = len;
        while (used > 0 && entry[from + used - 1] == ' ') {
            --used;
        }
        std::string out;
        for (size_t i = 0; i < used; ++i) {
            uint8_t c = entry[from + i];
            if (c <= ' ' || c > 0x7F) {
                return std::nullopt;
            }
            out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        return out;
    };
    std::optional<std::string> base = part(0, 8);
    std::optional<std::string> ext = part(8, 3);
    if (!base || !ext) {
        return std::nullopt;
    }
    std::string name = ext->empty() ? *base : *base + "." + *ext;
    if (base->empty() || !is_valid_host_name(name)) {
        return std::nullopt;
    }
    return name;
}

bool LongNameAssembler::add(std::span<const uint8_t> entry)
{
    int number = entry[0] & 0x3F;
    if (entry[0] & 0x40) {
        if (number == 0 || number > kMaxLongNameEntries) {
            return false;
        }
        m_units.assign(static_cast<size_t>(number) * 13, u'\0');
        m_checksum = entry[13];
        m_next = number;
    } else {
        // A continuation must follow its predecessor: QEMU refuses a gap or a stray entry.
        if (m_checksum < 0 || m_next <= 1 || number != m_next - 1) {
            return false;
        }
        if (entry[13] != m_checksum || entry[12] != 0 || entry[26] != 0 || entry[27] != 0) {
            return false;
        }
        m_next = number;
    }
    size_t base = static_cast<size_t>(number - 1) * 13;
    for (size_t i = 0; i < kUnitOffsets.size(); ++i) {
        char16_t unit = static_cast<char16_t>(entry[kUnitOffsets[i]] | (entry[kUnitOffsets[i] + 1] << 8));
        // Padding (0xFFFF) only ends a name, so only the first (last-numbered) entry has it.
        if (unit == 0xFFFF && !(entry[0] & 0x40)) {
            return false;
        }
        m_units[base + i] = unit;
    }
    return true;
}

LongNameAssembler::Taken LongNameAssembler::take_for(std::span<const uint8_t> short_entry)
{
    Taken taken;
    bool applies = m_checksum >= 0 && m_next == 1 && m_checksum == short_name_checksum(short_entry);
    if (applies) {
        taken.name = utf16_to_utf8(m_units);
        if (!taken.name || !is_valid_host_name(*taken.name)) {
            taken.name.reset();
            taken.error = true;
        }
    }
    m_units.clear();
    m_checksum = -1;
    m_next = 0;
    return taken;
}

}  // namespace qemu::block::vvfat
