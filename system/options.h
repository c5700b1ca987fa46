// The emulator's command line, parsed into one plain description before anything is
// created, with QEMU's messages for unknown options, missing arguments and bad values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/fdset-cmdline.h"
#include "util/sandbox.h"

namespace qemu {

// One -mon (or the -mon that -qmp implies).
struct MonitorSpec {
    std::string chardev_id;
    bool control = true;  // mode=control; mode=readline is HMP
    bool pretty = false;
};

// One -chardev given as text, or a legacy filename that -qmp/-qtest turned into one.
struct ChardevSpec {
    std::string option;   // the text as given, for messages
    std::string value;    // -chardev argument or legacy filename
    std::string legacy_id;  // set for the legacy filename form
    std::string option_name;  // "-chardev", "-qmp", ...
};

// One -drive or -blockdev, kept as text: it is opened once the fd sets exist.
struct BlockSpec {
    std::string option;  // "-drive ARG", for messages
    std::string value;
};

// One -object secret: only checked (and its file read) at start-up; nothing here decrypts.
struct SecretSpec {
    std::string id;
    std::optional<std::string> file;
};

// A list the command line asked for instead of a run. Machines are listed once the whole
// command line has been read; accelerators and objects as soon as QEMU reads the option.
enum class HelpRequest { none, machines, accelerators, objects };

struct EmulatorConfig {
    bool start_stopped = false;  // -S
    bool daemonize = false;
    bool show_version = false;
    bool show_help = false;
    HelpRequest help = HelpRequest::none;
    bool nodefaults = false;
    std::optional<std::string> name;
    std::optional<std::string> pidfile;
    // -sandbox: QEMU's seccomp deny-list once daemonized; our fs=deny seals the file
    // system once the command line has been carried out.
    SandboxOptions sandbox;
    // Options a management layer adds for a domain (options-domain.cc).
    std::optional<std::string> uuid;  // -uuid, lower case
    bool msg_timestamp = false;  // -msg timestamp=on
    bool machine_empty = false;  // -machine empty (ours), where -no-acpi is accepted
    bool no_acpi = false;
    std::vector<SecretSpec> secrets;
    // Machine none maps no RAM unless -m asks for some.
    uint64_t ram_size = 0;
    bool qtest_accel = false;
    std::vector<AddFdSpec> add_fds;  // each validated when the emulator starts
    std::vector<ChardevSpec> chardevs;
    std::vector<MonitorSpec> monitors;
    std::vector<BlockSpec> blockdevs;
    std::vector<BlockSpec> drives;
    // -device, kept as text: this build has no device model, so each is only checked.
    std::vector<BlockSpec> devices;
    std::optional<std::string> qtest_chardev;  // id of the chardev -qtest created
    std::optional<std::string> qtest_spec;     // the -qtest argument, for messages
    std::optional<std::string> qtest_log;
};

// -smp, -uuid, -rtc, -boot, -overcommit, -msg, -audiodev, -no-acpi, -object (secret only).
Result<void> parse_domain_option(EmulatorConfig& config, std::string_view name, std::string_view arg);

// argv[0] is skipped. The error text is what QEMU prints after "qemu-system-x86_64: ".
Result<EmulatorConfig> parse_command_line(int argc, char** argv);

std::string emulator_help_text();

}  // namespace qemu
