// HMP `info block` and `qemu-io` (see hmp-block.h).
#include "monitor/hmp-block.h"

#include <cstdio>
#include <optional>
#include <vector>

#include "block/node-filename.h"
#include "block/qemu-io/qemu-io.h"
#include "monitor/block-info.h"
#include "monitor/hmp-expr.h"
#include "monitor/monitor-host.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-visit.h"

namespace qemu::monitor {

namespace {

// HMP's argument scanner for the types these commands use: words, and strings that may
// be double-quoted with backslash escapes.
class HmpArgs {
public:
    explicit HmpArgs(std::string_view text) : m_rest(text) { }

    bool flag(std::string_view name)
    {
        skip_blanks();
        if (m_rest.starts_with(name) && (m_rest.size() == name.size() || m_rest[name.size()] == ' ')) {
            m_rest.remove_prefix(name.size());
            return true;
        }
        return false;
    }

    // Result<> carries the message QEMU prints after "COMMAND: ".
    Result<std::optional<std::string>> string()
    {
        skip_blanks();
        if (m_rest.empty()) {
            return std::optional<std::string>();
        }
        std::string value;
        if (m_rest.front() != '"') {
            size_t end = m_rest.find(' ');
            value = std::string(m_rest.substr(0, end));
            m_rest.remove_prefix(end == std::string_view::npos ? m_rest.size() : end);
            return std::optional<std::string>(value);
        }
        m_rest.remove_prefix(1);
        while (!m_rest.empty() && m_rest.front() != '"') {
            char c = m_rest.front();
            m_rest.remove_prefix(1);
            if (c == '\\' && !m_rest.empty()) {
                c = m_rest.front();
                m_rest.remove_prefix(1);
                c = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
            }
            value += c;
        }
        if (m_rest.empty()) {
            return make_error("unterminated string");
        }
        m_rest.remove_prefix(1);
        return std::optional<std::string>(value);
    }

    // A '-X' option where the command takes one (QEMU's "-f" argument types): true when
    // it is `letter`, false when no option is there, an error for any other.
    Result<bool> option(char letter)
    {
        skip_blanks();
        if (m_rest.size() < 2 || m_rest[0] != '-') {
            return false;
        }
        if (m_rest[1] != letter) {
            return make_error(std::string("unsupported option -") + m_rest[1]);
        }
        m_rest.remove_prefix(2);
        return true;
    }

    bool at_end()
    {
        skip_blanks();
        return m_rest.empty();
    }

    // An argument the command cannot do without: its value, or `missing` (QEMU's "block
    // device name expected", "filename expected", ...).
    Result<std::string> required(std::string_view missing)
    {
        auto value = TRY(string());
        if (!value) {
            return make_error(std::string(missing));
        }
        return std::move(*value);
    }

    // An 'l' argument (get_expr). Its errors are printed bare, without the command's name.
    Result<int64_t> expression() { return parse_hmp_expression(m_rest); }

    // QEMU's complaint about anything after the last argument.
    Result<void> finish()
    {
        if (!at_end()) {
            return make_error("extraneous characters at the end of line");
        }
        return {};
    }

private:
    void skip_blanks()
    {
        while (!m_rest.empty() && (m_rest.front() == ' ' || m_rest.front() == '\t')) {
            m_rest.remove_prefix(1);
        }
    }

    std::string_view m_rest;
};

std::string usage_error(std::string_view command, std::string_view message)
{
    return std::string(command) + ": " + std::string(message) + "\nTry \"help " + std::string(command) +
        "\" for more information\n";
}

// Runs `parse` over a command's arguments; a failure becomes QEMU's usage message for
// `command` ("COMMAND: WHAT\nTry \"help COMMAND\"...").
template <typename Parse> auto parse_arguments(std::string_view command, std::string_view args, Parse parse)
{
    HmpArgs parser(args);
    auto parsed = parse(parser);
    if (!parsed) {
        parsed = make_error(usage_error(command, parsed.error().desc));
    }
    return parsed;
}

std::string cache_mode_text(const qapi::BlockdevCacheInfo& cache)
{
    std::string text = cache.writeback ? "writeback" : "writethrough";
    if (cache.direct) {
        text += ", direct";
    }
    if (cache.no_flush) {
        text += ", ignore flushes";
    }
    return text;
}

// QEMU's size_to_str: the largest binary unit that keeps the value at least 1.
std::string size_text(int64_t bytes)
{
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 6) {
        value /= 1024;
        ++unit;
    }
    char text[64];
    // Whole numbers print without decimals, others with up to three significant digits.
    if (value == static_cast<double>(static_cast<int64_t>(value))) {
        std::snprintf(text, sizeof(text), "%.0f %s", value, kUnits[unit]);
    } else {
        std::snprintf(text, sizeof(text), "%0.3g %s", value, kUnits[unit]);
    }
    return text;
}

void print_image_info(const qapi::ImageInfo& image, std::string& out)
{
    out += "image: " + image.filename + "\n";
    out += "file format: " + image.format + "\n";
    out += "virtual size: " + size_text(image.virtual_size) + " (" + std::to_string(image.virtual_size) + " bytes)\n";
    out += "disk size: " + (image.actual_size ? size_text(*image.actual_size) : std::string("unavailable")) + "\n";
    if (image.cluster_size) {
        out += "cluster_size: " + std::to_string(*image.cluster_size) + "\n";
    }
    if (image.dirty_flag.value_or(false)) {
        out += "cleanly shut down: no\n";
    }
    if (image.backing_filename) {
        out += "backing file: " + *image.backing_filename;
        if (!image.full_backing_filename) {
            out += " (cannot determine actual path)";
        } else if (*image.full_backing_filename != *image.backing_filename) {
            out += " (actual path: " + *image.full_backing_filename + ")";
        }
        out += "\n";
        if (image.backing_filename_format) {
            out += "backing file format: " + *image.backing_filename_format + "\n";
        }
    }
    if (image.format_specific) {
        out += "Format specific information:\n" + block::dump_format_specific(qapi::to_json(*image.format_specific));
    }
}

// print_block_info: a backend (with `device`) or a bare node.
void print_block_info(
    const qapi::BlockInfo* info, const std::optional<qapi::BlockDeviceInfo>& inserted, bool verbose, std::string& out)
{
    if (info && !info->device.empty()) {
        out += info->device;
        if (inserted && inserted->node_name) {
            out += " (" + *inserted->node_name + ")";
        }
    } else if (inserted && inserted->node_name) {
        out += *inserted->node_name;
    } else {
        // A device's anonymous backend without a node name.
        out += info && info->qdev ? *info->qdev : "<anonymous>";
    }
    if (inserted) {
        out += ": " + inserted->file + " (" + inserted->drv + (inserted->ro ? ", read-only" : "") + ")\n";
    } else {
        out += ": [not inserted]\n";
    }
    if (info && info->qdev) {
        out += "    Attached to:      " + *info->qdev + "\n";
    }
    if (info && info->io_status && *info->io_status != qapi::BlockDeviceIoStatus::ok) {
        out += "    I/O status:       " + std::string(qapi::BlockDeviceIoStatus_str(*info->io_status)) + "\n";
    }
    if (info && info->removable) {
        out += std::string("    Removable device: ") + (info->locked ? "" : "not ") + "locked, tray " +
            (info->tray_open.value_or(false) ? "open" : "closed") + "\n";
    }
    if (!inserted) {
        return;
    }
    out += "    Cache mode:       " + cache_mode_text(inserted->cache) + "\n";
    if (inserted->backing_file) {
        out += "    Backing file:     " + *inserted->backing_file + " (chain depth: " +
            std::to_string(inserted->backing_file_depth) + ")\n";
    }
    if (inserted->detect_zeroes != qapi::BlockdevDetectZeroesOptions::off) {
        out += "    Detect zeroes:    " + std::string(qapi::BlockdevDetectZeroesOptions_str(inserted->detect_zeroes)) + "\n";
    }
    if (inserted->bps || inserted->bps_rd || inserted->bps_wr || inserted->iops || inserted->iops_rd ||
        inserted->iops_wr) {
        auto field = [](const char* name, std::optional<int64_t> value) {
            return std::string(" ") + name + "=" + std::to_string(value.value_or(0));
        };
        out += "    I/O throttling:  " + field("bps", inserted->bps) + field("bps_rd", inserted->bps_rd) +
            field("bps_wr", inserted->bps_wr) + field("bps_max", inserted->bps_max) +
            field("bps_rd_max", inserted->bps_rd_max) + field("bps_wr_max", inserted->bps_wr_max) +
            field("iops", inserted->iops) + field("iops_rd", inserted->iops_rd) + field("iops_wr", inserted->iops_wr) +
            field("iops_max", inserted->iops_max) + field("iops_rd_max", inserted->iops_rd_max) +
            field("iops_wr_max", inserted->iops_wr_max) + field("iops_size", inserted->iops_size) +
            " group=" + inserted->group.value_or("") + "\n";
    }
    if (verbose) {
        out += "\nImages:\n";
        // Every image of the backing chain, top first.
        for (const qapi::ImageInfo* image = &inserted->image; image;
             image = image->backing_image ? &*image->backing_image : nullptr) {
            print_image_info(*image, out);
        }
    }
}

// The qemu-io commands that write or resize, and so need write access to the image.
bool needs_write(std::string_view command)
{
    size_t start = command.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        return false;
    }
    command.remove_prefix(start);
    std::string_view name = command.substr(0, command.find(' '));
    static constexpr std::string_view kWriters[] = {
        "aio_write", "discard", "d", "truncate", "t", "write", "w", "writev"};
    for (std::string_view writer : kWriters) {
        if (name == writer) {
            return true;
        }
    }
    return false;
}

// Commands of the qemu-io tool that HMP's qemu-io does not have (QEMU adds them only to
// the tool), so the monitor's image cannot be closed or replaced from here.
bool tool_only(std::string_view command)
{
    size_t start = command.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        return false;
    }
    command.remove_prefix(start);
    std::string_view name = command.substr(0, command.find(' '));
    static constexpr std::string_view kToolOnly[] = {"open", "o", "close", "c", "quit", "q"};
    for (std::string_view word : kToolOnly) {
        if (name == word) {
            return true;
        }
    }
    return false;
}

// qemu-io's command takes the write permission, which a read-only node refuses ("Block node
// is read-only"); under an auto-read-only image it is what reopens the file read-write
// (through the fd set for /dev/fdset/N).
Result<void> prepare_write(block::BlockBackend& blk)
{
    return blk.set_perm(blk.perm() | block::perm::kWrite, blk.shared_perm());
}

}  // namespace

MonitorHost::MonitorHost() = default;
MonitorHost::~MonitorHost() = default;

void MonitorHost::drain_block_requests()
{
    if (hmp_qemu_io) {
        hmp_qemu_io->session().drain();
        std::fflush(stdout);
    }
}

HmpQemuIo::HmpQemuIo(block::BlockDevices& devices)
{
    // A drain before a synchronous command waits for every drive's requests, so it must
    // be able to let go of those parked under any of them, and of those the I/O limits
    // hold (as aio_flush's blk_drain_all does in QEMU).
    m_session.release_held = [&devices] {
        for (block::BlockNode* node : devices.nodes_in_order()) {
            block::resume_parked_requests(*node);
        }
        devices.release_throttled();
    };
    // Requests on workers wait at breakpoints until a later command's `resume`.
    m_session.aio.set_parking(true);
    if (int fd = m_session.aio.notify_fd(); fd >= 0) {
        m_watch = g_unix_fd_add(fd, G_IO_IN, &HmpQemuIo::on_ready, this);
    }
}

HmpQemuIo::~HmpQemuIo()
{
    m_session.drain();
    if (m_watch) {
        g_source_remove(m_watch);
    }
}

gboolean HmpQemuIo::on_ready(int, GIOCondition, gpointer self)
{
    auto* io = static_cast<HmpQemuIo*>(self);
    io->m_session.aio.poll_notified();
    std::fflush(stdout);
    return G_SOURCE_CONTINUE;
}

std::string hmp_info_block(qapi::QmpContext& ctx, std::string_view args)
{
    HmpArgs parser(args);
    bool nodes = false;
    bool verbose = false;
    for (bool more = true; more;) {
        more = false;
        if (parser.flag("-n")) {
            nodes = more = true;
        }
        if (parser.flag("-v")) {
            verbose = more = true;
        }
    }
    auto device = parser.string();
    if (!device) {
        return usage_error("info", device.error().desc);
    }
    std::string out;
    if (!nodes) {
        auto list = qapi::qmp_query_block(ctx);
        for (size_t i = 0; list && i < list->size(); ++i) {
            const qapi::BlockInfo& info = (*list)[i];
            if (*device && **device != info.device) {
                continue;
            }
            if (i != 0) {
                out += "\n";
            }
            print_block_info(&info, info.inserted, verbose, out);
        }
        return out;
    }
    auto list = qapi::qmp_query_named_block_nodes(ctx, std::nullopt);
    for (size_t i = 0; list && i < list->size(); ++i) {
        const qapi::BlockDeviceInfo& info = (*list)[i];
        if (*device && info.node_name != **device) {
            continue;
        }
        if (i != 0) {
            out += "\n";
        }
        print_block_info(nullptr, info, verbose, out);
    }
    return out;
}

std::string hmp_qemu_io(qapi::QmpContext& ctx, std::string_view args)
{
    HmpArgs parser(args);
    bool qdev = parser.flag("-d");
    auto device = parser.string();
    if (!device || !*device) {
        return usage_error("qemu-io", device ? "block device name expected" : device.error().desc);
    }
    auto command = parser.string();
    if (!command || !*command) {
        return usage_error("qemu-io", command ? "string expected" : command.error().desc);
    }
    if (!parser.at_end()) {
        return usage_error("qemu-io", "extraneous characters at the end of line");
    }
    block::BlockDevices& devices = ctx.host.block();
    if (!ctx.host.hmp_qemu_io) {
        ctx.host.hmp_qemu_io = std::make_unique<HmpQemuIo>(devices);
    }
    HmpQemuIo& io = *ctx.host.hmp_qemu_io;
    qemu_io::Session& session = io.session();
    // The backend the command borrows, lent to the session for this one command and given
    // back below: a drive's, or a disk device's (-d, by its id or QOM path).
    std::unique_ptr<block::BlockBackend>* lender = nullptr;
    if (qdev) {
        block::GuestDisk* disk = devices.find_guest_disk(**device);
        if (!disk) {
            return "Error: Device '" + **device + "' not found\n";
        }
        block::Drive* drive = disk->drive.empty() ? nullptr : devices.find_drive(disk->drive);
        lender = drive ? &drive->blk : &disk->blk;
    } else if (block::Drive* drive = devices.find_drive(**device); drive && drive->blk) {
        lender = &drive->blk;
    }
    if (lender && !*lender) {
        return "Error: Device '" + **device + "' has no medium\n";
    }
    // A backend made for this command goes with it, drained first as blk_unref does.
    bool borrowed = lender != nullptr;
    if (lender) {
        session.blk = std::move(*lender);
    } else {
        block::BlockNode* node = devices.graph().find_node(**device);
        if (!node) {
            return "Error: Cannot find device='' nor node-name='" + **device + "'\n";
        }
        auto blk = block::BlockBackend::attach(node->shared_from_this(), 0, block::perm::kAll);
        if (!blk) {
            return "Error: " + blk.error().desc + "\n";
        }
        session.blk = std::move(*blk);
    }

    std::string out;
    if (tool_only(**command)) {
        std::fflush(stdout);
        std::string name = (**command).substr(0, (**command).find(' '));
        std::fprintf(stderr, "command \"%s\" not found\n", name.c_str());
    } else if (auto ready = needs_write(**command) ? prepare_write(*session.blk) : Result<void>{}; !ready) {
        out = ready.error().desc + "\n";
    } else {
        qemu_io::run_command(session, **command);
        if (!io.watched()) {
            session.drain();  // nothing would deliver the completions later
        } else if (!borrowed) {
            session.blk->drain();  // blk_unref below; its reports still take their turn
        } else {
            // The drive's requests run on with the backend back at its owner, and their
            // reports come from the main loop. Queued ones reach the kernel now.
            session.aio.submit();
        }
        std::fflush(stdout);
    }
    // What the requests reported on their way, before the answer, as QEMU's come from the
    // requests themselves.
    ctx.host.send_queued_events();
    if (lender && session.blk) {
        *lender = std::move(session.blk);
    }
    session.blk.reset();
    return out;
}

std::string hmp_block_set_io_throttle(qapi::QmpContext& ctx, std::string_view args)
{
    HmpArgs parser(args);
    auto device = parser.required("block device name expected");
    if (!device) {
        return usage_error("block_set_io_throttle", device.error().desc);
    }
    std::array<int64_t, 6> limits{};
    for (int64_t& limit : limits) {
        auto value = parser.expression();
        if (!value) {
            return value.error().desc + "\nTry \"help block_set_io_throttle\" for more information\n";
        }
        limit = *value;
    }
    if (auto end = parser.finish(); !end) {
        return usage_error("block_set_io_throttle", end.error().desc);
    }
    qapi::BlockIOThrottle throttle{.bps = limits[0],
        .bps_rd = limits[1],
        .bps_wr = limits[2],
        .iops = limits[3],
        .iops_rd = limits[4],
        .iops_wr = limits[5]};
    // One name for QMP's two: a drive's id, else a device's.
    (ctx.host.block().find_drive(*device) ? throttle.device : throttle.id) = *device;
    auto done = qapi::qmp_block_set_io_throttle(ctx, throttle);
    return done ? std::string() : "Error: " + done.error().desc + "\n";
}

std::string hmp_eject(qapi::QmpContext& ctx, std::string_view args)
{
    struct Arguments {
        bool force;
        std::string device;
    };
    auto parsed = parse_arguments("eject", args, [](HmpArgs& parser) -> Result<Arguments> {
        Arguments out{.force = TRY(parser.option('f')), .device = {}};
        out.device = TRY(parser.required("block device name expected"));
        TRY_VOID(parser.finish());
        return out;
    });
    if (!parsed) {
        return parsed.error().desc;
    }
    auto done = qapi::qmp_eject(ctx, parsed->device, std::nullopt, parsed->force);
    return done ? std::string() : "Error: " + done.error().desc + "\n";
}

std::string hmp_change(qapi::QmpContext& ctx, std::string_view args)
{
    struct Arguments {
        std::string device;
        bool force;
        std::string target;
        std::optional<std::string> format;
        std::optional<std::string> mode;
    };
    auto parsed = parse_arguments("change", args, [](HmpArgs& parser) -> Result<Arguments> {
        Arguments out{.device = TRY(parser.required("block device name expected")), .force = false, .target = {}};
        out.force = TRY(parser.option('f'));
        out.target = TRY(parser.required("filename expected"));
        out.format = TRY(parser.string());
        out.mode = TRY(parser.string());
        TRY_VOID(parser.finish());
        return out;
    });
    if (!parsed) {
        return parsed.error().desc;
    }
    // There is no VNC server here, so "change vnc ..." names a drive as any other word.
    std::optional<qapi::BlockdevChangeReadOnlyMode> mode;
    if (parsed->mode) {
        mode = qapi::BlockdevChangeReadOnlyMode_parse(*parsed->mode);
        if (!mode) {
            return "Error: invalid parameter value: " + *parsed->mode + "\n";
        }
    }
    auto done = qapi::qmp_blockdev_change_medium(
        ctx, parsed->device, std::nullopt, parsed->target, parsed->format, parsed->force, mode);
    return done ? std::string() : "Error: " + done.error().desc + "\n";
}

std::string hmp_snapshot_blkdev(qapi::QmpContext& ctx, std::string_view args)
{
    struct Arguments {
        bool reuse;
        std::string device;
        std::optional<std::string> file;
        std::optional<std::string> format;
    };
    auto parsed = parse_arguments("snapshot_blkdev", args, [](HmpArgs& parser) -> Result<Arguments> {
        Arguments out{.reuse = TRY(parser.option('n')), .device = {}};
        out.device = TRY(parser.required("block device name expected"));
        out.file = TRY(parser.string());
        out.format = TRY(parser.string());
        TRY_VOID(parser.finish());
        return out;
    });
    if (!parsed) {
        return parsed.error().desc;
    }
    // QEMU requires the file still, though the command once meant internal snapshots too.
    if (!parsed->file) {
        return "Error: Parameter 'snapshot-file' is missing\n";
    }
    // A host that disabled the QMP command (the fuzzer, which must not create files by
    // name) has it disabled here too.
    if (ctx.host.command_disabled("blockdev-snapshot-sync")) {
        return "Error: Command blockdev-snapshot-sync has been disabled\n";
    }
    auto done = qapi::qmp_blockdev_snapshot_sync(ctx, parsed->device, std::nullopt, *parsed->file, std::nullopt,
        parsed->format, parsed->reuse ? qapi::NewImageMode::existing : qapi::NewImageMode::absolute_paths);
    return done ? std::string() : "Error: " + done.error().desc + "\n";
}

std::string hmp_drive_add(qapi::QmpContext& ctx, std::string_view args)
{
    struct Arguments {
        bool node;
        std::string options;
    };
    auto parsed = parse_arguments("drive_add", args, [](HmpArgs& parser) -> Result<Arguments> {
        Arguments out{.node = TRY(parser.option('n')), .options = {}};
        // The PCI address QEMU once used is still required, and still ignored.
        TRY(parser.required("string expected"));
        out.options = TRY(parser.required("string expected"));
        TRY_VOID(parser.finish());
        return out;
    });
    if (!parsed) {
        return parsed.error().desc;
    }
    return ctx.host.hmp_drive_add(parsed->options, parsed->node);
}

std::string hmp_drive_del(qapi::QmpContext& ctx, std::string_view args)
{
    auto id = parse_arguments("drive_del", args, [](HmpArgs& parser) -> Result<std::string> {
        auto out = TRY(parser.required("block device name expected"));
        TRY_VOID(parser.finish());
        return out;
    });
    if (!id) {
        return id.error().desc;
    }
    block::BlockDevices& devices = ctx.host.block();
    // A node name first, as blockdev-del; then a -drive.
    if (devices.graph().find_node(*id)) {
        auto deleted = devices.del_node(*id);
        return deleted ? std::string() : deleted.error().desc + "\n";
    }
    if (!devices.find_drive(*id)) {
        return "Device '" + *id + "' not found\n";
    }
    devices.del_drive(*id);
    return {};
}

}  // namespace qemu::monitor
