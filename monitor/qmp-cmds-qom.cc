// The probing commands a management layer sends before it trusts a binary (libvirt's
// capability probe): QOM types and properties, the command-line options, TPM models,
// KVM and migration capabilities. They describe what this binary really has: machine
// "none", the qtest and tcg accelerators, the objects the command line accepts, and one
// device model, virtio-blk-device without a guest (qmp-cmds-device.cc), whose devices
// appear under /machine/peripheral. virtio-mmio is listed as the transport libvirt looks
// for before it gives a disk that model; it cannot be created.
#include <unistd.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/monitor-host.h"
#include "monitor/qmp-cmds-device.h"
#include "monitor/qmp-context.h"
#include "qapi/qapi-commands.h"

namespace qapi {

namespace {

struct Property {
    std::string_view name;
    std::string_view type;
    std::string_view description;
};

struct TypeInfo {
    std::string_view name;
    std::string_view parent;  // empty for the root
    bool abstract;
    std::span<const Property> properties;
};

// A machine's own properties, as QEMU's "machine" class has them.
constexpr Property kMachineProperties[] = {
    {"type", "string", ""},
    {"kernel", "string", "Linux kernel image file"},
    {"initrd", "string", "Linux initial ramdisk file"},
    {"append", "string", "Linux kernel command line"},
    {"dump-guest-core", "bool", "Include guest memory in a core dump"},
    {"mem-merge", "bool", "Enable/disable memory merge support"},
    {"usb", "bool", "Set on/off to enable/disable usb"},
    {"memory-backend", "string", "Set RAM backendValid value is ID of hostmem based backend"},
    {"confidential-guest-support", "link<confidential-guest-support>", "Set confidential guest scheme to support"},
};

// memory-backend-file's: the backend libvirt asks about before it builds -object lines.
constexpr Property kMemoryBackendFileProperties[] = {
    {"type", "string", ""},
    {"size", "int", "Size of the memory region (ex: 500M)"},
    {"share", "bool", "Mark the memory as private to QEMU or shared"},
    {"dump", "bool", "Set to 'off' to exclude from core dump"},
    {"prealloc", "bool", "Preallocate memory"},
    {"mem-path", "string", "File to be used as the memory backend"},
    {"align", "int", "Alignment of the memory region"},
    {"discard-data", "bool", "Discard the data on close"},
    {"pmem", "bool", "Set to true if the memory is persistent memory"},
    {"readonly", "bool", "Map the file read-only"},
};

constexpr Property kSecretProperties[] = {
    {"type", "string", ""},
    {"format", "QCryptoSecretFormat", "Data format of the secret"},
    {"keyid", "string", "ID of the secret holding the key for decryption"},
    {"iv", "string", "Initialization vector for decryption"},
    {"data", "string", "Secret data"},
    {"file", "string", "File holding the secret data"},
};

constexpr Property kObjectProperties[] = {
    {"type", "string", ""},
};

constexpr TypeInfo kTypes[] = {
    {"object", "", true, kObjectProperties},
    {"machine", "object", true, kMachineProperties},
    {"none-machine", "machine", false, kMachineProperties},
    {"accel", "object", true, kObjectProperties},
    {"qtest-accel", "accel", false, kObjectProperties},
    {"tcg-accel", "accel", false, kObjectProperties},
    {"memory-backend", "object", true, kObjectProperties},
    {"memory-backend-file", "memory-backend", false, kMemoryBackendFileProperties},
    {"secret", "object", false, kSecretProperties},
    {"device", "object", true, kObjectProperties},
    {"sys-bus-device", "device", true, kObjectProperties},
    {"virtio-mmio", "sys-bus-device", false, kObjectProperties},
    {"virtio-device", "device", true, kObjectProperties},
    {"virtio-blk-device", "virtio-device", false, {}},
};

const TypeInfo* find_type(std::string_view name)
{
    for (const TypeInfo& type : kTypes) {
        if (type.name == name) {
            return &type;
        }
    }
    return nullptr;
}

bool is_a(const TypeInfo& type, std::string_view ancestor)
{
    for (const TypeInfo* t = &type; t; t = t->parent.empty() ? nullptr : find_type(t->parent)) {
        if (t->name == ancestor) {
            return true;
        }
    }
    return false;
}

std::vector<ObjectPropertyInfo> properties_of(const TypeInfo& type)
{
    std::vector<ObjectPropertyInfo> out;
    for (const Property& p : type.properties) {
        ObjectPropertyInfo info{.name = std::string(p.name), .type = std::string(p.type), .description = {},
            .default_value = {}};
        if (!p.description.empty()) {
            info.description = std::string(p.description);
        }
        out.push_back(std::move(info));
    }
    return out;
}

struct OptionParameter {
    std::string_view name;
    CommandLineParameterType type;
};

struct CommandLineOption {
    std::string_view name;
    std::span<const OptionParameter> parameters;
};

constexpr OptionParameter kSandboxParameters[] = {
    {"resourcecontrol", CommandLineParameterType::string}, {"spawn", CommandLineParameterType::string},
    {"elevateprivileges", CommandLineParameterType::string}, {"obsolete", CommandLineParameterType::string},
    {"enable", CommandLineParameterType::boolean}, {"fs", CommandLineParameterType::string},
};

constexpr OptionParameter kAddFdParameters[] = {
    {"fd", CommandLineParameterType::number},
    {"set", CommandLineParameterType::number},
    {"opaque", CommandLineParameterType::string},
};

// The options whose parameters this binary parses as QEMU does.
constexpr CommandLineOption kCommandLineOptions[] = {
    {"sandbox", kSandboxParameters},
    {"add-fd", kAddFdParameters},
};

}  // namespace

qemu::Result<std::vector<ObjectTypeInfo>> qmp_qom_list_types(
    QmpContext&, const std::optional<std::string>& implements, const std::optional<bool>& abstract)
{
    std::vector<ObjectTypeInfo> out;
    for (const TypeInfo& type : kTypes) {
        if (type.abstract && !abstract.value_or(false)) {
            continue;
        }
        if (implements && !is_a(type, *implements)) {
            continue;
        }
        ObjectTypeInfo info{.name = std::string(type.name), .abstract = {}, .parent = {}};
        if (type.abstract) {
            info.abstract = true;
        }
        if (!type.parent.empty()) {
            info.parent = std::string(type.parent);
        }
        out.push_back(std::move(info));
    }
    return out;
}

qemu::Result<std::vector<ObjectPropertyInfo>> qmp_qom_list_properties(QmpContext&, const std::string& q_typename)
{
    const TypeInfo* type = find_type(q_typename);
    if (!type) {
        return qemu::make_error(qemu::ErrorClass::DeviceNotFound, "Class '" + q_typename + "' not found");
    }
    if (type->name == "virtio-blk-device") {
        return qemu::monitor::virtio_blk_device_properties();
    }
    return properties_of(*type);
}

qemu::Result<std::vector<ObjectPropertyInfo>> qmp_device_list_properties(QmpContext& ctx, const std::string& q_typename)
{
    const TypeInfo* type = find_type(q_typename);
    if (!type) {
        return qemu::make_error(qemu::ErrorClass::DeviceNotFound, "Device '" + q_typename + "' not found");
    }
    if (!is_a(*type, "device")) {
        return qemu::make_error("Parameter 'typename' expects device");
    }
    if (type->abstract) {
        return qemu::make_error("Parameter 'typename' expects non-abstract device type");
    }
    return qmp_qom_list_properties(ctx, q_typename);
}

qemu::Result<std::vector<ObjectPropertyInfo>> qmp_qom_list(QmpContext& ctx, const std::string& path)
{
    // The composition tree: the containers, and the disk devices under the peripheral ones.
    auto entry = [](std::string name, std::string type) {
        return ObjectPropertyInfo{.name = std::move(name), .type = std::move(type), .description = {},
            .default_value = {}};
    };
    if (path == "/") {
        return std::vector<ObjectPropertyInfo>{entry("type", "string"), entry("objects", "child<container>"),
            entry("chardevs", "child<container>"), entry("machine", "child<none-machine>")};
    }
    if (path == "/machine") {
        return std::vector<ObjectPropertyInfo>{entry("type", "string"), entry("peripheral", "child<container>"),
            entry("peripheral-anon", "child<container>"), entry("unattached", "child<container>")};
    }
    if (path == "/machine/peripheral" || path == "/machine/peripheral-anon") {
        std::vector<ObjectPropertyInfo> out{entry("type", "string")};
        for (const qemu::block::GuestDisk& disk : ctx.host.block().guest_disks()) {
            std::string_view child = disk.path;
            if (child.starts_with(path + "/")) {
                out.push_back(entry(std::string(child.substr(path.size() + 1)), "child<" + disk.model + ">"));
            }
        }
        return out;
    }
    if (path == "/objects" || path == "/chardevs" || path == "/machine/unattached") {
        return std::vector<ObjectPropertyInfo>{entry("type", "string")};
    }
    if (const qemu::block::GuestDisk* disk = ctx.host.block().find_guest_disk(path); disk && disk->path == path) {
        std::vector<ObjectPropertyInfo> out{entry("type", "string"), entry("realized", "bool")};
        for (ObjectPropertyInfo& p : qemu::monitor::virtio_blk_device_properties()) {
            out.push_back(entry(p.name, p.type));
        }
        return out;
    }
    return qemu::make_error(qemu::ErrorClass::DeviceNotFound, "Device '" + path + "' not found");
}

qemu::Result<std::vector<TpmModel>> qmp_query_tpm_models(QmpContext&)
{
    return std::vector<TpmModel>{};
}

qemu::Result<KvmInfo> qmp_query_kvm(QmpContext&)
{
    return KvmInfo{.enabled = false, .present = ::access("/dev/kvm", F_OK) == 0};
}

qemu::Result<UuidInfo> qmp_query_uuid(QmpContext& ctx)
{
    return UuidInfo{.UUID = ctx.host.uuid};
}

qemu::Result<std::vector<CommandLineOptionInfo>> qmp_query_command_line_options(
    QmpContext&, const std::optional<std::string>& option)
{
    std::vector<CommandLineOptionInfo> out;
    for (const CommandLineOption& o : kCommandLineOptions) {
        if (option && *option != o.name) {
            continue;
        }
        CommandLineOptionInfo info{.option = std::string(o.name), .parameters = {}};
        for (const OptionParameter& p : o.parameters) {
            info.parameters.push_back(
                {.name = std::string(p.name), .type = p.type, .help = {}, .q_default = {}});
        }
        out.push_back(std::move(info));
    }
    if (option && out.empty()) {
        return qemu::make_error("invalid option name: " + *option);
    }
    return out;
}

qemu::Result<void> qmp_migrate_set_capabilities(
    QmpContext& ctx, const std::vector<MigrationCapabilityStatus>& capabilities)
{
    for (const MigrationCapabilityStatus& status : capabilities) {
        if (status.state) {
            ctx.host.migration_capabilities.insert(status.capability);
        } else {
            ctx.host.migration_capabilities.erase(status.capability);
        }
    }
    return {};
}

qemu::Result<std::vector<MigrationCapabilityStatus>> qmp_query_migrate_capabilities(QmpContext& ctx)
{
    std::vector<MigrationCapabilityStatus> out;
    for (size_t i = 0; i < std::size(MigrationCapability_values); ++i) {
        auto capability = static_cast<MigrationCapability>(i);
        out.push_back({.capability = capability, .state = ctx.host.migration_capabilities.contains(capability)});
    }
    return out;
}

}  // namespace qapi
