// VFAT long names and QEMU's 8.3 aliases. The alias follows QEMU 7.2 to the byte: each
// character is upper-cased and kept only if it is a digit, a letter or one of the few
// punctuation marks 8.3 names allow (QEMU tests only the low byte of a non-ASCII
// character against that list); anything dropped or cut makes the conversion "lossy",
// which forces a ~1 tail; collisions count the tail up.
#include "block/vvfat/vvfat-names.h"

#include <algorithm>
#include <clocale>
#include <cstring>
#include <cwctype>
#include <locale.h>
#include <string>

namespace qemu::block::vvfat {

namespace {

constexpr std::string_view kShortNamePunctuation = "$%'-_@~`!(){}^#&";
constexpr uint32_t kBadChar = 0xffffffff;
// DIR_KANJI: a first byte of 0xE5 means "deleted", so FAT stores such a name with 0x05.
constexpr uint8_t kDeletedMark = 0xe5;
constexpr uint8_t kKanjiStandIn = 0x05;

// How far glib's g_utf8_next_char moves for a lead byte (its g_utf8_skip table).
size_t glib_skip(uint8_t lead)
{
    if (lead < 0xc0) {
        return 1;
    }
    if (lead < 0xe0) {
        return 2;
    }
    if (lead < 0xf0) {
        return 3;
    }
    if (lead < 0xf8) {
        return 4;
    }
    if (lead < 0xfc) {
        return 5;
    }
    return lead < 0xfe ? 6 : 1;
}

// g_utf8_get_char: decodes without checking for overlong forms (QEMU only reaches the
// alias code with names it could not validate when the long name failed), kBadChar for a
// bad lead or continuation byte.
uint32_t glib_get_char(std::string_view text, size_t pos)
{
    auto lead = static_cast<uint8_t>(text[pos]);
    size_t length = 0;
    uint32_t value = 0;
    if (lead < 0x80) {
        return lead;
    }
    if ((lead & 0xe0) == 0xc0) {
        length = 2, value = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
        length = 3, value = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
        length = 4, value = lead & 0x07;
    } else if ((lead & 0xfc) == 0xf8) {
        length = 5, value = lead & 0x03;
    } else if ((lead & 0xfe) == 0xfc) {
        length = 6, value = lead & 0x01;
    } else {
        return kBadChar;
    }
    for (size_t i = 1; i < length; ++i) {
        if (pos + i >= text.size()) {
            return kBadChar;
        }
        auto next = static_cast<uint8_t>(text[pos + i]);
        if ((next & 0xc0) != 0x80) {
            return kBadChar;
        }
        value = (value << 6) | (next & 0x3f);
    }
    return value;
}

uint32_t to_upper(uint32_t c)
{
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 'A';
    }
    if (c < 0x80 || c > 0x10ffff) {
        return c;
    }
    // glib's tables and the C library's agree on simple case mappings; only the low byte of
    // the result matters here anyway.
    static locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (utf8 == static_cast<locale_t>(nullptr)) {
        return c;
    }
    return static_cast<uint32_t>(towupper_l(static_cast<wint_t>(c), utf8));
}

// to_valid_short_char: the byte an 8.3 name keeps for c, or 0 if it drops it.
uint8_t valid_short_char(uint32_t c)
{
    c = to_upper(c);
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
        return static_cast<uint8_t>(c);
    }
    // QEMU asks strchr, which looks at the low byte only and also "finds" a zero byte.
    auto low = static_cast<uint8_t>(c & 0xff);
    if (low != 0 && kShortNamePunctuation.find(static_cast<char>(low)) != std::string_view::npos) {
        return low;
    }
    return 0;
}

// Decodes UTF-8 strictly into UTF-16 code units; nullopt where g_utf8_to_utf16 fails.
std::optional<std::vector<uint16_t>> to_utf16(std::string_view text)
{
    std::vector<uint16_t> units;
    units.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        auto lead = static_cast<uint8_t>(text[pos]);
        size_t length = lead < 0x80 ? 1
            : (lead & 0xe0) == 0xc0 ? 2
            : (lead & 0xf0) == 0xe0 ? 3
            : (lead & 0xf8) == 0xf0 ? 4
                                    : 0;
        if (length == 0 || pos + length > text.size()) {
            return std::nullopt;
        }
        uint32_t value = glib_get_char(text, pos);
        static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
        if (value == kBadChar || value < kMinimum[length] || value > 0x10ffff || (value >= 0xd800 && value < 0xe000)) {
            return std::nullopt;
        }
        if (value < 0x10000) {
            units.push_back(static_cast<uint16_t>(value));
        } else {
            value -= 0x10000;
            units.push_back(static_cast<uint16_t>(0xd800 + (value >> 10)));
            units.push_back(static_cast<uint16_t>(0xdc00 + (value & 0x3ff)));
        }
        pos += length;
    }
    return units;
}

// Where unit u (0..12) of a long-name entry's 13 lives in the 32 bytes.
size_t long_name_unit_offset(size_t u)
{
    if (u < 5) {
        return 1 + 2 * u;
    }
    if (u < 11) {
        return 14 + 2 * (u - 5);
    }
    return 28 + 2 * (u - 11);
}

}  // namespace

uint8_t short_name_checksum(const ShortName& name)
{
    uint8_t sum = 0;
    for (uint8_t c : name) {
        sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + c);
    }
    return sum;
}

bool is_valid_utf8(std::string_view name)
{
    return to_utf16(name).has_value();
}

std::optional<std::vector<DirEntry>> long_name_entries(std::string_view name)
{
    auto units = to_utf16(name);
    if (!units) {
        return std::nullopt;
    }
    size_t count = (units->size() + 12) / 13;
    std::vector<DirEntry> entries(count);
    for (size_t e = 0; e < count; ++e) {
        DirEntry& entry = entries[e];
        entry[0] = static_cast<uint8_t>((count - e) | (e == 0 ? 0x40 : 0));
        entry[11] = kAttrLongName;
        size_t piece = count - 1 - e;
        for (size_t u = 0; u < 13; ++u) {
            size_t index = piece * 13 + u;
            // The name ends with one NUL unit if it does not fill the entry, then 0xFFFF.
            uint16_t unit = index < units->size() ? (*units)[index] : index == units->size() ? 0 : 0xffff;
            size_t at = long_name_unit_offset(u);
            entry[at] = static_cast<uint8_t>(unit & 0xff);
            entry[at + 1] = static_cast<uint8_t>(unit >> 8);
        }
    }
    return entries;
}

ShortNameBase short_name_base(std::string_view name)
{
    ShortNameBase result;
    result.name.fill(' ');
    size_t copied = 0;
    std::optional<size_t> last_dot;
    for (size_t pos = 0; pos < name.size(); pos += glib_skip(static_cast<uint8_t>(name[pos]))) {
        uint32_t c = glib_get_char(name, pos);
        if (c == 0) {
            break;
        }
        if (c == '.') {
            // A leading dot is dropped, not taken as the start of an extension.
            if (copied == 0) {
                result.lossy = true;
            } else {
                if (last_dot) {
                    result.lossy = true;
                }
                last_dot = pos;
            }
        } else if (!last_dot) {
            uint8_t v = valid_short_char(c);
            if (copied < 8 && v != 0) {
                result.name[copied++] = v;
            } else {
                result.lossy = true;
            }
        }
    }
    if (last_dot) {
        size_t ext = 0;
        size_t start = *last_dot + glib_skip(static_cast<uint8_t>(name[*last_dot]));
        for (size_t pos = start; pos < name.size(); pos += glib_skip(static_cast<uint8_t>(name[pos]))) {
            uint32_t c = glib_get_char(name, pos);
            if (c == 0) {
                break;
            }
            uint8_t v = valid_short_char(c);
            if (ext < 3 && v != 0) {
                result.name[8 + ext++] = v;
            } else {
                result.lossy = true;
            }
        }
    }
    if (result.name[0] == kDeletedMark) {
        result.name[0] = kKanjiStandIn;
    }
    return result;
}

size_t short_name_length(const ShortName& name)
{
    size_t length = 0;
    while (length < 8 && name[length] != ' ') {
        ++length;
    }
    return length;
}

void apply_numeric_tail(ShortName& name, size_t name_length, unsigned n)
{
    std::string tail = "~" + std::to_string(n);
    size_t at = std::min(name_length, 8 - std::min<size_t>(tail.size(), 8));
    std::memcpy(name.data() + at, tail.data(), std::min<size_t>(tail.size(), 8));
}

}  // namespace qemu::block::vvfat
