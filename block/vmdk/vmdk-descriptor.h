// The vmdk descriptor as text: finding its fields the way QEMU 7.2 does (plain substring
// searches, a scanf-shaped extent line), rewriting the CID line, and writing the descriptor
// qemu-img create makes. Pure functions over strings, no I/O, so they are unit-tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace qemu::block::vmdk {

// The text up to its first NUL, as QEMU's C-string searches see it.
std::string_view c_string(std::string_view bytes);

// vmdk_parse_description: the value after `name="` up to the next quote; nullopt when the
// name is missing, unterminated or longer than max_len.
std::optional<std::string> parse_description(std::string_view desc, std::string_view name, size_t max_len);

// vmdk_read_cid's parse: the first "CID" (or "parentCID"), one character skipped, then
// a hex number as scanf's %x reads it.
std::optional<uint32_t> parse_cid(std::string_view desc, bool parent);

// vmdk_parent_open's parse of parentFileNameHint="NAME": nullopt when absent; EINVAL when
// the quote is not closed or the name is longer than a path may be.
Result<std::optional<std::string>> parse_parent_hint(std::string_view desc);

// One "ACCESS SECTORS TYPE "FILE" [OFFSET]" line QEMU uses (ACCESS is RW, the type known,
// sectors > 0). flat_offset is -1 when absent.
struct ExtentLine {
    int64_t sectors = 0;
    std::string type;
    std::string filename;
    int64_t flat_offset = -1;
};
// vmdk_parse_extents' line scan, with "Invalid extent line: ..." for bad FLAT/VMFS field
// counts. One deliberate difference: a blank line is skipped, where QEMU's scanf would
// skip over its newline and read the following extent line twice.
Result<std::vector<ExtentLine>> parse_extent_lines(std::string_view desc);

// vmdk_write_cid's edit of a descriptor buffer (DESC_SIZE bytes, NUL-terminated at the
// end): "CID=" is followed by the new hex CID and a newline, then everything from
// "parentCID" on. False (EINVAL in QEMU) when there is no parentCID.
bool rewrite_cid(std::vector<char>& desc, uint32_t cid);

// What the descriptor qemu-img create writes says.
struct DescriptorText {
    uint32_t cid = 0;
    uint32_t parent_cid = 0xffffffff;
    std::string create_type;
    std::string parent_hint_line;  // parentFileNameHint="..." without newline, or empty
    std::string extent_lines;  // "RW N SPARSE \"name\"\n" ...
    std::string hw_version;
    int64_t cylinders = 0;
    uint32_t heads = 16;
    std::string adapter_type;
    std::string tools_version;
};
std::string make_descriptor(const DescriptorText& d);

}  // namespace qemu::block::vmdk
