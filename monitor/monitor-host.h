// The monitor's view of the emulator it runs in. The QMP and HMP commands reach the fd
// sets, chardevs, block devices and run state only through this interface, so monitor/
// builds and is tested without system/: the emulator's Vm implements it, and the unit
// tests implement it with a fake.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "block/block-devices.h"
#include "char/registry.h"
#include "qapi/qapi-types.h"
#include "util/fdset.h"

namespace qemu::monitor {

class HmpQemuIo;

class MonitorHost {
public:
    // Out of line (hmp-block.cc): it destroys the HMP qemu-io state, after the derived
    // host's block devices have drained into it.
    virtual ~MonitorHost();

    // The parts the commands work on. They are lower layers' objects; the host owns them.
    virtual FdSetRegistry& fdsets() = 0;
    virtual chr::ChardevRegistry& chardevs() = 0;
    virtual block::BlockDevices& block() = 0;

    // Run state, as query-status, stop, cont, quit, system_reset and their HMP forms see and
    // change it. The host emits STOP, RESUME, SHUTDOWN and RESET itself, as the state changes.
    virtual qapi::RunState runstate() const = 0;
    bool is_running() const { return runstate() == qapi::RunState::running; }
    virtual void stop() = 0;
    virtual void start() = 0;
    virtual void request_shutdown(qapi::ShutdownCause cause) = 0;
    // qemu_system_reset: emits RESET; a VM that was not running is left in prelaunch.
    virtual void reset(qapi::ShutdownCause cause) = 0;

    // device_del released a device: the host emits DEVICE_DELETED (id, QOM path).
    virtual void device_deleted(const std::optional<std::string>& id, const std::string& path) = 0;
    // Sends the events requests on worker threads left for the main loop (a node's write
    // threshold), for a command that waited for its requests and answers after them.
    virtual void send_queued_events() { }
    // HMP drive_add: a -drive (or with `node` a -blockdev) opened the way the command line
    // opens one; returns what the monitor prints. The emulator's command-line code does it.
    virtual std::string hmp_drive_add(std::string_view, bool) { return "drive_add is not available\n"; }

    // -name, for query-name and `info name`.
    virtual std::optional<std::string> name() const = 0;

    // Commands that qmp_dispatch refuses with "Command X has been disabled", as upstream
    // QEMU's qmp_disable_command.
    virtual bool command_disabled(std::string_view command) const = 0;

    // migrate-set-capabilities: nothing migrates here; the states are kept for
    // query-migrate-capabilities.
    std::set<qapi::MigrationCapability> migration_capabilities;
    // -uuid, for query-uuid (QEMU's all-zero default without it).
    std::string uuid = "00000000-0000-0000-0000-000000000000";
    // HMP qemu-io's session, made by its first command: the aio requests a command starts
    // complete after it has answered, as QEMU's do in its main loop. A member of this
    // base so that it outlives the block devices whose requests report into it.
    std::unique_ptr<HmpQemuIo> hmp_qemu_io;
    // bdrv_drain_all, before a command that stops the VM or changes what requests use:
    // waits for those requests (letting parked ones go) and prints their reports.
    void drain_block_requests();

protected:
    MonitorHost();
    MonitorHost(const MonitorHost&) = delete;
    MonitorHost& operator=(const MonitorHost&) = delete;
};

}  // namespace qemu::monitor
