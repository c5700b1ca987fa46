// The reported version, parsed from the build's QEMU_VERSION (see version.h).
#include "monitor/version.h"

#include <cstdlib>

namespace qemu {

EmulatorVersion emulator_version()
{
    std::string text = QEMU_VERSION;
    EmulatorVersion version;
    int64_t* parts[] = {&version.major, &version.minor, &version.micro};
    size_t start = 0;
    for (int64_t* part : parts) {
        size_t end = text.find('.', start);
        *part = std::strtoll(text.substr(start, end - start).c_str(), nullptr, 10);
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return version;
}

}  // namespace qemu
