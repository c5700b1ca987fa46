// The version the monitor reports: query-version, the QMP greeting and `info version`.
#pragma once

#include <cstdint>
#include <string>

namespace qemu {

struct EmulatorVersion {
    int64_t major = 0;
    int64_t minor = 0;
    int64_t micro = 0;
    std::string package;
};

// QEMU_VERSION (the project's version, set by the build) split into its numbers.
EmulatorVersion emulator_version();

}  // namespace qemu
