// Sealed mode. `-sandbox on[,obsolete=,elevateprivileges=,spawn=,resourcecontrol=]` is
// QEMU's seccomp deny-list, with its option syntax, texts and syscall groups. Our suboption
// `fs=deny` (also `--sandbox fs=deny` in qemu-img and qemu-io) makes the kernel refuse the
// process every path access from the moment of sealing: Landlock with no path allowed
// (directory members already in an fd set stay usable beneath), or where Landlock is
// missing a seccomp filter that fails the path-taking system calls with EACCES. Descriptors
// already open (fd-set members and their duplicates, sockets, chardev files) keep working.
#pragma once

#include <span>
#include <string_view>

#include "util/error.h"
#include "util/fdset.h"

namespace qemu {

struct SandboxOptions {
    bool enable = false;  // -sandbox on: the seccomp deny-list
    bool deny_obsolete = true;
    bool deny_privileged = false;
    bool no_new_privs = false;  // elevateprivileges=children
    bool deny_spawn = false;
    bool deny_resourcecontrol = false;
    bool deny_fs = false;  // ours: fs=deny
};

// The emulator's -sandbox ARG (QemuOpts, implied key "enable"). Errors carry QEMU's bare
// text ("invalid argument for spawn", "Invalid parameter 'x'"); the caller adds "-sandbox ARG: ".
Result<SandboxOptions> parse_sandbox_options(std::string_view arg);

// The tools' --sandbox ARG: only fs=allow|deny.
Result<SandboxOptions> parse_tool_sandbox_options(std::string_view arg);

// Installs QEMU's seccomp filter for the groups opts enables (on every thread). A no-op
// unless opts.enable.
Result<void> install_seccomp_filter(const SandboxOptions& opts);

// fs=deny: from now on no path can be opened, created, removed or renamed by this process.
// `beneath` are directories (fd-set directory members) below which opening stays allowed;
// they are honoured with Landlock only. Fails, rather than leave the process unsealed,
// when neither Landlock nor seccomp is available.
Result<void> seal_filesystem(std::span<const int> beneath);

// The fallback seal_filesystem uses without Landlock, on its own (tests use it where
// Landlock is present): a seccomp filter failing every path call and io_uring with EACCES.
Result<void> seal_filesystem_with_seccomp();

// seal_filesystem keeping every directory member of fdsets usable beneath.
Result<void> seal_filesystem(const FdSetRegistry& fdsets);

}  // namespace qemu
