// Sealed mode (see sandbox.h): QEMU's seccomp deny-list through libseccomp, and fs=deny
// through Landlock (or a seccomp fallback).
#include "util/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/qemu-option.h"
#include "util/unique_fd.h"

namespace qemu {

namespace {

using Group = unsigned;
constexpr Group kDefault = 1;
constexpr Group kObsolete = 2;
constexpr Group kPrivileged = 4;
constexpr Group kSpawn = 8;
constexpr Group kResourceControl = 16;

struct DeniedCall {
    const char* name;
    Group group;
};

// Landlock ABI 3's right (Linux 6.2); Debian 12's headers predate it.
constexpr uint64_t kLandlockTruncate = uint64_t{1} << 14;

// QEMU 7.2's groups. Names the host architecture lacks are skipped by libseccomp.
constexpr std::array kDenied = {
    DeniedCall{"reboot", kDefault}, DeniedCall{"swapon", kDefault}, DeniedCall{"swapoff", kDefault},
    DeniedCall{"syslog", kDefault}, DeniedCall{"mount", kDefault}, DeniedCall{"umount", kDefault},
    DeniedCall{"kexec_load", kDefault}, DeniedCall{"afs_syscall", kDefault}, DeniedCall{"break", kDefault},
    DeniedCall{"ftime", kDefault}, DeniedCall{"getpmsg", kDefault}, DeniedCall{"gtty", kDefault},
    DeniedCall{"lock", kDefault}, DeniedCall{"mpx", kDefault}, DeniedCall{"prof", kDefault},
    DeniedCall{"profil", kDefault}, DeniedCall{"putpmsg", kDefault}, DeniedCall{"security", kDefault},
    DeniedCall{"stty", kDefault}, DeniedCall{"tuxcall", kDefault}, DeniedCall{"ulimit", kDefault},
    DeniedCall{"vserver", kDefault},
    DeniedCall{"readdir", kObsolete}, DeniedCall{"_sysctl", kObsolete}, DeniedCall{"bdflush", kObsolete},
    DeniedCall{"create_module", kObsolete}, DeniedCall{"get_kernel_syms", kObsolete},
    DeniedCall{"query_module", kObsolete}, DeniedCall{"sgetmask", kObsolete}, DeniedCall{"ssetmask", kObsolete},
    DeniedCall{"sysfs", kObsolete}, DeniedCall{"uselib", kObsolete}, DeniedCall{"ustat", kObsolete},
    DeniedCall{"setuid", kPrivileged}, DeniedCall{"setgid", kPrivileged}, DeniedCall{"setpgid", kPrivileged},
    DeniedCall{"setsid", kPrivileged}, DeniedCall{"setreuid", kPrivileged}, DeniedCall{"setregid", kPrivileged},
    DeniedCall{"setresuid", kPrivileged}, DeniedCall{"setresgid", kPrivileged},
    DeniedCall{"setfsuid", kPrivileged}, DeniedCall{"setfsgid", kPrivileged},
    DeniedCall{"fork", kSpawn}, DeniedCall{"vfork", kSpawn}, DeniedCall{"execve", kSpawn},
    DeniedCall{"setpriority", kResourceControl}, DeniedCall{"sched_setparam", kResourceControl},
    DeniedCall{"sched_setscheduler", kResourceControl}, DeniedCall{"sched_setaffinity", kResourceControl},
};

// The calls fs=deny's seccomp fallback fails with EACCES: everything that resolves a path
// to open, create, remove, rename, link or change a file, and io_uring, whose operations
// (an openat in a ring) the filter would never see.
constexpr std::array kPathCalls = {
    "open", "openat", "openat2", "creat", "mknod", "mknodat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat",
    "chown", "lchown", "fchownat", "execve", "execveat", "chdir", "chroot", "utime", "utimes", "utimensat",
    "futimesat", "setxattr", "lsetxattr", "removexattr", "lremovexattr", "name_to_handle_at", "open_by_handle_at",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
};

// libseccomp's context, released on every path out.
class SeccompFilter {
public:
    explicit SeccompFilter(uint32_t default_action) : m_ctx(seccomp_init(default_action)) { }
    ~SeccompFilter()
    {
        if (m_ctx) {
            seccomp_release(m_ctx);
        }
    }
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;

    scmp_filter_ctx get() const { return m_ctx; }

private:
    scmp_filter_ctx m_ctx;
};

uint32_t kill_action()
{
    uint32_t action = SECCOMP_RET_KILL_PROCESS;
    // QEMU kills the whole process where the kernel can, otherwise traps.
    return syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP;
}

Result<void> load(const SeccompFilter& filter)
{
    if (int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
        return make_errno_error(-rc, "failed to set seccomp thread synchronization");
    }
    if (int rc = seccomp_load(filter.get()); rc < 0) {
        return make_errno_error(-rc, "failed to load seccomp syscall filter in kernel");
    }
    return {};
}

enum class Choice { Unset, Allow, Deny, Children };

Result<Choice> allow_or_deny(const QemuOpts& opts, std::string_view key, bool children_too)
{
    auto value = opts.get(key);
    if (!value) {
        return Choice::Unset;
    }
    if (*value == "allow") {
        return Choice::Allow;
    }
    if (*value == "deny") {
        return Choice::Deny;
    }
    if (children_too && *value == "children") {
        return Choice::Children;
    }
    return make_error("invalid argument for " + std::string(key));
}

// The access rights a Landlock ABI version can handle.
uint64_t landlock_rights(int abi)
{
    uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
    if (abi >= 2) {
        rights |= LANDLOCK_ACCESS_FS_REFER;
    }
    if (abi >= 3) {
        rights |= kLandlockTruncate;
    }
    return rights;
}

// Landlock with nothing allowed but what lies beneath `beneath`; false if the kernel has no
// Landlock (the caller falls back to seccomp).
Result<bool> seal_with_landlock(std::span<const int> beneath)
{
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        return false;
    }
    landlock_ruleset_attr attr{};
    attr.handled_access_fs = landlock_rights(static_cast<int>(abi));
    UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
    if (!ruleset) {
        return make_errno_error(errno, "failed to create the Landlock ruleset");
    }
    for (int dir : beneath) {
        landlock_path_beneath_attr rule{};
        rule.allowed_access = attr.handled_access_fs;
        rule.parent_fd = dir;
        if (syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
            return make_errno_error(errno, "failed to allow a directory member in the Landlock ruleset");
        }
    }
#if defined(__SANITIZE_ADDRESS__)
    // Test builds only: LeakSanitizer reads /proc/self/maps when the process exits, so a
    // sanitized build may still read (never write) /proc.
    if (UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC)); proc) {
        landlock_path_beneath_attr rule{};
        rule.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        rule.parent_fd = proc.get();
        (void)syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    }
#endif
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return make_errno_error(errno, "failed to set no_new_privs");
    }
    if (syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) {
        return make_errno_error(errno, "failed to enforce the Landlock ruleset");
    }
    return true;
}

}  // namespace

Result<SandboxOptions> parse_sandbox_options(std::string_view arg)
{
    QemuOpts opts = TRY(QemuOpts::parse(arg, "enable"));
    static constexpr std::array<std::string_view, 6> kAllowed = {
        "enable", "obsolete", "elevateprivileges", "spawn", "resourcecontrol", "fs"};
    TRY_VOID(opts.check_allowed(kAllowed));
    SandboxOptions result;
    result.enable = TRY(opts.get_bool("enable")).value_or(false);
    // As QEMU, the suboptions are only looked at when the sandbox is on.
    if (!result.enable) {
        return result;
    }
    result.deny_obsolete = TRY(allow_or_deny(opts, "obsolete", false)) != Choice::Allow;
    Choice privileges = TRY(allow_or_deny(opts, "elevateprivileges", true));
    result.deny_privileged = privileges == Choice::Deny || privileges == Choice::Children;
    result.no_new_privs = privileges == Choice::Children;
    result.deny_spawn = TRY(allow_or_deny(opts, "spawn", false)) == Choice::Deny;
    result.deny_resourcecontrol = TRY(allow_or_deny(opts, "resourcecontrol", false)) == Choice::Deny;
    result.deny_fs = TRY(allow_or_deny(opts, "fs", false)) == Choice::Deny;
    return result;
}

Result<SandboxOptions> parse_tool_sandbox_options(std::string_view arg)
{
    QemuOpts opts = TRY(QemuOpts::parse(arg));
    static constexpr std::array<std::string_view, 1> kAllowed = {"fs"};
    TRY_VOID(opts.check_allowed(kAllowed));
    SandboxOptions result;
    result.deny_fs = TRY(allow_or_deny(opts, "fs", false)) == Choice::Deny;
    return result;
}

Result<void> install_seccomp_filter(const SandboxOptions& opts)
{
    if (!opts.enable) {
        return {};
    }
    unsigned groups = kDefault;
    groups |= opts.deny_obsolete ? kObsolete : 0;
    groups |= opts.deny_privileged ? kPrivileged : 0;
    groups |= opts.deny_spawn ? kSpawn : 0;
    groups |= opts.deny_resourcecontrol ? kResourceControl : 0;
    if (opts.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return make_error("failed to set no_new_privs aborting");
    }
    SeccompFilter filter(SCMP_ACT_ALLOW);
    if (!filter.get()) {
        return make_error("failed to initialize seccomp context");
    }
    const uint32_t kill = kill_action();
    for (const DeniedCall& call : kDenied) {
        if (!(groups & call.group)) {
            continue;
        }
        int number = seccomp_syscall_resolve_name(call.name);
        if (number == __NR_SCMP_ERROR) {
            continue;
        }
        int rc;
        if (call.group == kResourceControl) {
            // sched_setscheduler stays allowed for SCHED_IDLE, as in QEMU.
            if (std::string_view(call.name) == "sched_setscheduler") {
                rc = seccomp_rule_add(
                    filter.get(), SCMP_ACT_ERRNO(EPERM), number, 1, SCMP_A1(SCMP_CMP_NE, SCHED_IDLE));
            } else {
                rc = seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(EPERM), number, 0);
            }
        } else {
            rc = seccomp_rule_add(filter.get(), kill, number, 0);
        }
        if (rc < 0) {
            return make_errno_error(-rc, "failed to add seccomp denylist rules");
        }
    }
    return load(filter);
}

Result<void> seal_filesystem_with_seccomp()
{
    SeccompFilter filter(SCMP_ACT_ALLOW);
    if (!filter.get()) {
        return make_error("failed to initialize seccomp context");
    }
    for (const char* name : kPathCalls) {
        int number = seccomp_syscall_resolve_name(name);
        if (number == __NR_SCMP_ERROR) {
            continue;
        }
        if (int rc = seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(EACCES), number, 0); rc < 0) {
            return make_errno_error(-rc, "failed to add seccomp denylist rules");
        }
    }
    return load(filter);
}

Result<void> seal_filesystem(std::span<const int> beneath)
{
    if (TRY(seal_with_landlock(beneath))) {
        return {};
    }
    if (auto sealed = seal_filesystem_with_seccomp(); !sealed) {
        return make_error("cannot seal the file system: the kernel has no Landlock, and " + sealed.error().desc);
    }
    return {};
}

Result<void> seal_filesystem(const FdSetRegistry& fdsets)
{
    std::vector<int> dirs;
    for (const FdSetInfo& set : fdsets.query()) {
        for (const FdSetMemberInfo& member : set.fds) {
            struct stat st {};
            if (::fstat(member.fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                dirs.push_back(member.fd);
            }
        }
    }
    return seal_filesystem(std::span<const int>(dirs));
}

}  // namespace qemu
