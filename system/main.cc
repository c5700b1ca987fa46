// qemu-system-x86_64's entry point: parse the command line, then run the emulator.
#include <cstdio>

#include "system/emulator.h"
#include "system/options.h"

int main(int argc, char** argv)
{
    auto config = qemu::parse_command_line(argc, argv);
    if (!config) {
        std::fprintf(stderr, "qemu-system-x86_64: %s\n", config.error().desc.c_str());
        return 1;
    }
    return qemu::run_emulator(*config);
}
