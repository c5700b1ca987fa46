// device_add, device_del and -device (through add_device): the one device model here,
// virtio-blk-device, with no guest behind it. It holds its drive as a guest's disk would, so
// a management layer (libvirt) can attach a disk, see it in query-block and qom-list, write
// to it with HMP's `qemu-io -d ID`, and release it with device_del. The properties are
// QEMU 7.2's for that model; apart from drive and id they have nothing to act on here.
#include "monitor/qmp-cmds-device.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "block/block-devices.h"
#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"
#include "util/qemu-option.h"

namespace qemu::monitor {

namespace {

constexpr std::string_view kModel = "virtio-blk-device";

enum class Kind { String, Bool, Number, OnOffAuto, OnError };

struct DeviceProperty {
    std::string_view name;
    std::string_view type;  // as device-list-properties shows it
    Kind kind;
    std::optional<std::string_view> description;
    std::string_view default_json;  // empty: none
};

// virtio-blk-device's properties in QEMU 7.2 that a management layer sets, with QEMU's
// descriptions and defaults.
constexpr std::string_view kOnOff = "on/off";
constexpr std::string_view kOnError = "Error handling policy, report/ignore/enospc/stop/auto";
constexpr std::string_view kBlockSize = "A power of two between 512 B and 2 MiB";
constexpr std::array<DeviceProperty, 19> kProperties = {{
    {"bootindex", "int32", Kind::Number, std::nullopt, ""},
    {"config-wce", "bool", Kind::Bool, kOnOff, "true"},
    {"discard", "bool", Kind::Bool, kOnOff, "true"},
    {"discard_granularity", "size", Kind::Number, "", "4294967295"},
    {"drive", "str", Kind::String, "Node name or ID of a block device to use as a backend", ""},
    {"logical_block_size", "size", Kind::Number, kBlockSize, "0"},
    {"min_io_size", "size", Kind::Number, "", "0"},
    {"num-queues", "uint16", Kind::Number, "", "65535"},
    {"opt_io_size", "size", Kind::Number, "", "0"},
    {"physical_block_size", "size", Kind::Number, kBlockSize, "0"},
    {"queue-size", "uint16", Kind::Number, "", "256"},
    {"request-merging", "bool", Kind::Bool, kOnOff, "true"},
    {"rerror", "BlockdevOnError", Kind::OnError, kOnError, "\"auto\""},
    {"scsi", "bool", Kind::Bool, kOnOff, "false"},
    {"serial", "str", Kind::String, std::nullopt, ""},
    {"share-rw", "bool", Kind::Bool, "", "false"},
    {"werror", "BlockdevOnError", Kind::OnError, kOnError, "\"auto\""},
    {"write-cache", "OnOffAuto", Kind::OnOffAuto, "on/off/auto", "\"auto\""},
    {"write-zeroes", "bool", Kind::Bool, kOnOff, "true"},
}};

const DeviceProperty* find_property(std::string_view name)
{
    for (const DeviceProperty& p : kProperties) {
        if (p.name == name) {
            return &p;
        }
    }
    return nullptr;
}

// A value as the JSON form gives it, or as a string from the key=value form.
Result<void> check_value(const DeviceProperty& p, const JsonValue& value)
{
    const std::string name(p.name);
    auto type_error = [&](std::string_view expected) {
        return make_error("Invalid parameter type for '" + name + "', expected: " + std::string(expected));
    };
    if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        switch (p.kind) {
        case Kind::String:
            return {};
        case Kind::Bool:
            TRY_VOID(parse_option_bool(name, text));
            return {};
        case Kind::Number:
            TRY_VOID(parse_option_size(name, text));
            return {};
        case Kind::OnOffAuto:
            if (text == "on" || text == "off" || text == "auto") {
                return {};
            }
            break;
        case Kind::OnError:
            if (text == "report" || text == "ignore" || text == "enospc" || text == "stop" || text == "auto") {
                return {};
            }
            break;
        }
        return make_error("Parameter '" + name + "' does not accept value '" + text + "'");
    }
    switch (p.kind) {
    case Kind::Bool:
        return value.is_boolean() ? Result<void>{} : type_error("boolean");
    case Kind::Number:
        return value.is_number_integer() ? Result<void>{} : type_error("integer");
    default:
        return type_error("string");
    }
}

}  // namespace

Result<void> add_device(MonitorHost& host, const JsonValue& properties)
{
    if (!properties.is_object()) {
        return make_error("Invalid parameter type, expected: object");
    }
    auto driver = properties.find("driver");
    if (driver == properties.end()) {
        return make_error("Parameter 'driver' is missing");
    }
    if (!driver->is_string()) {
        return make_error("Invalid parameter type for 'driver', expected: string");
    }
    const std::string& model = driver->get_ref<const std::string&>();
    if (model != kModel) {
        return make_error("'" + model + "' is not a valid device model name");
    }
    std::optional<std::string> id;
    if (auto it = properties.find("id"); it != properties.end()) {
        if (!it->is_string()) {
            return make_error("Invalid parameter type for 'id', expected: string");
        }
        id = it->get<std::string>();
        if (!id_wellformed(*id)) {
            return make_error("Parameter 'id' expects an identifier");
        }
    }
    if (auto it = properties.find("bus"); it != properties.end()) {
        // There is no bus to name: the device sits on the machine itself.
        return make_error("Bus '" + (it->is_string() ? it->get<std::string>() : it->dump()) + "' not found");
    }
    std::optional<std::string> drive;
    for (const auto& [key, value] : properties.items()) {
        if (key == "driver" || key == "id") {
            continue;
        }
        const DeviceProperty* p = find_property(key);
        if (!p) {
            return make_error("Property '" + model + "." + key + "' not found");
        }
        TRY_VOID(check_value(*p, value));
        if (key == "drive") {
            drive = value.get<std::string>();
        }
    }
    if (!drive) {
        return make_error("drive property not set");
    }
    return host.block().add_guest_disk(std::move(id), model, *drive);
}

std::vector<qapi::ObjectPropertyInfo> virtio_blk_device_properties()
{
    std::vector<qapi::ObjectPropertyInfo> out;
    for (const DeviceProperty& p : kProperties) {
        qapi::ObjectPropertyInfo info{
            .name = std::string(p.name), .type = std::string(p.type), .description = {}, .default_value = {}};
        if (p.description) {
            info.description = std::string(*p.description);
        }
        if (!p.default_json.empty()) {
            info.default_value = JsonValue::parse(p.default_json);
        }
        out.push_back(std::move(info));
    }
    return out;
}

std::string device_models_help()
{
    return "Storage devices:\nname \"" + std::string(kModel) + "\", bus virtio-bus\n";
}

std::optional<std::string> device_help(std::string_view model)
{
    if (model != kModel) {
        return std::nullopt;
    }
    // qdev_device_help's layout: the name and type, the description from column 24, the
    // default after it; the table is in QEMU's (sorted) order.
    std::string out = std::string(kModel) + " options:\n";
    for (const DeviceProperty& p : kProperties) {
        std::string line = "  " + std::string(p.name) + "=<" + std::string(p.type) + ">";
        if (p.description) {
            line.resize(std::max<size_t>(line.size(), 24), ' ');
            line += " - " + std::string(*p.description);
        }
        if (!p.default_json.empty()) {
            line += " (default: " + std::string(p.default_json) + ")";
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace qemu::monitor

namespace qapi {

qemu::Result<qemu::JsonValue> qmp_marshal_device_add(QmpContext& ctx, const qemu::JsonValue& args)
{
    TRY_VOID(qemu::monitor::add_device(ctx.host, args));
    return qemu::JsonValue::object();
}

qemu::Result<void> qmp_device_del(QmpContext& ctx, const std::string& id)
{
    auto gone = TRY(ctx.host.block().del_guest_disk(id));
    // Nothing in a guest has to let go first, so the device is gone at once.
    ctx.host.device_deleted(gone.id.empty() ? std::nullopt : std::optional(gone.id), gone.path);
    return {};
}

}  // namespace qapi
