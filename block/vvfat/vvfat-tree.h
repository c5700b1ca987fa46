// The host side of vvfat: reading a directory that the driver holds as a descriptor, in
// the order readdir gives QEMU, and stat'ing its entries without ever leaving the
// directory the user passed. Everything is reached beneath that one directory fd
// (qemu_open_beneath), so a directory passed through an fd set needs no path.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/osdep.h"
#include "util/thread-pool.h"

namespace qemu::block::vvfat {

// The directory the disk shows: its descriptor and the name it was given under (for
// messages and for qemu_open_beneath's error texts).
struct HostRoot {
    QemuFd fd;
    std::string name;  // as given, without a trailing '/'
};

// Opens the directory (a path or /dev/fdset/N[/DIR]) once, through qemu_open.
Result<HostRoot> open_host_root(const OpenContext& context, std::string_view dir);

// Opens `relative` (a non-empty '/'-joined path below the root) beneath the root with
// flags; symlinks that lead outside fail.
Result<QemuFd> open_below_root(const HostRoot& root, std::string_view relative, int flags);

// The names in a directory, in getdents order, "." and ".." included (QEMU sees them).
// Bounded by what the kernel returns; reads from the start whatever the fd's position.
Result<std::vector<std::string>> list_directory(const QemuFd& dir);

// stat_entry for every name of `names` except "." and ".." (left nullopt), in order. With a
// pool, half the names are stat'ed on one of its threads while the caller does the other
// half: the walk of a large tree is mostly these system calls.
std::vector<std::optional<struct stat>> stat_entries(const HostRoot& root, const QemuFd& dir,
    std::string_view dir_relative, const std::vector<std::string>& names, ThreadPool* pool);

// stat of `name` inside the directory `dir` (which is `dir_relative` below the root). A
// symlink is followed only if it stays beneath the root; nullopt when QEMU's stat would
// fail or the entry leads outside (such entries are skipped).
std::optional<struct stat> stat_entry(
    const HostRoot& root, const QemuFd& dir, std::string_view dir_relative, std::string_view name);

// "a/b" from "a" and "b"; the root is "".
std::string join_relative(std::string_view dir_relative, std::string_view name);

}  // namespace qemu::block::vvfat
