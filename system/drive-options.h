// -blockdev and -drive: turning their option text into block-layer options and opening
// them into the Vm's BlockDevices, with QEMU 7.2's defaults and messages. Called at start-up
// after -add-fd, so /dev/fdset/N names resolve.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block/block-devices.h"
#include "qobject/json.h"
#include "system/options.h"
#include "util/error.h"

namespace qemu {

// keyval_parse: "a=1,b.c=2" into {"a": "1", "b": {"c": "2"}}, ",," escaping a comma; the
// members BlockdevOptions types as booleans or integers are converted as QEMU's keyval
// input visitor does.
Result<JsonValue> parse_keyval(std::string_view text);

// -blockdev: JSON (starting with '{') or dotted keys, as QMP's blockdev-add.
Result<void> open_blockdev(block::BlockDevices& devices, const BlockSpec& spec);

// Every -drive in order. Errors carry the "-drive ARG: " prefix. A drive with format=help
// (or "?") stops the opening: its list of formats is returned for the caller to print
// before exiting with status 0, as QEMU does.
Result<std::optional<std::string>> open_drives(block::BlockDevices& devices, const std::vector<BlockSpec>& specs);

// HMP drive_add (hmp_drive_add): a -drive, or with `node` (-n) a node from -blockdev's
// options. Returns what the monitor prints: "OK" for a drive, the format list for
// format=help, else the error as error_report gives it.
std::string hmp_drive_add(block::BlockDevices& devices, std::string_view options, bool node);

}  // namespace qemu
