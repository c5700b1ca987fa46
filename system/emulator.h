// Builds the emulator from its parsed configuration and runs it to completion.
#pragma once

#include "system/options.h"

namespace qemu {

// Returns the process exit status.
int run_emulator(const EmulatorConfig& config);

}  // namespace qemu
