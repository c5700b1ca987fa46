// The backend a block command names (see blk-target.h).
#include "monitor/blk-target.h"

namespace qemu::monitor {

Result<BlkTarget> find_blk_target(
    block::BlockDevices& devices, const std::optional<std::string>& device, const std::optional<std::string>& id)
{
    if (device.has_value() == id.has_value()) {
        return make_error("Need exactly one of 'device' and 'id'");
    }
    if (id) {
        // find_device_state: a QOM path, absolute or under /machine/peripheral.
        const std::string path = id->starts_with('/') ? *id : "/machine/peripheral/" + *id;
        block::GuestDisk* disk = devices.find_guest_disk(path);
        if (disk && disk->path == path) {
            block::Drive* drive = disk->drive.empty() ? nullptr : devices.find_drive(disk->drive);
            return BlkTarget{drive, disk, *id};
        }
        for (const char* container : {"/", "/machine", "/machine/peripheral", "/machine/peripheral-anon",
                 "/machine/unattached", "/objects", "/chardevs"}) {
            if (path == container) {
                return make_error(*id + " is not a hotpluggable device");
            }
        }
        return make_error(ErrorClass::DeviceNotFound, "Device '" + *id + "' not found");
    }
    block::Drive* drive = devices.find_drive(*device);
    if (!drive) {
        return make_error(ErrorClass::DeviceNotFound, "Device '" + *device + "' not found");
    }
    return BlkTarget{drive, devices.guest_disk_on_drive(drive->id), *device};
}

}  // namespace qemu::monitor
