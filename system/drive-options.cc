// -blockdev and -drive (see drive-options.h).
#include "system/drive-options.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "block/blockdev-options.h"
#include "block/drivers.h"
#include "block/throttle.h"
#include "qobject/json.h"
#include "util/qemu-option.h"

namespace qemu {

namespace {

// On the command line errors name the option; HMP drive_add's (no option) are bare.
std::unexpected<Error> spec_error(const BlockSpec& spec, const std::string& message)
{
    return make_error(spec.option.empty() ? message : spec.option + ": " + message);
}

// QEMU's BlockInterfaceType order: a drive's type is its index here.
constexpr std::array<std::string_view, 9> kInterfaces = {
    "none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen"};

// Dotted keys carry only strings; these members are typed in BlockdevOptions, so their
// values are converted the way QEMU's keyval input visitor does before decoding.
constexpr std::array<std::string_view, 7> kBoolKeys = {
    "read-only", "auto-read-only", "force-share", "direct", "no-flush", "drop-cache", "x-check-cache-dropped"};
constexpr std::array<std::string_view, 3> kIntKeys = {"offset", "size", "aio-max-batch"};

JsonValue keyval_scalar(std::string_view leaf, const std::string& value)
{
    for (std::string_view key : kBoolKeys) {
        if (leaf == key && (value == "on" || value == "off")) {
            return JsonValue(value == "on");
        }
    }
    for (std::string_view key : kIntKeys) {
        int64_t number = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (leaf == key && ec == std::errc() && end == value.data() + value.size()) {
            return JsonValue(number);
        }
    }
    return JsonValue(value);
}

// bdrv_parse_cache_mode.
bool apply_cache_mode(std::string_view mode, block::BlockOptions& options, block::DriveOpenOptions& how)
{
    bool direct = false;
    bool no_flush = false;
    bool writethrough = false;
    if (mode == "off" || mode == "none") {
        direct = true;
    } else if (mode == "directsync") {
        direct = true;
        writethrough = true;
    } else if (mode == "writethrough") {
        writethrough = true;
    } else if (mode == "unsafe") {
        no_flush = true;
    } else if (mode != "writeback") {
        return false;
    }
    // Explicit cache.direct / cache.no-flush win over the mode.
    options.emplace("cache.direct", direct ? "on" : "off");
    options.emplace("cache.no-flush", no_flush ? "on" : "off");
    how.writethrough = writethrough;
    return true;
}

// What QEMU says about an interface the none machine has no controller for.
std::string interface_error(const block::DriveSlot& slot)
{
    if (kInterfaces[slot.type] == "virtio") {
        return "No 'PCI' bus found for device 'virtio-blk-pci'";
    }
    return "machine type does not support if=" + std::string(kInterfaces[slot.type]) +
        ",bus=" + std::to_string(slot.bus) + ",unit=" + std::to_string(slot.unit);
}

// drive_new's address: bus and unit, or index, or else the first free unit on the bus.
// if_max_devs: two units per IDE bus, seven per SCSI bus, no limit elsewhere.
Result<block::DriveSlot> drive_slot(
    const block::BlockDevices& devices, const BlockSpec& spec, const QemuOpts& opts, int type)
{
    const int64_t max_devs = type == 1 ? 2 : type == 2 ? 7 : 0;
    // check_device_keys has refused values that are not numbers.
    auto number = [&opts](const char* key, int64_t fallback) -> int64_t {
        auto value = opts.get(key);
        auto parsed = value ? parse_option_number(key, *value) : Result<uint64_t>(0);
        return value && parsed ? static_cast<int64_t>(*parsed) : fallback;
    };
    block::DriveSlot slot{.type = type, .bus = number("bus", 0), .unit = number("unit", -1)};
    const int64_t index = number("index", -1);
    if (index != -1) {
        if (slot.bus != 0 || slot.unit != -1) {
            return spec_error(spec, "index cannot be used with bus and unit");
        }
        slot.bus = max_devs ? index / max_devs : 0;
        slot.unit = max_devs ? index % max_devs : index;
    }
    if (slot.unit == -1) {
        slot.unit = 0;
        while (devices.drive_at(slot)) {
            if (++slot.unit == max_devs) {
                slot.unit = 0;
                ++slot.bus;
            }
        }
    }
    if (max_devs && slot.unit >= max_devs) {
        return spec_error(
            spec, "unit " + std::to_string(slot.unit) + " too big (max is " + std::to_string(max_devs - 1) + ")");
    }
    if (devices.drive_at(slot)) {
        return spec_error(spec,
            "drive with bus=" + std::to_string(slot.bus) + ", unit=" + std::to_string(slot.unit) +
                " (index=" + std::to_string(index) + ") exists");
    }
    return slot;
}

// The keys of -drive that belong to the guest device (drive_new's part). There is no
// guest device here, but the values are checked with QEMU's texts, and those that change
// the block node (media=cdrom is read-only) are applied. These checks come before
// format=help is honoured, as in QEMU; check_late_device_keys' come after it.
Result<void> check_device_keys(const BlockSpec& spec, const QemuOpts& opts, block::BlockOptions& options)
{
    if (auto media = opts.get("media")) {
        if (*media == "cdrom") {
            options["read-only"] = "on";
        } else if (*media != "disk") {
            return spec_error(spec, "'" + *media + "' invalid media");
        }
    }
    for (const char* key : {"index", "bus", "unit"}) {
        if (auto value = opts.get(key)) {
            if (auto number = parse_option_number(key, *value); !number) {
                return spec_error(spec, number.error().desc);
            }
        }
    }
    for (const char* key : {"copy-on-read", "snapshot"}) {
        if (auto value = opts.get(key)) {
            if (auto flag = parse_option_bool(key, *value); !flag) {
                return spec_error(spec, flag.error().desc);
            }
        }
    }
    bool read_only = options.contains("read-only") && options.at("read-only") == "on";
    if (opts.get("copy-on-read") == std::optional<std::string>("on") && read_only) {
        std::fprintf(stderr, "qemu-system-x86_64: %s: warning: disabling copy-on-read on read-only drive\n",
            spec.option.c_str());
    }
    return {};
}

Result<void> check_late_device_keys(const BlockSpec& spec, const QemuOpts& opts)
{
    for (bool is_read : {false, true}) {
        if (auto action = opts.get(is_read ? "rerror" : "werror")) {
            if (*action != "ignore" && *action != "report" && *action != "stop" && (is_read || *action != "enospc")) {
                return spec_error(
                    spec, "'" + *action + "' invalid " + std::string(is_read ? "read" : "write") + " error action");
            }
        }
    }
    if (opts.get("snapshot") == std::optional<std::string>("on")) {
        // QEMU puts a temporary qcow2 overlay on top; without qcow2 the writes would reach
        // the image itself, which is what snapshot=on exists to prevent.
        return spec_error(spec, "snapshot=on needs a qcow2 overlay, and this build has no qcow2 driver");
    }
    return {};
}

// drive_new's old names for the throttling options.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kThrottleAliases = {{
    {"iops", "throttling.iops-total"},
    {"iops_rd", "throttling.iops-read"},
    {"iops_wr", "throttling.iops-write"},
    {"bps", "throttling.bps-total"},
    {"bps_rd", "throttling.bps-read"},
    {"bps_wr", "throttling.bps-write"},
    {"iops_max", "throttling.iops-total-max"},
    {"iops_rd_max", "throttling.iops-read-max"},
    {"iops_wr_max", "throttling.iops-write-max"},
    {"bps_max", "throttling.bps-total-max"},
    {"bps_rd_max", "throttling.bps-read-max"},
    {"bps_wr_max", "throttling.bps-write-max"},
    {"iops_size", "throttling.iops-size"},
    {"group", "throttling.group"},
}};

// The numbers among -drive's throttling.* options (QEMU's THROTTLE_OPTS): the bucket a
// name sets, and which of its fields. Returns false for a name that is none of them.
bool set_throttle_number(block::ThrottleConfig& config, std::string_view key, uint64_t value)
{
    using block::ThrottleBucket;
    constexpr std::array<std::pair<std::string_view, ThrottleBucket>, 6> kBuckets = {{
        {"bps-total", ThrottleBucket::BpsTotal},
        {"bps-read", ThrottleBucket::BpsRead},
        {"bps-write", ThrottleBucket::BpsWrite},
        {"iops-total", ThrottleBucket::OpsTotal},
        {"iops-read", ThrottleBucket::OpsRead},
        {"iops-write", ThrottleBucket::OpsWrite},
    }};
    if (key == "iops-size") {
        config.op_size = value;
        return true;
    }
    for (const auto& [name, bucket] : kBuckets) {
        if (!key.starts_with(name)) {
            continue;
        }
        std::string_view rest = key.substr(name.size());
        if (rest.empty()) {
            config[bucket].avg = static_cast<double>(value);
        } else if (rest == "-max") {
            config[bucket].max = static_cast<double>(value);
        } else if (rest == "-max-length") {
            config[bucket].burst_length = value;
        } else {
            continue;
        }
        return true;
    }
    return false;
}

// extract_common_blockdev_options' throttling part, after drive_new's renames. Options that
// are not throttling ones are left alone.
Result<bool> take_throttle_option(const BlockSpec& spec, const QemuOpts& opts, std::string key,
    const std::string& value, block::DriveOpenOptions& how)
{
    for (const auto& [alias, name] : kThrottleAliases) {
        if (key == alias) {
            if (opts.get(std::string(name))) {
                return spec_error(
                    spec, "'" + std::string(name) + "' and its alias '" + key + "' can't be used at the same time");
            }
            key = name;
        }
    }
    if (!key.starts_with("throttling.")) {
        return false;
    }
    std::string_view leaf = std::string_view(key).substr(std::string_view("throttling.").size());
    if (leaf == "group") {
        how.throttle_group = value;
        return true;
    }
    block::ThrottleConfig config = how.throttle.value_or(block::ThrottleConfig{});
    auto number = parse_option_number(key, value);
    // Only an option QEMU knows gets its message; others reach the driver.
    if (!set_throttle_number(config, leaf, number.value_or(0))) {
        return false;
    }
    if (!number) {
        return spec_error(spec, number.error().desc);
    }
    how.throttle = config;
    return true;
}

// "-drive format=help": bdrv_format_print's lines, which list the same names twice.
std::string format_help_text()
{
    std::string names;
    for (std::string_view name : block::format_names()) {
        names += " " + std::string(name);
    }
    return "Supported formats:" + names + "\nSupported formats (read-only):" + names + "\n";
}

// Returns the help text instead of opening anything when the drive asks for format=help.
// A drive on an interface the machine lacks fails: at start-up with the message QEMU's
// machine gives, hot-added (HMP drive_add) with drive_add's, and is gone again.
Result<std::optional<std::string>> open_drive(block::BlockDevices& devices, const BlockSpec& spec, bool hotplug)
{
    auto opts = QemuOpts::parse(spec.value);
    if (!opts) {
        return spec_error(spec, opts.error().desc);
    }
    block::BlockOptions options;
    block::DriveOpenOptions how{.flags = block::OpenFlags{.read_write = true, .auto_read_only = true}};
    std::optional<std::string> id;
    std::optional<std::string> filename;
    std::string interface = "none";
    std::map<std::string, std::string> stats_intervals;  // by what follows the dot
    for (const auto& [key, value] : opts->entries()) {
        if (TRY(take_throttle_option(spec, *opts, key, value, how))) {
            continue;
        }
        if (key == "id") {
            id = value;
        } else if (key == "file") {
            // QEMU takes an empty file= as none given.
            filename = value.empty() ? std::nullopt : std::optional<std::string>(value);
        } else if (key == "if") {
            if (std::find(kInterfaces.begin(), kInterfaces.end(), value) == kInterfaces.end()) {
                return spec_error(spec, "unsupported bus type '" + value + "'");
            }
            interface = value;
        } else if (key == "format") {
            options["driver"] = value;
        } else if (key == "readonly") {
            // drive_new renames it before checking, so QEMU's message names read-only.
            auto read_only = parse_option_bool("read-only", value);
            if (!read_only) {
                return spec_error(spec, read_only.error().desc);
            }
            options["read-only"] = *read_only ? "on" : "off";
        } else if (key == "cache") {
            // Handled below, after explicit cache.* keys are known.
        } else if (key == "aio") {
            if (value != "threads" && value != "native" && value != "io_uring") {
                return spec_error(spec, "invalid aio option");
            }
            options["file.aio"] = value;
        } else if (key == "stats-account-invalid" || key == "stats-account-failed") {
            auto flag = parse_option_bool(key, value);
            if (!flag) {
                return spec_error(spec, flag.error().desc);
            }
            (key == "stats-account-invalid" ? how.account_invalid : how.account_failed) = *flag;
        } else if (key.starts_with("stats-intervals.")) {
            stats_intervals[key.substr(std::string_view("stats-intervals.").size())] = value;
        } else if (key == "media" || key == "index" || key == "bus" || key == "unit" || key == "werror" ||
            key == "rerror" || key == "copy-on-read" || key == "snapshot") {
            // Device-side settings: checked as QEMU does, then applied below.
        } else {
            options[key] = value;
        }
    }
    TRY_VOID(check_device_keys(spec, *opts, options));
    const int type =
        static_cast<int>(std::find(kInterfaces.begin(), kInterfaces.end(), interface) - kInterfaces.begin());
    const block::DriveSlot slot = TRY(drive_slot(devices, spec, *opts, type));
    // qdict_array_split: stats-intervals.0, .1, ... as far as they go without a gap.
    for (size_t i = 0; stats_intervals.contains(std::to_string(i)); ++i) {
        how.stats_intervals.push_back(stats_intervals.extract(std::to_string(i)).mapped());
    }
    if (!stats_intervals.empty()) {
        return spec_error(spec, "Invalid option stats-intervals." + stats_intervals.begin()->first);
    }
    if (auto valid = how.throttle ? how.throttle->validate() : Result<void>{}; !valid) {
        return spec_error(spec, valid.error().desc);
    }
    if (auto cache = opts->get("cache"); cache && !apply_cache_mode(*cache, options, how)) {
        return spec_error(spec, "invalid cache option");
    }
    // The node checks it again when it opens; this is for the order of messages only.
    if (auto zeroes = opts->get("detect-zeroes"); zeroes && *zeroes != "off" && *zeroes != "on" && *zeroes != "unmap") {
        return spec_error(spec, "invalid parameter value: " + *zeroes);
    }
    if (options.contains("driver") && (options.at("driver") == "help" || options.at("driver") == "?")) {
        return format_help_text();
    }
    TRY_VOID(check_late_device_keys(spec, *opts));
    if (!id) {
        // drive_new's name: the interface, the bus where it has more than one, "-cd" or
        // "-hd" on IDE and SCSI, and the unit.
        std::string media;
        if (type == 1 || type == 2) {
            media = opts->get("media") == std::optional<std::string>("cdrom") ? "-cd" : "-hd";
        }
        id = interface + (type == 1 || type == 2 ? std::to_string(slot.bus) : "") + media + std::to_string(slot.unit);
    } else if (devices.find_drive(*id)) {
        return spec_error(spec, "Duplicate ID '" + *id + "' for drive");  // one made up for an earlier drive
    }
    if (auto ok = devices.add_drive(*id, filename, std::move(options), how, slot); !ok) {
        return spec_error(spec, ok.error().desc);
    }
    if (interface != "none") {
        if (hotplug) {
            devices.del_drive(*id);
            return make_error("Can't hot-add drive to type " + std::to_string(type));
        }
        return spec_error(spec, interface_error(slot));
    }
    return std::nullopt;
}

// QEMU checks -drive ids while it reads the command line, before any drive opens (so
// before a format=help on an earlier drive is honoured).
Result<void> check_ids(const std::vector<BlockSpec>& specs)
{
    std::vector<std::string> seen;
    for (const BlockSpec& spec : specs) {
        auto opts = QemuOpts::parse(spec.value);
        if (!opts) {
            continue;  // reported when this drive is opened
        }
        auto id = opts->get("id");
        if (!id) {
            continue;
        }
        if (!id_wellformed(*id)) {
            return spec_error(spec,
                "Parameter 'id' expects an identifier\n"
                "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.");
        }
        if (std::ranges::find(seen, *id) != seen.end()) {
            return spec_error(spec, "Duplicate ID '" + *id + "' for drive");
        }
        seen.push_back(*id);
    }
    return {};
}

}  // namespace

Result<JsonValue> parse_keyval(std::string_view text)
{
    JsonValue root = JsonValue::object();
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eq = text.find('=', pos);
        size_t comma = text.find(',', pos);
        if (eq == std::string_view::npos || (comma != std::string_view::npos && comma < eq)) {
            std::string key(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
            return make_error("Expected '=' after parameter '" + key + "'");
        }
        std::string key(text.substr(pos, eq - pos));
        std::string value;
        pos = eq + 1;
        while (pos < text.size()) {
            if (text[pos] == ',') {
                if (pos + 1 < text.size() && text[pos + 1] == ',') {
                    value += ',';
                    pos += 2;
                    continue;
                }
                break;
            }
            value += text[pos++];
        }
        if (pos < text.size()) {
            ++pos;  // the separating comma
        }
        JsonValue* node = &root;
        std::string_view rest = key;
        std::string prefix;
        for (;;) {
            size_t dot = rest.find('.');
            std::string part(rest.substr(0, dot));
            prefix += prefix.empty() ? part : "." + part;
            if (dot == std::string_view::npos) {
                if (node->contains(part)) {
                    return make_error(node->at(part).is_object() ? "Parameter '" + prefix + "' used inconsistently"
                                                                 : "Parameter '" + prefix + "' appears more than once");
                }
                (*node)[part] = keyval_scalar(part, value);
                break;
            }
            if (node->contains(part) && !node->at(part).is_object()) {
                return make_error("Parameter '" + prefix + "' used inconsistently");
            }
            if (!node->contains(part)) {
                (*node)[part] = JsonValue::object();
            }
            node = &(*node)[part];
            rest.remove_prefix(dot + 1);
        }
    }
    return root;
}

Result<void> open_blockdev(block::BlockDevices& devices, const BlockSpec& spec)
{
    Result<JsonValue> json = spec.value.starts_with('{') ? json_parse(spec.value) : parse_keyval(spec.value);
    if (!json) {
        return spec_error(spec, json.error().desc);
    }
    auto options = block::blockdev_options_from_json(*json);
    if (!options) {
        return spec_error(spec, options.error().desc);
    }
    if (auto ok = devices.add_node(std::move(*options)); !ok) {
        return spec_error(spec, ok.error().desc);
    }
    return {};
}

std::string hmp_drive_add(block::BlockDevices& devices, std::string_view options, bool node)
{
    if (node) {
        // hmp_drive_add_node: the options as QemuOpts parse them, every value a string.
        auto opts = QemuOpts::parse(options);
        if (!opts) {
            return opts.error().desc + "\n";
        }
        block::BlockOptions flat;
        for (const auto& [key, value] : opts->entries()) {
            flat[key] = value;
        }
        if (!flat.contains("node-name")) {
            return "'node-name' needs to be specified\n";
        }
        auto added = devices.add_node(std::move(flat));
        return added ? std::string() : added.error().desc + "\n";
    }
    const std::vector<BlockSpec> spec{BlockSpec{.option = {}, .value = std::string(options)}};
    if (auto ids = check_ids(spec); !ids) {
        return ids.error().desc + "\n";
    }
    auto help = open_drive(devices, spec[0], true);
    if (!help) {
        return help.error().desc + "\n";
    }
    return *help ? **help : "OK\n";
}

Result<std::optional<std::string>> open_drives(block::BlockDevices& devices, const std::vector<BlockSpec>& specs)
{
    TRY_VOID(check_ids(specs));
    for (const BlockSpec& spec : specs) {
        auto help = TRY(open_drive(devices, spec, false));
        if (help) {
            return help;
        }
    }
    return std::nullopt;
}

}  // namespace qemu
