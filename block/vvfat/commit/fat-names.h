// Names in FAT directory entries: VFAT long names (a run of 0x0F entries in front of the
// 8.3 entry, each carrying 13 UTF-16 units, numbered down to 1, tied to the 8.3 entry by a
// checksum) and 8.3 names, turned into host name components. Any name that could not be a
// single component of a host path ('/', '\', NUL, control characters, "." or "..", longer
// than NAME_MAX, not valid UTF-16) is refused, so the committer can never be steered out of
// its directory by a name.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace qemu::block::vvfat {

constexpr size_t kDirEntrySize = 32;
constexpr size_t kHostNameMax = 255;  // NAME_MAX, in UTF-8 bytes

// The checksum of an 8.3 name (11 bytes) that its long-name entries repeat.
uint8_t short_name_checksum(std::span<const uint8_t> entry);

// Whether name may be one component of a host path.
bool is_valid_host_name(std::string_view name);

// The 8.3 name of entry as QEMU commits it: blanks trimmed, lower-cased (QEMU's
// downcase_short_names), "base.ext" or "base". nullopt if a character is a blank, a control
// or non-ASCII byte, or the result is not a valid host name.
std::optional<std::string> decode_short_name(std::span<const uint8_t> entry);

// Collects long-name entries as QEMU's parse_long_name does: an entry with bit 0x40 starts a
// name of N entries, each following one must be numbered one less, carry the same checksum
// and zeros where the 8.3 entry has its cluster. Anything else is an error: QEMU then
// refuses to commit the directory.
class LongNameAssembler {
public:
    // Feeds a 0x0F entry. false if it breaks the rules above.
    bool add(std::span<const uint8_t> entry);
    // For the 8.3 entry that follows: the long name if one is complete and belongs to it
    // (checksum), decoded to UTF-8. Fails (nullopt in `error`) on invalid UTF-16 or a name
    // that is not a valid host name. Forgets the collected name either way, as QEMU does.
    struct Taken {
        std::optional<std::string> name;  // no long name applies: use the 8.3 name
        bool error = false;
    };
    Taken take_for(std::span<const uint8_t> short_entry);

private:
    std::u16string m_units;  // 13 units per entry, in name order
    int m_next = 0;  // number of the entry expected next; 0 once the name is whole
    int m_checksum = -1;  // -1: no name collected
};

}  // namespace qemu::block::vvfat
