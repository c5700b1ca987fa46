// Command-line parsing for qemu-system-x86_64 (the subset a machine without CPUs needs).
#include "system/options.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "qobject/json.h"
#include "util/qemu-option.h"

namespace qemu {

namespace {

struct OptionInfo {
    std::string_view name;
    bool has_arg;
};

// Every option the emulator knows, as QEMU spells it.
constexpr std::array kOptions = {
    OptionInfo{"h", false},          OptionInfo{"help", false},        OptionInfo{"version", false},
    OptionInfo{"machine", true},     OptionInfo{"M", true},            OptionInfo{"accel", true},
    OptionInfo{"qmp", true},         OptionInfo{"qmp-pretty", true},   OptionInfo{"chardev", true},
    OptionInfo{"mon", true},         OptionInfo{"qtest", true},        OptionInfo{"qtest-log", true},
    OptionInfo{"S", false},          OptionInfo{"name", true},         OptionInfo{"nodefaults", false},
    OptionInfo{"display", true},     OptionInfo{"nographic", false},   OptionInfo{"m", true},
    OptionInfo{"pidfile", true},     OptionInfo{"daemonize", false},   OptionInfo{"vga", true},
    OptionInfo{"audio", true},       OptionInfo{"net", true},          OptionInfo{"run-with", true},
    OptionInfo{"no-user-config", false}, OptionInfo{"nodefconfig", false}, OptionInfo{"serial", true},
    OptionInfo{"monitor", true},     OptionInfo{"parallel", true},     OptionInfo{"trace", true},
    OptionInfo{"no-shutdown", false}, OptionInfo{"enable-kvm", false}, OptionInfo{"add-fd", true},
    OptionInfo{"drive", true},       OptionInfo{"blockdev", true},     OptionInfo{"object", true},
    OptionInfo{"device", true},      OptionInfo{"sandbox", true},      OptionInfo{"smp", true},
    OptionInfo{"uuid", true},        OptionInfo{"rtc", true},          OptionInfo{"boot", true},
    OptionInfo{"overcommit", true},  OptionInfo{"msg", true},          OptionInfo{"audiodev", true},
    OptionInfo{"no-acpi", false},
};

const OptionInfo* find_option(std::string_view name)
{
    for (const auto& option : kOptions) {
        if (option.name == name) {
            return &option;
        }
    }
    return nullptr;
}

// "-opt arg: message", QEMU's location prefix for option errors.
std::unexpected<Error> option_error(std::string_view option, std::string_view arg, std::string message)
{
    std::string text = "-" + std::string(option);
    if (!arg.empty()) {
        text += " " + std::string(arg);
    }
    return make_error(text + ": " + message);
}

Result<void> parse_machine(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    if (arg == "help" || arg == "?") {
        config.help = HelpRequest::machines;
        return {};
    }
    auto opts = QemuOpts::parse(arg, "type");
    if (!opts) {
        return option_error(option, arg, opts.error().desc);
    }
    auto type = opts->get("type");
    // "empty" is ours: the same machine under a name libvirt accepts for a domain (it
    // refuses "none").
    if (type && *type != "none" && *type != "empty") {
        return make_error("unsupported machine type\nUse -machine help to list supported machines");
    }
    config.machine_empty = type && *type == "empty";
    for (const auto& [key, value] : opts->entries()) {
        if (key == "type") {
            continue;
        }
        // Boolean properties every QEMU machine has; with no guest they change nothing.
        if (key == "usb" || key == "dump-guest-core" || key == "mem-merge" || key == "graphics") {
            if (auto valid = parse_option_bool(key, value); !valid) {
                return std::unexpected(std::move(valid).error());  // QEMU names no option here
            }
            continue;
        }
        if (key == "accel") {
            // A list like "kvm:tcg": the first usable accelerator wins, as QEMU does. When none
            // is, QEMU has reported each (without the option's location) as it tried it.
            bool usable = false;
            std::string refusals;
            size_t start = 0;
            while (start <= value.size()) {
                size_t end = value.find(':', start);
                std::string accel = value.substr(start, end == std::string::npos ? std::string::npos : end - start);
                if (accel == "qtest" || accel == "tcg") {
                    config.qtest_accel = config.qtest_accel || accel == "qtest";
                    usable = true;
                    break;
                }
                refusals += (refusals.empty() ? "" : "\nqemu-system-x86_64: ") + ("invalid accelerator " + accel);
                if (end == std::string::npos) {
                    break;
                }
                start = end + 1;
            }
            if (!usable) {
                return make_error(refusals);
            }
            continue;
        }
        return make_error("Property 'none-machine." + key + "' not found");
    }
    return {};
}

bool is_help_option(std::string_view value)
{
    return value == "help" || value == "?";
}

Result<void> parse_accel(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    auto opts = QemuOpts::parse(arg, "accel");
    if (!opts) {
        return option_error(option, arg, opts.error().desc);
    }
    // QEMU lists the accelerators when -accel names none, too ("-accel x=y").
    auto named = opts->get("accel");
    if (!named || is_help_option(*named)) {
        config.help = HelpRequest::accelerators;
        return {};
    }
    const std::string& accel = *named;
    if (accel == "qtest") {
        config.qtest_accel = true;
    } else if (accel != "tcg") {
        return option_error(option, arg, "invalid accelerator " + accel);
    }
    return {};
}

Result<void> parse_memory(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    auto opts = QemuOpts::parse(arg, "size");
    if (!opts) {
        return option_error(option, arg, opts.error().desc);
    }
    static constexpr std::array<std::string_view, 3> allowed = {"size", "slots", "maxmem"};
    if (auto ok = opts->check_allowed(allowed); !ok) {
        return option_error(option, arg, ok.error().desc);
    }
    auto size_text = opts->get("size");
    if (!size_text) {
        return {};
    }
    // A bare number means MiB.
    std::string text = *size_text;
    if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.back()))) {
        text += "M";
    }
    auto size = parse_option_size("size", text);
    if (!size) {
        return option_error(option, arg, size.error().desc);
    }
    if (*size == 0) {
        return {};  // QEMU keeps its default for 0
    }
    config.ram_size = *size;
    return {};
}

// The items of a keyval argument ("a=1,b,c=x,,y"), split at single commas.
std::vector<std::string> keyval_items(std::string_view arg)
{
    std::vector<std::string> items(1);
    for (size_t i = 0; i < arg.size(); i++) {
        if (arg[i] == ',' && i + 1 < arg.size() && arg[i + 1] == ',') {
            items.back() += ',';
            i++;
        } else if (arg[i] == ',') {
            items.emplace_back();
        } else {
            items.back() += arg[i];
        }
    }
    return items;
}

// keyval_parse's help request: an item that is "help" or "?" with no '='.
bool keyval_asks_help(std::string_view arg)
{
    for (const std::string& item : keyval_items(arg)) {
        if (is_help_option(item)) {
            return true;
        }
    }
    return false;
}

// -object: this build has no user-creatable object type, so "help" lists none and every
// type is refused with the text QEMU gives for a type it does not know.
Result<void> parse_object(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    std::optional<std::string> type;
    if (arg.starts_with('{')) {
        auto json = json_parse(arg);
        if (!json) {
            return option_error(option, arg, json.error().desc);
        }
        if (json->is_object() && json->contains("qom-type") && json->at("qom-type").is_string()) {
            type = json->at("qom-type").get<std::string>();
        }
    } else {
        auto items = keyval_items(arg);
        for (size_t i = 0; i < items.size(); i++) {
            if (items[i].starts_with("qom-type=")) {
                type = items[i].substr(9);
            } else if (i == 0 && items[i].find('=') == std::string::npos) {
                type = items[i];  // the implied key
            }
        }
        if (type && is_help_option(*type)) {
            config.help = HelpRequest::objects;
            return {};
        }
    }
    if (!type) {
        return option_error(option, arg, "Parameter 'qom-type' is missing");
    }
    // The one object type there is: libvirt's master key (options-domain.cc).
    if (*type == "secret") {
        return parse_domain_option(config, option, arg);
    }
    return option_error(option, arg, "Parameter 'qom-type' does not accept value '" + *type + "'");
}

Result<void> parse_mon(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    auto opts = QemuOpts::parse(arg, "chardev");
    if (!opts) {
        return option_error(option, arg, opts.error().desc);
    }
    static constexpr std::array<std::string_view, 4> allowed = {"chardev", "mode", "pretty", "id"};
    if (auto ok = opts->check_allowed(allowed); !ok) {
        return option_error(option, arg, ok.error().desc);
    }
    MonitorSpec spec;
    spec.chardev_id = opts->get("chardev").value_or("");
    auto mode = opts->get("mode").value_or("readline");
    if (mode == "control") {
        spec.control = true;
    } else if (mode == "readline") {
        spec.control = false;
    } else {
        return option_error(option, arg, "Parameter 'mode' does not accept value '" + mode + "'");
    }
    auto pretty = opts->get_bool("pretty");
    if (!pretty) {
        return option_error(option, arg, pretty.error().desc);
    }
    spec.pretty = pretty->value_or(false);
    config.monitors.push_back(std::move(spec));
    return {};
}

Result<void> parse_add_fd(EmulatorConfig& config, std::string_view option, std::string_view arg)
{
    auto spec = parse_add_fd_spec("-add-fd " + std::string(arg), arg);
    if (!spec) {
        return option_error(option, arg, spec.error().desc);
    }
    config.add_fds.push_back(std::move(*spec));
    return {};
}

}  // namespace

Result<EmulatorConfig> parse_command_line(int argc, char** argv)
{
    // QEMU's first pass: every option must exist and have its argument before any is acted
    // on (so a help request that exits early still fails on a bad option after it).
    for (int i = 1; i < argc; i++) {
        std::string_view word = argv[i];
        if (word.empty() || word[0] != '-') {
            continue;
        }
        std::string_view name = word.substr(word.starts_with("--") ? 2 : 1);
        const OptionInfo* info = find_option(name);
        if (!info) {
            return make_error(std::string(word) + ": invalid option");
        }
        if (info->has_arg && ++i >= argc) {
            return make_error("-" + std::string(name) + ": requires an argument");
        }
    }
    EmulatorConfig config;
    int compat_monitors = 0;
    int serials = 0;
    int parallels = 0;
    for (int i = 1; i < argc; i++) {
        std::string_view word = argv[i];
        if (word.empty() || word[0] != '-') {
            // QEMU takes a bare argument as a disk image for the default drive.
            return make_error(std::string(word) + ": drives are given with -drive or -blockdev");
        }
        std::string_view name = word.substr(word.starts_with("--") ? 2 : 1);
        const OptionInfo* info = find_option(name);
        if (!info) {
            return make_error(std::string(word) + ": invalid option");
        }
        std::string_view arg;
        if (info->has_arg) {
            if (i + 1 >= argc) {
                return make_error("-" + std::string(name) + ": requires an argument");
            }
            arg = argv[++i];
        }
        if (name == "h" || name == "help") {
            config.show_help = true;
        } else if (name == "version") {
            config.show_version = true;
        } else if (name == "machine" || name == "M") {
            TRY_VOID(parse_machine(config, name, arg));
        } else if (name == "accel") {
            TRY_VOID(parse_accel(config, name, arg));
            if (config.help == HelpRequest::accelerators) {
                return config;  // QEMU prints the list while it reads the options
            }
        } else if (name == "enable-kvm") {
            return make_error("failed to initialize kvm: No such file or directory");
        } else if (name == "qmp" || name == "qmp-pretty" || name == "monitor") {
            if (name == "monitor" && arg == "none") {
                continue;
            }
            std::string id = "compat_monitor" + std::to_string(compat_monitors++);
            config.chardevs.push_back(ChardevSpec{
                .option = "-" + std::string(name) + " " + std::string(arg),
                .value = std::string(arg),
                .legacy_id = id,
                .option_name = "-" + std::string(name),
            });
            config.monitors.push_back(MonitorSpec{
                .chardev_id = id,
                .control = name != "monitor",
                .pretty = name == "qmp-pretty",
            });
        } else if (name == "chardev") {
            config.chardevs.push_back(ChardevSpec{
                .option = "-chardev " + std::string(arg),
                .value = std::string(arg),
                .legacy_id = "",
                .option_name = "-chardev",
            });
        } else if (name == "drive") {
            config.drives.push_back(BlockSpec{"-drive " + std::string(arg), std::string(arg)});
        } else if (name == "blockdev") {
            if (!arg.starts_with('{') && keyval_asks_help(arg)) {
                return option_error(name, arg, "Help is not available for this option");
            }
            config.blockdevs.push_back(BlockSpec{"-blockdev " + std::string(arg), std::string(arg)});
        } else if (name == "object") {
            TRY_VOID(parse_object(config, name, arg));
            if (config.help == HelpRequest::objects) {
                return config;  // QEMU prints the list while it reads the options
            }
        } else if (name == "device") {
            config.devices.push_back(BlockSpec{"-device " + std::string(arg), std::string(arg)});
        } else if (name == "add-fd") {
            TRY_VOID(parse_add_fd(config, name, arg));
        } else if (name == "mon") {
            TRY_VOID(parse_mon(config, name, arg));
        } else if (name == "qtest") {
            config.qtest_spec = std::string(arg);
            config.qtest_chardev = "qtest";
            config.chardevs.push_back(ChardevSpec{
                .option = "-qtest " + std::string(arg),
                .value = std::string(arg),
                .legacy_id = "qtest",
                .option_name = "-qtest",
            });
        } else if (name == "qtest-log") {
            config.qtest_log = std::string(arg);
        } else if (name == "S") {
            config.start_stopped = true;
        } else if (name == "name") {
            auto opts = QemuOpts::parse(arg, "guest");
            if (!opts) {
                return option_error(name, arg, opts.error().desc);
            }
            static constexpr std::array<std::string_view, 3> kNameKeys = {"guest", "process", "debug-threads"};
            if (auto ok = opts->check_allowed(kNameKeys); !ok) {
                return option_error(name, arg, ok.error().desc);
            }
            if (auto threads = opts->get_bool("debug-threads"); !threads) {
                return option_error(name, arg, threads.error().desc);
            }
            config.name = opts->get("guest");
        } else if (name == "nodefaults") {
            config.nodefaults = true;
        } else if (name == "display") {
            std::string type(arg.substr(0, arg.find(',')));
            if (type != "none") {
                return option_error(name, arg, "Parameter 'type' does not accept value '" + type + "'");
            }
        } else if (name == "vga") {
            if (arg != "none") {
                return make_error("unknown vga type: " + std::string(arg));
            }
        } else if (name == "audio" || name == "net") {
            if (arg.substr(0, arg.find(',')) != "none") {
                return option_error(name, arg, "only 'none' is available in this build");
            }
        } else if (name == "m") {
            TRY_VOID(parse_memory(config, name, arg));
        } else if (name == "pidfile") {
            config.pidfile = std::string(arg);
        } else if (name == "daemonize") {
            config.daemonize = true;
        } else if (name == "smp" || name == "uuid" || name == "rtc" || name == "boot" || name == "overcommit" ||
            name == "msg" || name == "audiodev" || name == "no-acpi") {
            TRY_VOID(parse_domain_option(config, name, arg));
        } else if (name == "sandbox") {
            auto sandbox = parse_sandbox_options(arg);
            if (!sandbox) {
                return option_error(name, arg, sandbox.error().desc);
            }
            config.sandbox = *sandbox;
        } else if (name == "serial" || name == "parallel") {
            if (arg != "none" && arg != "null") {
                config.chardevs.push_back(ChardevSpec{
                    .option = "-" + std::string(name) + " " + std::string(arg),
                    .value = std::string(arg),
                    // serial_parse and parallel_parse number each kind on its own.
                    .legacy_id = std::string(name) + std::to_string(name == "serial" ? serials++ : parallels++),
                    .option_name = "-" + std::string(name),
                });
            }
        }
        // -nographic, -no-user-config, -nodefconfig, -no-shutdown, -run-with and -trace
        // change nothing for a machine without devices or a display.
    }
    // Our "empty" machine has no ACPI to turn off; QEMU's none machine refuses -no-acpi.
    if (config.no_acpi && !config.machine_empty) {
        return make_error("Property 'none-machine.acpi' not found");
    }
    return config;
}

std::string emulator_help_text()
{
    return "usage: qemu-system-x86_64 [options]\n"
           "\n"
           "Standard options:\n"
           "-h or -help      display this help and exit\n"
           "-version         display version information and exit\n"
           "-machine none[,accel=qtest]\n"
           "                 the only machine: no CPU and no devices\n"
           "-accel qtest     the qtest accelerator\n"
           "-m [size=]megs   guest RAM size (for the qtest protocol)\n"
           "-name string     set the name of the guest\n"
           "-S               do not start the VM at startup\n"
           "-nodefaults      no default devices (there are none anyway)\n"
           "-display none    no display\n"
           "-nographic       no display\n"
           "-pidfile file    write the PID to file\n"
           "-daemonize       daemonize QEMU after initializing\n"
           "\n"
           "Character devices and monitors:\n"
           "-chardev backend,id=id[,options]\n"
           "                 backends: null, socket, stdio, file, pipe, pty, ringbuf\n"
           "-mon [chardev=]name[,mode=readline|control][,pretty[=on|off]]\n"
           "-qmp dev         QMP monitor on dev (e.g. unix:path,server=on,wait=off)\n"
           "-qmp-pretty dev  QMP monitor with pretty output\n"
           "-qtest dev       qtest protocol on dev\n"
           "-drive [file=file][,if=none][,id=id][,format=f][,readonly=on|off][,cache=mode][,aio=mode]\n"
           "                 [,node-name=name][,file.option=value...]\n"
           "                 a drive (only if=none: this machine has no controllers)\n"
           "-blockdev driver=d,node-name=n[,prop=value...] or JSON\n"
           "                 a block node, as QMP's blockdev-add\n"
           "-qtest-log file  log of the qtest protocol (default stderr, 'none' for none)\n";
}

}  // namespace qemu
