// What a backend needs besides its options: where its messages go and the few facts that
// span chardevs (QEMU's single stdio). One ChardevContext belongs to each ChardevRegistry.
#pragma once

#include <functional>
#include <string_view>

#include "util/osdep.h"

namespace qemu::chr {

// Where backend messages go. QEMU prints them with info_report/error_report/error_printf;
// the owner decides the "qemu-system-x86_64: -chardev ...: " location prefix.
struct ChardevReporter {
    // info_report: "QEMU waiting for connection on: ..." (QEMU prints "info: " before it).
    std::function<void(std::string_view)> info;
    // error_report from the main loop: "Unable to connect character device ID: ...".
    std::function<void(std::string_view)> error;
    // error_printf, printed as is (ends with its own newline):
    // "char device redirected to /dev/pts/N (label ID)\n".
    std::function<void(std::string_view)> print;
};

struct ChardevContext {
    ChardevReporter reporter;
    bool stdio_in_use = false;
    // Where file, pipe and pty backends look up /dev/fdset/N; tools and unit tests may leave
    // it without a registry, and then such names fail as they do in qemu-img.
    OpenContext open;
};

}  // namespace qemu::chr
