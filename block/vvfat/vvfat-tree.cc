// Host directory access for vvfat, all of it beneath one directory descriptor.
#include "block/vvfat/vvfat-tree.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace qemu::block::vvfat {

Result<HostRoot> open_host_root(const OpenContext& context, std::string_view dir)
{
    HostRoot root;
    root.name = std::string(dir);
    // QEMU strips one trailing slash from the directory name.
    if (!root.name.empty() && root.name.back() == '/') {
        root.name.pop_back();
    }
    auto fd = qemu_open(context, dir, O_RDONLY | O_DIRECTORY);
    if (!fd) {
        return std::unexpected(std::move(fd).error());
    }
    root.fd = std::move(*fd);
    return root;
}

std::string join_relative(std::string_view dir_relative, std::string_view name)
{
    if (dir_relative.empty()) {
        return std::string(name);
    }
    std::string joined(dir_relative);
    joined += '/';
    joined += name;
    return joined;
}

Result<QemuFd> open_below_root(const HostRoot& root, std::string_view relative, int flags)
{
    return qemu_open_beneath(root.fd, root.name, relative, flags);
}

Result<std::vector<std::string>> list_directory(const QemuFd& dir)
{
    // A duplicate from an fd set shares its position with the member: start over.
    if (::lseek(dir.get(), 0, SEEK_SET) < 0) {
        return make_errno_error(errno, "Could not read directory");
    }
    std::vector<std::string> names;
    alignas(8) std::array<char, 32768> buffer;
    for (;;) {
        long got = ::syscall(SYS_getdents64, dir.get(), buffer.data(), buffer.size());
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "Could not read directory");
        }
        if (got == 0) {
            break;
        }
        // linux_dirent64: ino (8), off (8), reclen (2), type (1), then the name.
        constexpr size_t kNameOffset = 19;
        for (long pos = 0; pos < got;) {
            uint16_t reclen = 0;
            std::memcpy(&reclen, buffer.data() + pos + 16, sizeof reclen);
            if (reclen <= kNameOffset || pos + reclen > got) {
                return make_errno_error(EIO, "Could not read directory");
            }
            const char* name = buffer.data() + pos + kNameOffset;
            names.emplace_back(name, ::strnlen(name, reclen - kNameOffset));
            pos += reclen;
        }
    }
    return names;
}

std::optional<struct stat> stat_entry(
    const HostRoot& root, const QemuFd& dir, std::string_view dir_relative, std::string_view name)
{
    struct stat st { };
    std::string name_z(name);
    if (::fstatat(dir.get(), name_z.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return std::nullopt;
    }
    if (!S_ISLNK(st.st_mode)) {
        return st;
    }
    // QEMU stat()s through symlinks. We follow one only as far as the root allows: a link
    // that leads outside (or dangles) is skipped, as QEMU skips what stat cannot reach.
    // A plain descriptor, not a QemuFd: it lives for the fstat alone, and stat_entries may
    // run here on a worker thread, which must not touch the fd-set registry.
    std::string relative = join_relative(dir_relative, name);
    auto target = open_beneath(root.fd.get(), relative, O_PATH, 0, BeneathNames{.name = relative, .root = root.name});
    if (!target || ::fstat(target->get(), &st) != 0) {
        return std::nullopt;
    }
    return st;
}

std::vector<std::optional<struct stat>> stat_entries(const HostRoot& root, const QemuFd& dir,
    std::string_view dir_relative, const std::vector<std::string>& names, ThreadPool* pool)
{
    std::vector<std::optional<struct stat>> stats(names.size());
    auto stat_range = [&](size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) {
            if (names[i] != "." && names[i] != "..") {
                stats[i] = stat_entry(root, dir, dir_relative, names[i]);
            }
        }
    };
    // Below this many names a hop to the worker costs more than it saves.
    constexpr size_t kSplitAt = 16;
    if (!pool || names.size() < kSplitAt) {
        stat_range(0, names.size());
        return stats;
    }
    size_t half = names.size() / 2;
    auto second = pool->submit([&] { stat_range(half, names.size()); });
    stat_range(0, half);
    second.wait();
    return stats;
}

}  // namespace qemu::block::vvfat
