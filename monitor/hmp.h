// The little HMP we need: human-monitor-command runs one command line and returns its
// output, each line ending in "\r\n" as QEMU's monitor prints it.
#pragma once

#include <string>
#include <string_view>

#include "monitor/qmp-context.h"

namespace qemu::monitor {

std::string hmp_execute(qapi::QmpContext& ctx, std::string_view command_line);

}  // namespace qemu::monitor
