// The emulator's life: daemonize, create chardevs and monitors, run the main loop, and
// turn SIGTERM/SIGINT/SIGHUP into a SHUTDOWN event and a clean exit.
#include "system/emulator.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "char/chardev.h"
#include "monitor/qmp-cmds-device.h"
#include "monitor/qmp.h"
#include "qobject/json.h"
#include "system/drive-options.h"
#include "system/guest-memory.h"
#include "system/qtest-clock.h"
#include "system/qtest.h"
#include "system/throttle-timers.h"
#include "system/vm.h"
#include "util/osdep.h"
#include "util/qemu-option.h"
#include "util/unique_fd.h"

namespace qemu {

namespace {

// -msg timestamp=on: every message starts with the UTC time, as QEMU's error_report does.
bool g_msg_timestamp = false;

void report(const std::string& message)
{
    if (g_msg_timestamp) {
        GDateTime* now = g_date_time_new_now_utc();
        gchar* stamp = g_date_time_format_iso8601(now);
        std::fprintf(stderr, "%s ", stamp);
        g_free(stamp);
        g_date_time_unref(now);
    }
    std::fprintf(stderr, "qemu-system-x86_64: %s\n", message.c_str());
}

// -object secret,file=F: QEMU reads the file when it creates the object, so a missing one
// stops the start; the contents are not needed here (nothing is encrypted).
Result<void> read_secrets(Vm& vm, const EmulatorConfig& config)
{
    for (const SecretSpec& secret : config.secrets) {
        if (!secret.file) {
            continue;
        }
        auto fd = qemu_open(vm.open_context(), *secret.file, O_RDONLY);
        if (!fd) {
            int err = fd.error().errno_or(EIO);
            return make_error("Unable to read " + *secret.file + ": Failed to open file \u201c" + *secret.file +
                "\u201d: " + g_strerror(err));
        }
    }
    return {};
}

std::string process_name(pid_t pid)
{
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string name;
    std::getline(cmdline, name, '\0');
    return name;
}

// SIGTERM, SIGINT and SIGHUP arrive through a signalfd so the main loop handles them like
// any other event, and QEMU's message can name the sender.
class TerminationSignals {
public:
    explicit TerminationSignals(Vm& vm) : m_vm(vm)
    {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        m_fd = UniqueFd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        m_source = g_unix_fd_add(m_fd.get(), G_IO_IN, &TerminationSignals::on_signal, this);
    }
    ~TerminationSignals()
    {
        if (m_source) {
            g_source_remove(m_source);
        }
    }
    TerminationSignals(const TerminationSignals&) = delete;
    TerminationSignals& operator=(const TerminationSignals&) = delete;

private:
    static gboolean on_signal(int fd, GIOCondition, gpointer opaque)
    {
        auto* self = static_cast<TerminationSignals*>(opaque);
        signalfd_siginfo info{};
        while (read(fd, &info, sizeof(info)) == sizeof(info)) {
            std::string name = process_name(static_cast<pid_t>(info.ssi_pid));
            std::fprintf(stderr, "qemu-system-x86_64: terminating on signal %u from pid %u (%s)\n",
                         info.ssi_signo, info.ssi_pid, name.c_str());
            self->m_vm.request_shutdown(qapi::ShutdownCause::host_signal);
        }
        return G_SOURCE_CONTINUE;
    }

    Vm& m_vm;
    UniqueFd m_fd;
    unsigned m_source = 0;
};

// -daemonize: the parent waits until the child has finished initialising, then exits 0
// (or 1 when the child failed), as QEMU does.
class Daemonizer {
public:
    // Returns in the child; the parent exits inside.
    void fork_and_wait()
    {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            report(errno_message("cannot daemonize", errno));
            std::exit(1);
        }
        UniqueFd read_end(fds[0]);
        m_write_end = UniqueFd(fds[1]);
        pid_t pid = fork();
        if (pid < 0) {
            report(errno_message("cannot daemonize", errno));
            std::exit(1);
        }
        if (pid > 0) {
            m_write_end.reset();
            char status = 0;
            ssize_t n;
            do {
                n = read(read_end.get(), &status, 1);
            } while (n < 0 && errno == EINTR);
            std::_Exit(n == 1 && status == 0 ? 0 : 1);
        }
        setsid();
    }

    void init_done()
    {
        if (!m_write_end) {
            return;
        }
        // Nothing may be printed on the terminal once the parent has gone.
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
            dup2(null_fd, STDIN_FILENO);
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
            close(null_fd);
        }
        char ok = 0;
        (void)!write(m_write_end.get(), &ok, 1);
        m_write_end.reset();
    }

private:
    UniqueFd m_write_end;
};

// The pid file is locked for the emulator's lifetime and removed at exit.
class PidFile {
public:
    Result<void> create(const std::string& path)
    {
        // TODO(fdsets): open through qemu_open once util/osdep has it.
        UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd) {
            return make_errno_error(errno, "cannot create PID file: Cannot open pid file");
        }
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        if (fcntl(fd.get(), F_SETLK, &lock) < 0) {
            return make_errno_error(errno, "cannot create PID file: Cannot lock pid file");
        }
        std::string pid = std::to_string(getpid()) + "\n";
        if (ftruncate(fd.get(), 0) < 0 || write(fd.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
            return make_errno_error(errno, "cannot create PID file: Failed to write pid file");
        }
        m_path = path;
        m_fd = std::move(fd);
        return {};
    }
    ~PidFile()
    {
        if (m_fd) {
            unlink(m_path.c_str());
        }
    }

private:
    std::string m_path;
    UniqueFd m_fd;
};

// As QEMU since 9.0: a VM holding many passed fds needs more than the usual soft limit of
// 1024, and nothing here uses select(), so the soft limit goes up to the hard one.
// A failure is only warned about, with QEMU's texts: the VM still runs, with fewer fds.
void raise_open_file_limit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0) {
        report(errno_message("warning: unable to query NOFILE limit", errno));
        return;
    }
    if (limit.rlim_cur == limit.rlim_max) {
        return;
    }
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0) {
        report(errno_message("warning: unable to set NOFILE limit", errno));
    }
}

// What QEMU prints after the backend's own message when a legacy chardev fails; -qtest
// reports without the option's location.
std::string legacy_failure(const ChardevSpec& spec, bool parse_failed)
{
    if (spec.option_name == "-qtest") {
        return "Failed to initialize device for qtest: \"" + spec.value + "\"";
    }
    if (spec.option_name == "-serial" || spec.option_name == "-parallel") {
        std::string device = spec.option_name == "-serial" ? "serial" : "parallel";
        return spec.option + ": could not connect " + device + " device to character backend '" + spec.value + "'";
    }
    if (parse_failed) {
        return spec.option + ": parse error: " + spec.value;
    }
    return {};
}

// When QEMU creates a chardev: -chardev, -qmp and -monitor with the early backends, in
// command-line order; then, with the late ones, -qtest's, every -serial's and every
// -parallel's (qemu_create_late_backends).
int creation_phase(const ChardevSpec& spec)
{
    if (spec.option_name == "-qtest") {
        return 1;
    }
    if (spec.option_name == "-serial") {
        return 2;
    }
    return spec.option_name == "-parallel" ? 3 : 0;
}

// Creates the chardevs in QEMU's order. A "-chardev help" met on the way stops there and
// returns the list of backends, for the caller to print before exiting with 0.
Result<std::optional<std::string>> create_chardevs(Vm& vm, const EmulatorConfig& config)
{
    std::vector<const ChardevSpec*> ordered;
    for (const auto& spec : config.chardevs) {
        ordered.push_back(&spec);
    }
    std::ranges::stable_sort(ordered, {}, [](const ChardevSpec* spec) { return creation_phase(*spec); });
    for (const ChardevSpec* each : ordered) {
        const ChardevSpec& spec = *each;
        bool legacy = !spec.legacy_id.empty();
        if (!legacy && chr::chardev_help_requested(spec.value)) {
            return chr::chardev_help_text();
        }
        std::string location = spec.option_name == "-qtest" ? "" : spec.option + ": ";
        auto options = legacy ? chr::chardev_parse_legacy(spec.value, spec.legacy_id) : chr::chardev_parse_opts(spec.value);
        if (!options) {
            if (!legacy) {
                return std::unexpected(options.error().prepend(location));
            }
            if (!options.error().desc.empty()) {
                report(location + options.error().desc);
            }
            return make_error(legacy_failure(spec, true));
        }
        for (const auto& warning : options->warnings) {
            std::fprintf(stderr, "qemu-system-x86_64: %s: warning: %s\n", spec.option.c_str(), warning.c_str());
        }
        auto created = legacy ? vm.chardevs().add_legacy(*options) : vm.chardevs().add_from_cli(*options);
        if (!created) {
            std::string after = legacy ? legacy_failure(spec, false) : "";
            if (after.empty()) {
                return std::unexpected(created.error().prepend(location));
            }
            report(location + created.error().desc);
            return make_error(after);
        }
    }
    return std::nullopt;
}

// qdev_device_help for each -device: "help" as the driver lists the device models; a
// driver with "help" among its options asks for that model's properties. Either ends the
// run with status 0.
bool device_help_requested(const EmulatorConfig& config)
{
    for (const BlockSpec& spec : config.devices) {
        if (spec.value.starts_with('{')) {
            continue;  // QEMU offers no help for the JSON form
        }
        auto opts = QemuOpts::parse(spec.value, "driver");
        if (!opts) {
            continue;
        }
        auto driver = opts->get("driver");
        if (driver && (*driver == "help" || *driver == "?")) {
            std::fputs(monitor::device_models_help().c_str(), stdout);
            return true;
        }
        if (driver && (opts->has("help") || opts->has("?"))) {
            if (auto help = monitor::device_help(*driver)) {
                std::fputs(help->c_str(), stdout);
                return true;
            }
            report(spec.option + ": Device '" + *driver + "' not found");
            return true;
        }
    }
    return false;
}

// The devices are created last, after the drives and nodes they name (-device's JSON form,
// or key=value with the model as implied key); virtio-blk-device is the one model.
Result<void> create_devices(Vm& vm, const EmulatorConfig& config)
{
    for (const BlockSpec& spec : config.devices) {
        JsonValue properties;
        if (spec.value.starts_with('{')) {
            auto json = json_parse(spec.value);
            if (!json) {
                return make_error(spec.option + ": " + json.error().desc);
            }
            properties = std::move(*json);
        } else {
            auto opts = QemuOpts::parse(spec.value, "driver");
            if (!opts) {
                return make_error(spec.option + ": " + opts.error().desc);
            }
            properties = JsonValue::object();
            for (const auto& [key, value] : opts->entries()) {
                properties[key] = value;
            }
        }
        if (auto added = monitor::add_device(vm, properties); !added) {
            return make_error(spec.option + ": " + added.error().desc);
        }
    }
    return {};
}

Result<void> create_monitors(Vm& vm, const EmulatorConfig& config)
{
    for (const auto& spec : config.monitors) {
        chr::Chardev* chardev = vm.chardevs().find(spec.chardev_id);
        if (!chardev) {
            return make_error("-mon chardev=" + spec.chardev_id + ": chardev \"" + spec.chardev_id + "\" not found");
        }
        if (chardev->has_frontend()) {
            return make_error("-mon chardev=" + spec.chardev_id + ": Device '" + spec.chardev_id +
                              "' is in use");
        }
        if (!spec.control) {
            return make_error("-mon chardev=" + spec.chardev_id + ": mode=readline (HMP) is not supported; use mode=control");
        }
        vm.add_monitor(std::make_unique<monitor::QmpMonitor>(vm, *chardev,
                                                               monitor::QmpMonitorOptions{.pretty = spec.pretty}));
    }
    return {};
}

}  // namespace

int run_emulator(const EmulatorConfig& config)
{
    g_msg_timestamp = config.msg_timestamp;
    if (config.show_version) {
        std::printf("QEMU emulator version %s\nCopyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers\n",
                    QEMU_VERSION);
        return 0;
    }
    if (config.show_help) {
        std::printf("QEMU emulator version %s\n%s", QEMU_VERSION, emulator_help_text().c_str());
        return 0;
    }
    if (config.help == HelpRequest::accelerators) {
        // QEMU leaves qtest out of this list: it is for tests only.
        std::printf("Accelerators supported in QEMU binary:\ntcg\n");
        return 0;
    }
    if (config.help == HelpRequest::objects) {
        std::printf("List of user creatable objects:\n");
        return 0;
    }
    // -device help comes before -machine help, as in QEMU.
    if (device_help_requested(config)) {
        return 0;
    }
    if (config.help == HelpRequest::machines) {
        std::printf("Supported machines are:\nempty                empty machine (ours: \"none\" under a name libvirt "
                    "accepts)\nnone                 empty machine\n");
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    qemu_init_early_signals();
    raise_open_file_limit();
    Daemonizer daemonizer;
    if (config.daemonize) {
        daemonizer.fork_and_wait();
    }

    // QEMU installs its filter before it starts anything; here after -daemonize's fork,
    // which spawn=deny would otherwise forbid.
    if (auto installed = install_seccomp_filter(config.sandbox); !installed) {
        report(installed.error().desc);
        return 1;
    }

    // Declared before vm: the block accounting and the I/O limits of its drives read it
    // under qtest.
    VirtualClock clock;
    auto throttle_timers = make_throttle_timers(config.qtest_accel ? &clock : nullptr);
    Vm vm;
    vm.block().set_throttle_timers(*throttle_timers);
    if (config.qtest_accel) {
        // As QEMU's block accounting: under qtest, times are taken on the virtual clock and
        // every request takes 1 ms.
        vm.block().set_acct_clock([&clock] { return clock.now_ns(); }, 1'000'000);
    }
    vm.set_name(config.name);
    vm.wakeup = [] { g_main_context_wakeup(nullptr); };
    TerminationSignals signals(vm);

    PidFile pidfile;
    if (config.pidfile) {
        if (auto created = pidfile.create(*config.pidfile); !created) {
            report(created.error().desc);
            return 1;
        }
    }
    if (auto ok = add_inherited_fds(vm.fdsets(), config.add_fds); !ok) {
        report(ok.error().desc);
        return 1;
    }
    if (auto ok = read_secrets(vm, config); !ok) {
        report(ok.error().desc);
        return 1;
    }
    if (config.uuid) {
        vm.uuid = *config.uuid;
    }
    auto chardevs = create_chardevs(vm, config);
    if (!chardevs) {
        report(chardevs.error().desc);
        return 1;
    }
    if (*chardevs) {
        std::fputs((*chardevs)->c_str(), stdout);  // -chardev help
        return 0;
    }
    if (auto ok = create_monitors(vm, config); !ok) {
        report(ok.error().desc);
        return 1;
    }
    // Images open after -add-fd, so they can be /dev/fdset/N; -blockdev before -drive.
    for (const BlockSpec& spec : config.blockdevs) {
        if (auto ok = open_blockdev(vm.block(), spec); !ok) {
            report(ok.error().desc);
            return 1;
        }
    }
    auto drives = open_drives(vm.block(), config.drives);
    if (!drives) {
        report(drives.error().desc);
        return 1;
    }
    if (*drives) {
        std::fputs((*drives)->c_str(), stdout);  // -drive format=help
        return 0;
    }
    if (auto ok = create_devices(vm, config); !ok) {
        report(ok.error().desc);
        return 1;
    }
    // The qtest server is destroyed before vm, whose registry owns its chardev.
    auto memory = GuestMemory::create(config.ram_size);
    if (!memory) {
        report(memory.error().desc);
        return 1;
    }
    std::optional<QtestServer> qtest;
    if (config.qtest_chardev) {
        qtest.emplace(*memory, clock, QtestServerOptions{.qtest_accel = config.qtest_accel, .log = config.qtest_log});
        if (auto attached = qtest->attach(*vm.chardevs().find(*config.qtest_chardev)); !attached) {
            report(attached.error().desc);
            return 1;
        }
    }
    vm.set_initial_runstate(config.start_stopped ? qapi::RunState::prelaunch : qapi::RunState::running);
    if (config.sandbox.deny_fs) {
        // Everything the command line names is open: from here the kernel refuses paths.
        if (auto sealed = seal_filesystem(vm.fdsets()); !sealed) {
            report("-sandbox: " + sealed.error().desc);
            return 1;
        }
    }
    daemonizer.init_done();

    while (!vm.shutdown_requested()) {
        g_main_context_iteration(nullptr, TRUE);
    }
    // Let replies and the SHUTDOWN event already queued reach the clients.
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    return 0;
}

}  // namespace qemu
