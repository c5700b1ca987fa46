// The block layer's HMP commands: `info block [-n] [-v] [device]` and
// `qemu-io [-d] device "command"`. Each returns its monitor output with "\n" line ends;
// hmp.cc turns them into the monitor's "\r\n".
#pragma once

#include <string>
#include <string_view>

#include "monitor/qmp-context.h"

namespace qemu::monitor {

std::string hmp_info_block(qapi::QmpContext& ctx, std::string_view args);

// As in QEMU 7.2, what the qemu-io command prints goes to the emulator's stdout (and its
// complaints to stderr); only errors from finding the node or getting permission to write
// come back as monitor output.
std::string hmp_qemu_io(qapi::QmpContext& ctx, std::string_view args);

}  // namespace qemu::monitor
