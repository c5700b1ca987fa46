// Sizes on qemu-img's command line: the suffix grammar QEMU 7.2 accepts (qemu_strtosz),
// the range-checked "Invalid X specified" wrapper every subcommand uses, and the short
// human form ("64 MiB", "0.977 TiB") that info prints.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "util/error.h"

namespace qemu::img {

struct ParsedSize {
    uint64_t value = 0;
    // A hex number with a unit suffix ("0x1k"): accepted, but QEMU warns it is deprecated.
    bool hex_with_suffix = false;
};

// qemu_strtosz: decimal (with an optional fraction when a unit follows) or hex, an optional
// b/k/M/G/T/P/E suffix (any case, powers of 1024), nothing after it. Fails with EINVAL for
// bad syntax and ERANGE when the value does not fit in 64 bits.
std::expected<ParsedSize, int> parse_size(std::string_view text);

// cvtnum_full: parse_size plus a range check, failing with QEMU's two messages. The second
// line of the syntax error is itself a separate report, so its desc carries the program
// prefix on that line already. The deprecation warning for hex suffixes goes to stderr.
Result<int64_t> cvtnum(std::string_view name, std::string_view value, int64_t min, int64_t max);

inline Result<int64_t> cvtnum(std::string_view name, std::string_view value)
{
    return cvtnum(name, value, 0, INT64_MAX);
}

// size_to_str: three significant digits in the largest binary unit that keeps the number
// below 1000.
std::string size_to_str(uint64_t bytes);

}  // namespace qemu::img
