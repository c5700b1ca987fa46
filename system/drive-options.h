// -blockdev and -drive: turning their option text into block-layer options and opening
// them into the Vm's BlockDevices, with QEMU 7.2's defaults and messages. Called at start-up
// after -add-fd, so /dev/fdset/N names resolve.
#pragma once

#include <vector>

#include "block/block-devices.h"
#include "system/options.h"
#include "util/error.h"

namespace qemu {

// -blockdev: JSON (starting with '{') or dotted keys, as QMP's blockdev-add.
Result<void> open_blockdev(block::BlockDevices& devices, const BlockSpec& spec);

// Every -drive in order. Errors carry the "-drive ARG: " prefix.
Result<void> open_drives(block::BlockDevices& devices, const std::vector<BlockSpec>& specs);

}  // namespace qemu
