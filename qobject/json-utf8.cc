// QEMU's "modified UTF-8" rules (util/unicode.c): what the parser accepts in strings and how
// the writer reads strings back. U+0000 is the two bytes C0 80 so strings never hold NUL;
// surrogates, noncharacters, overlong forms and anything past U+10FFFF are invalid.
#include "qobject/json-internal.h"

namespace qemu::json_detail {
namespace {

bool valid_codepoint(int cp)
{
    if (cp < 0 || cp > 0x10FFFF) {
        return false;
    }
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) {
        return false;  // noncharacter
    }
    return !(cp >= 0xD800 && cp <= 0xDFFF);
}

uint8_t byte_at(std::string_view s, size_t pos)
{
    return pos < s.size() ? static_cast<uint8_t>(s[pos]) : 0;
}

}  // namespace

int mod_utf8_codepoint(std::string_view s, size_t pos, size_t* used)
{
    uint8_t lead = byte_at(s, pos);
    *used = 1;
    if (lead < 0x80) {
        return lead;
    }
    if (lead >= 0xFE || !(lead & 0x40)) {
        return -1;  // impossible byte, or a continuation byte out of place
    }
    unsigned len = 0;
    unsigned mask = 0x80;
    while (lead & mask) {
        ++len;
        mask >>= 1;
    }
    int cp = lead & static_cast<int>(mask - 1);
    for (unsigned i = 1; i < len; ++i) {
        uint8_t b = byte_at(s, pos + i);
        if ((b & 0xC0) != 0x80) {
            *used = i;  // the byte that broke the sequence starts the next one
            return -1;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    *used = len;
    static constexpr int kMinForLength[] = {0x80, 0x800, 0x10000, 0x200000, 0x4000000};
    if (!valid_codepoint(cp)) {
        return -1;
    }
    if (cp < kMinForLength[len - 2] && !(cp == 0 && len == 2)) {
        return -1;  // overlong, except the C0 80 spelling of U+0000
    }
    return cp;
}

bool mod_utf8_encode(std::string& out, int cp)
{
    if (!valid_codepoint(cp)) {
        return false;
    }
    if (cp > 0 && cp <= 0x7F) {
        out.push_back(static_cast<char>(cp));
    } else if (cp <= 0x7FF) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp <= 0xFFFF) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return true;
}

}  // namespace qemu::json_detail
