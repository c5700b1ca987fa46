// Directory entry names as QEMU's vvfat makes them: the VFAT long-name entries every host
// name gets, the upper-case 8.3 alias with its ~N tail, and the checksum that ties the two.
// Pure functions over bytes; the image builder (vvfat-image) decides where entries go.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace qemu::block::vvfat {

// One 32-byte FAT directory entry, as the guest sees it.
using DirEntry = std::array<uint8_t, 32>;
// The 11 bytes of an 8.3 name: 8 of name, 3 of extension, space padded.
using ShortName = std::array<uint8_t, 11>;

constexpr uint8_t kAttrReadOnly = 0x01;
constexpr uint8_t kAttrLongName = 0x0f;
constexpr uint8_t kAttrDirectory = 0x10;
constexpr uint8_t kAttrArchive = 0x20;
constexpr uint8_t kAttrVolumeLabel = 0x28;

// The checksum of an 8.3 name that every long-name entry of the same file carries.
uint8_t short_name_checksum(const ShortName& name);

// Whether name is UTF-8 that converts to UTF-16 (what g_utf8_to_utf16 accepts): no
// overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view name);

// The long-name entries for name, in directory order (the last piece first), with the
// checksum byte left zero; nullopt for a name that is not valid UTF-8 (QEMU then gives
// the file an 8.3 name only).
std::optional<std::vector<DirEntry>> long_name_entries(std::string_view name);

// The 8.3 name before any numeric tail, and whether anything of the host name was lost
// on the way (then the alias starts at ~1, as VFAT requires).
struct ShortNameBase {
    ShortName name{};
    bool lossy = false;
};
ShortNameBase short_name_base(std::string_view name);

// Writes the tail "~n" into name where QEMU puts it: after the name part, moved left so
// that it ends within the 8 name bytes. `name_length` is the name part's length before
// any tail was written.
void apply_numeric_tail(ShortName& name, size_t name_length, unsigned n);

// The number of non-space bytes at the start of the name part (where a tail goes).
size_t short_name_length(const ShortName& name);

}  // namespace qemu::block::vvfat
