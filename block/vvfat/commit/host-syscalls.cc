// Host filesystem calls of the committer, each beneath a directory fd (see host-syscalls.h).
#include "block/vvfat/commit/host-syscalls.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "block/vvfat/commit/fat-names.h"
#include "util/osdep.h"

namespace qemu::block::vvfat {

namespace {

// The names reach here already validated by the parser; checking again keeps the promise of
// this file local: nothing but one component is ever passed to the kernel.
Result<std::string> component(std::string_view name)
{
    if (!is_valid_host_name(name)) {
        return make_errno_error(EINVAL, "vvfat commit: refused host name '" + std::string(name) + "'");
    }
    return std::string(name);
}

std::unexpected<Error> failed(int err, std::string_view what, std::string_view name)
{
    return make_errno_error(err, "vvfat commit: " + std::string(what) + " '" + std::string(name) + "'");
}

Result<UniqueFd> open_component(int dir, std::string_view name, int flags, mode_t mode)
{
    std::string c = TRY(component(name));
    return open_beneath(dir, c, flags | O_NOFOLLOW, mode, BeneathNames{.name = c, .root = "the vvfat directory"});
}

}  // namespace

Result<UniqueFd> duplicate_directory_fd(int dir_fd)
{
    UniqueFd dup(fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) {
        return make_errno_error(errno, "vvfat commit: cannot duplicate the directory fd");
    }
    struct stat st { };
    if (fstat(dup.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return make_errno_error(ENOTDIR, "vvfat commit: the directory fd is not a directory");
    }
    return dup;
}

Result<UniqueFd> open_subdirectory(int dir, std::string_view name)
{
    return open_component(dir, name, O_RDONLY | O_DIRECTORY, 0);
}

Result<UniqueFd> create_file(int dir, std::string_view name)
{
    return open_component(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0666);
}

Result<UniqueFd> open_file_for_writing(int dir, std::string_view name)
{
    struct stat st = TRY(stat_entry(dir, name));
    if (!S_ISREG(st.st_mode)) {
        return failed(EINVAL, "not a regular file:", name);
    }
    UniqueFd fd = TRY(open_component(dir, name, O_WRONLY | O_NONBLOCK, 0));
    // The name could have been swapped between the lstat and the open.
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return failed(EINVAL, "not a regular file:", name);
    }
    return fd;
}

Result<struct stat> stat_entry(int dir, std::string_view name)
{
    std::string c = TRY(component(name));
    struct stat st { };
    if (fstatat(dir, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return failed(errno, "cannot stat", c);
    }
    return st;
}

Result<void> make_directory(int dir, std::string_view name)
{
    std::string c = TRY(component(name));
    if (mkdirat(dir, c.c_str(), 0755) != 0) {
        return failed(errno, "cannot create directory", c);
    }
    return {};
}

Result<void> rename_entry(int from_dir, std::string_view from, int to_dir, std::string_view to)
{
    std::string a = TRY(component(from));
    std::string b = TRY(component(to));
    if (renameat2(from_dir, a.c_str(), to_dir, b.c_str(), RENAME_NOREPLACE) != 0) {
        return failed(errno, "cannot rename '" + a + "' to", b);
    }
    return {};
}

Result<void> remove_file(int dir, std::string_view name)
{
    std::string c = TRY(component(name));
    if (unlinkat(dir, c.c_str(), 0) != 0) {
        return failed(errno, "cannot delete", c);
    }
    return {};
}

Result<bool> remove_directory(int dir, std::string_view name)
{
    std::string c = TRY(component(name));
    if (unlinkat(dir, c.c_str(), AT_REMOVEDIR) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
            return false;
        }
        return failed(errno, "cannot delete directory", c);
    }
    return true;
}

Result<void> write_all_at(int fd, std::span<const uint8_t> data, uint64_t offset)
{
    while (!data.empty()) {
        ssize_t done = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (done < 0 && errno == EINTR) {
            continue;
        }
        if (done <= 0) {
            return make_errno_error(done < 0 ? errno : EIO, "vvfat commit: write failed");
        }
        data = data.subspan(static_cast<size_t>(done));
        offset += static_cast<uint64_t>(done);
    }
    return {};
}

Result<void> truncate_file(int fd, uint64_t size)
{
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        return make_errno_error(errno, "vvfat commit: ftruncate failed");
    }
    return {};
}

}  // namespace qemu::block::vvfat
