// The block layer's HMP commands: `info block [-n] [-v] [device]` and
// `qemu-io [-d] device "command"`. Each returns its monitor output with "\n" line ends;
// hmp.cc turns them into the monitor's "\r\n".
#pragma once

#include <glib-unix.h>
#include <glib.h>

#include <string>
#include <string_view>

#include "block/block-devices.h"
#include "block/qemu-io/qemu-io.h"
#include "monitor/qmp-context.h"

namespace qemu::monitor {

// What HMP's qemu-io keeps from one command to the next: the session whose context its
// aio requests complete in. A GLib watch on that context runs their completions from the
// main loop, so `aio_write` answers at once and its report prints when the write is done
// (or, parked at a blkdebug breakpoint, after a later `resume`), as in QEMU.
class HmpQemuIo {
public:
    explicit HmpQemuIo(block::BlockDevices& devices);
    // Waits for what is still in flight (resuming parked requests): the completions use
    // the session.
    ~HmpQemuIo();
    HmpQemuIo(const HmpQemuIo&) = delete;
    HmpQemuIo& operator=(const HmpQemuIo&) = delete;

    qemu_io::Session& session() { return m_session; }
    // Whether the main loop delivers completions; if not (no eventfd), each command drains.
    bool watched() const { return m_watch != 0; }

private:
    static gboolean on_ready(int fd, GIOCondition condition, gpointer self);

    qemu_io::Session m_session;
    guint m_watch = 0;
};

std::string hmp_info_block(qapi::QmpContext& ctx, std::string_view args);

// HMP `info blockstats`: a line of counters per backend (monitor/qmp-cmds-blockstats.cc).
std::string hmp_info_blockstats(qapi::QmpContext& ctx);

// As in QEMU 7.2, what the qemu-io command prints goes to the emulator's stdout (and its
// complaints to stderr); only errors from finding the node or getting permission to write
// come back as monitor output.
std::string hmp_qemu_io(qapi::QmpContext& ctx, std::string_view args);

// `eject [-f] device` and `change device [-f] filename [format [read-only-mode]]`, over
// QMP's eject and blockdev-change-medium, errors after "Error: " as hmp_handle_error.
std::string hmp_eject(qapi::QmpContext& ctx, std::string_view args);
std::string hmp_change(qapi::QmpContext& ctx, std::string_view args);

// `drive_add [-n] pci_addr options` and `drive_del id`, errors as error_report prints them.
std::string hmp_drive_add(qapi::QmpContext& ctx, std::string_view args);
std::string hmp_drive_del(qapi::QmpContext& ctx, std::string_view args);
// snapshot_blkdev [-n] device [new-image-file] [format]: blockdev-snapshot-sync on a drive.
std::string hmp_snapshot_blkdev(qapi::QmpContext& ctx, std::string_view args);

// `block_set_io_throttle device bps bps_rd bps_wr iops iops_rd iops_wr`: the limits are
// expressions; `device` is a drive's id, or else a device's.
std::string hmp_block_set_io_throttle(qapi::QmpContext& ctx, std::string_view args);

}  // namespace qemu::monitor
