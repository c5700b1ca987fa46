// HMP's integer expressions (QEMU's get_expr, the 'i' and 'l' argument types): numbers in
// C notation, unary + - ~, * / %, & | ^, + -, parentheses and character constants, read
// from the front of `text`, which then holds what follows. No CPU here, so registers
// ($pc) are all unknown. Errors carry QEMU's texts ("invalid char 'x' in expression").
#pragma once

#include <cstdint>
#include <string_view>

#include "util/error.h"

namespace qemu::monitor {

Result<int64_t> parse_hmp_expression(std::string_view& text);

}  // namespace qemu::monitor
