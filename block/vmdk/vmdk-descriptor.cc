// Descriptor text: field lookup with QEMU's substring rules, the extent line scanner, the
// CID rewrite and the text create writes.
#include "block/vmdk/vmdk-descriptor.h"

#include <cerrno>
#include <climits>
#include <cstdio>

#include "util/hex.h"

namespace qemu::block::vmdk {

namespace {

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// A cursor over text that reads the way scanf's conversions do.
struct Scanner {
    std::string_view text;
    size_t pos = 0;

    bool at_end() const { return pos >= text.size(); }
    void skip_space()
    {
        while (!at_end() && is_space(text[pos])) {
            ++pos;
        }
    }
    // %Ns
    std::optional<std::string> word(size_t max_len)
    {
        skip_space();
        size_t start = pos;
        while (!at_end() && !is_space(text[pos]) && pos - start < max_len) {
            ++pos;
        }
        if (pos == start) {
            return std::nullopt;
        }
        return std::string(text.substr(start, pos - start));
    }
    // %lld, clamped on overflow as strtoll does.
    std::optional<int64_t> decimal()
    {
        skip_space();
        size_t start = pos;
        bool negative = false;
        if (!at_end() && (text[pos] == '+' || text[pos] == '-')) {
            negative = text[pos] == '-';
            ++pos;
        }
        size_t digits = pos;
        uint64_t value = 0;
        bool overflow = false;
        while (!at_end() && text[pos] >= '0' && text[pos] <= '9') {
            unsigned d = static_cast<unsigned>(text[pos] - '0');
            if (value > (static_cast<uint64_t>(INT64_MAX) + 1 - d) / 10) {
                overflow = true;
            } else {
                value = value * 10 + d;
            }
            ++pos;
        }
        if (pos == digits) {
            pos = start;
            return std::nullopt;
        }
        if (overflow || (!negative && value > static_cast<uint64_t>(INT64_MAX))) {
            return negative ? INT64_MIN : INT64_MAX;
        }
        return negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
    }
    bool literal(char c)
    {
        if (!at_end() && text[pos] == c) {
            ++pos;
            return true;
        }
        return false;
    }
    // %N[^\n\r"]
    std::optional<std::string> quoted_body(size_t max_len)
    {
        size_t start = pos;
        while (!at_end() && text[pos] != '\n' && text[pos] != '\r' && text[pos] != '"' && pos - start < max_len) {
            ++pos;
        }
        if (pos == start) {
            return std::nullopt;
        }
        return std::string(text.substr(start, pos - start));
    }
};

struct ScannedLine {
    int matches = 0;
    std::string access;
    int64_t sectors = 0;
    std::string type;
    std::string filename;
    int64_t flat_offset = -1;
};

// sscanf(p, "%10s %lld %10s \"%511[^\n\r\"]\" %lld", ...)
ScannedLine scan_extent_line(std::string_view text)
{
    ScannedLine line;
    Scanner in{text};
    auto access = in.word(10);
    if (!access) {
        return line;
    }
    line.access = *access;
    line.matches = 1;
    auto sectors = in.decimal();
    if (!sectors) {
        return line;
    }
    line.sectors = *sectors;
    line.matches = 2;
    auto type = in.word(10);
    if (!type) {
        return line;
    }
    line.type = *type;
    line.matches = 3;
    in.skip_space();
    if (!in.literal('"')) {
        return line;
    }
    auto name = in.quoted_body(511);
    if (!name) {
        return line;
    }
    line.filename = *name;
    line.matches = 4;
    if (!in.literal('"')) {
        return line;
    }
    if (auto offset = in.decimal()) {
        line.flat_offset = *offset;
        line.matches = 5;
    }
    return line;
}

size_t next_line(std::string_view text, size_t pos)
{
    size_t nl = text.find('\n', pos);
    return nl == std::string_view::npos ? text.size() : nl + 1;
}

}  // namespace

std::string_view c_string(std::string_view bytes)
{
    size_t nul = bytes.find('\0');
    return nul == std::string_view::npos ? bytes : bytes.substr(0, nul);
}

std::optional<std::string> parse_description(std::string_view desc, std::string_view name, size_t max_len)
{
    size_t at = desc.find(name);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    // Skip the `="` that follows the name, whatever it really is.
    size_t start = at + name.size() + 2;
    if (start >= desc.size()) {
        return std::nullopt;
    }
    size_t end = desc.find('"', start);
    if (end == std::string_view::npos || end - start > max_len) {
        return std::nullopt;
    }
    return std::string(desc.substr(start, end - start));
}

std::optional<uint32_t> parse_cid(std::string_view desc, bool parent)
{
    std::string_view name = parent ? "parentCID" : "CID";
    size_t at = desc.find(name);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    size_t pos = at + name.size() + 1;
    if (pos > desc.size()) {
        return std::nullopt;
    }
    Scanner in{desc, pos};
    in.skip_space();
    bool negative = false;
    if (!in.at_end() && (desc[in.pos] == '+' || desc[in.pos] == '-')) {
        negative = desc[in.pos] == '-';
        ++in.pos;
    }
    auto hex = hex_digit_value;
    if (in.pos + 1 < desc.size() && desc[in.pos] == '0' && (desc[in.pos + 1] == 'x' || desc[in.pos + 1] == 'X') &&
        in.pos + 2 < desc.size() && hex(desc[in.pos + 2]) >= 0) {
        in.pos += 2;
    }
    uint64_t value = 0;
    size_t digits = 0;
    while (!in.at_end() && hex(desc[in.pos]) >= 0) {
        value = value > 0xffffffffull ? value : (value << 4) | static_cast<uint64_t>(hex(desc[in.pos]));
        ++in.pos;
        ++digits;
    }
    if (digits == 0) {
        return std::nullopt;
    }
    // strtoul saturates, then the value is stored in 32 bits.
    if (value > 0xffffffffull) {
        value = 0xffffffffull;
    }
    auto result = static_cast<uint32_t>(value);
    return negative ? 0u - result : result;
}

Result<std::optional<std::string>> parse_parent_hint(std::string_view desc)
{
    constexpr std::string_view kName = "parentFileNameHint";
    size_t at = desc.find(kName);
    if (at == std::string_view::npos) {
        return std::optional<std::string>();
    }
    // Skip the name, its NUL's worth and one more: `="`.
    size_t start = at + kName.size() + 2;
    if (start > desc.size()) {
        return make_errno_error(EINVAL);
    }
    size_t end = desc.find('"', start);
    if (end == std::string_view::npos || end - start > PATH_MAX - 1) {
        return make_errno_error(EINVAL);
    }
    return std::optional<std::string>(std::string(desc.substr(start, end - start)));
}

Result<std::vector<ExtentLine>> parse_extent_lines(std::string_view desc)
{
    std::vector<ExtentLine> lines;
    for (size_t p = 0; p < desc.size(); p = next_line(desc, p)) {
        size_t end = next_line(desc, p);
        std::string_view this_line = desc.substr(p, end - p);
        bool blank = true;
        for (char c : this_line) {
            blank = blank && is_space(c);
        }
        if (blank) {
            continue;
        }
        ScannedLine line = scan_extent_line(desc.substr(p));
        if (line.matches < 4 || line.access != "RW") {
            continue;
        }
        bool invalid = false;
        if (line.type == "FLAT") {
            invalid = line.matches != 5 || line.flat_offset < 0;
        } else if (line.type == "VMFS") {
            invalid = line.matches != 4;
            line.flat_offset = 0;
        } else {
            invalid = line.matches != 4;
        }
        if (invalid) {
            std::string_view shown = this_line;
            if (!shown.empty() && shown.back() == '\n') {
                shown.remove_suffix(1);
            }
            return make_error("Invalid extent line: " + std::string(shown));
        }
        if (line.sectors <= 0 ||
            (line.type != "FLAT" && line.type != "SPARSE" && line.type != "VMFS" && line.type != "VMFSSPARSE" &&
                line.type != "SESPARSE")) {
            continue;
        }
        lines.push_back({line.sectors, line.type, line.filename, line.flat_offset});
    }
    return lines;
}

bool rewrite_cid(std::vector<char>& desc, uint32_t cid)
{
    desc.back() = '\0';
    std::string_view text = c_string(std::string_view(desc.data(), desc.size()));
    size_t parent = text.find("parentCID");
    if (parent == std::string_view::npos) {
        return false;
    }
    std::string tail(text.substr(parent));
    size_t at = text.find("CID");
    // strstr finds "parentCID" itself at worst, so this always succeeds.
    size_t pos = at + 4;
    char hex[16];
    int n = std::snprintf(hex, sizeof hex, "%x\n", cid);
    std::string replacement = std::string(hex, static_cast<size_t>(n)) + tail;
    size_t room = desc.size() - 1;
    for (size_t i = 0; i < replacement.size() && pos + i < room; ++i) {
        desc[pos + i] = replacement[i];
    }
    size_t nul = std::min(pos + replacement.size(), room);
    desc[nul] = '\0';
    return true;
}

std::string make_descriptor(const DescriptorText& d)
{
    char cids[64];
    std::snprintf(cids, sizeof cids, "CID=%x\nparentCID=%x\n", d.cid, d.parent_cid);
    std::string out = "# Disk DescriptorFile\nversion=1\n";
    out += cids;
    out += "createType=\"" + d.create_type + "\"\n";
    out += d.parent_hint_line;
    out += "\n# Extent description\n";
    out += d.extent_lines;
    out += "\n# The Disk Data Base\n#DDB\n\n";
    out += "ddb.virtualHWVersion = \"" + d.hw_version + "\"\n";
    out += "ddb.geometry.cylinders = \"" + std::to_string(d.cylinders) + "\"\n";
    out += "ddb.geometry.heads = \"" + std::to_string(d.heads) + "\"\n";
    out += "ddb.geometry.sectors = \"63\"\n";
    out += "ddb.adapterType = \"" + d.adapter_type + "\"\n";
    out += "ddb.toolsVersion = \"" + d.tools_version + "\"\n";
    return out;
}

}  // namespace qemu::block::vmdk
