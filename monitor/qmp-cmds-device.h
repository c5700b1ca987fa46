// The guest-less disk device (virtio-blk-device) as -device, device_add and QOM
// introspection see it; see qmp-cmds-device.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qapi/qapi-types.h"
#include "qobject/json.h"
#include "util/error.h"

namespace qemu::monitor {

class MonitorHost;

// Creates a device from its properties (device_add's arguments, -device's JSON form, or its
// key=value form as strings), with QEMU's texts for what is wrong.
Result<void> add_device(MonitorHost& host, const JsonValue& properties);

// What device-list-properties and qom-list-properties say of virtio-blk-device.
std::vector<qapi::ObjectPropertyInfo> virtio_blk_device_properties();

// -device help: the device models, in QEMU's format.
std::string device_models_help();
// -device MODEL,help: the model's properties as QEMU prints them; nullopt for an unknown model.
std::optional<std::string> device_help(std::string_view model);

}  // namespace qemu::monitor
