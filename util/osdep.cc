// qemu_open / qemu_close (see osdep.h).
#include "util/osdep.h"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/fdset.h"

namespace qemu {

namespace {

constexpr std::string_view kFdSetPrefix = "/dev/fdset/";

std::unexpected<Error> open_error(std::string_view name, int err, std::string_view why)
{
    return std::unexpected(
        Error{ErrorClass::GenericError, "Could not open '" + std::string(name) + "': " + std::string(why), err});
}

std::string strerror_for_open(int err, int flags)
{
    if (err == EINVAL && (flags & O_DIRECT)) {
        return "filesystem does not support O_DIRECT";
    }
    return std::strerror(err);
}

// /dev/fdset/N/NAME: the part after the prefix holds a '/'.
Result<QemuFd> open_fdset_member(
    const OpenContext& context, std::string_view name, std::string_view rest, int flags, mode_t mode)
{
    size_t slash = rest.find('/');
    int64_t id = qemu_parse_fdset_id(rest.substr(0, slash));
    if (id < 0) {
        return std::unexpected(Error{ErrorClass::GenericError,
            "Could not parse fdset " + std::string(name) + ": '" + std::string(rest.substr(0, slash)) +
                "' is not an fd set number",
            EINVAL});
    }
    std::string_view member = rest.substr(slash + 1);
    if (member.empty()) {
        return std::unexpected(Error{ErrorClass::GenericError,
            "Could not parse fdset " + std::string(name) + ": no member name after the set number", EINVAL});
    }
    if (!context.fdsets) {
        return open_error(name, ENOSYS, std::strerror(ENOSYS));
    }
    UniqueFd fd = TRY(context.fdsets->open_named(id, member, flags, mode));
    return QemuFd(std::move(fd), context.fdsets);
}

}  // namespace

void QemuFd::close()
{
    if (m_owner) {
        m_owner->release_dup(std::move(m_fd));
        m_owner = nullptr;
    } else {
        m_fd.reset();
    }
}

int64_t qemu_parse_fdset_id(std::string_view text)
{
    // strtol semantics, as QEMU's qemu_parse_fd: leading blanks and '+' pass.
    std::string copy(text);
    if (copy.empty()) {
        return -1;
    }
    errno = 0;
    char* end = nullptr;
    long value = std::strtol(copy.c_str(), &end, 10);
    if (errno != 0 || end == copy.c_str() || *end != '\0' || value < 0 || value > INT_MAX) {
        return -1;
    }
    return value;
}

Result<QemuFd> qemu_open(const OpenContext& context, std::string_view name, int flags, mode_t mode)
{
    if (name.starts_with(kFdSetPrefix) && name.find('/', kFdSetPrefix.size()) != std::string_view::npos) {
        return open_fdset_member(context, name, name.substr(kFdSetPrefix.size()), flags, mode);
    }
    if (name.starts_with(kFdSetPrefix)) {
        int64_t id = qemu_parse_fdset_id(name.substr(kFdSetPrefix.size()));
        if (id < 0) {
            return std::unexpected(Error{ErrorClass::GenericError, "Could not parse fdset " + std::string(name), EINVAL});
        }
        if (!context.fdsets) {
            return std::unexpected(Error{ErrorClass::GenericError,
                                         "Could not open '" + std::string(name) + "': " + std::strerror(ENOSYS), ENOSYS});
        }
        UniqueFd dup = TRY(context.fdsets->dup_member(id, flags));
        return QemuFd(std::move(dup), context.fdsets);
    }
    std::string path(name);
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int err = errno;
        return open_error(path, err, strerror_for_open(err, flags));
    }
    return QemuFd(UniqueFd(fd), nullptr);
}

bool has_dotdot_component(std::string_view relative)
{
    size_t start = 0;
    while (start <= relative.size()) {
        size_t end = relative.find('/', start);
        if (end == std::string_view::npos) {
            end = relative.size();
        }
        if (relative.substr(start, end - start) == "..") {
            return true;
        }
        start = end + 1;
    }
    return false;
}

Result<UniqueFd> open_beneath(int dirfd, std::string_view relative, int flags, mode_t mode, const BeneathNames& names)
{
    std::string root(names.root);
    // Refused here rather than left to the kernel so the error says what was wrong; the
    // kernel would also allow a ".." that stays inside, which is not worth the subtlety.
    if (relative.empty()) {
        return open_error(names.name, EINVAL, "no file name beneath " + root);
    }
    if (relative.starts_with('/')) {
        return open_error(names.name, EXDEV, "absolute name '" + std::string(relative) + "' refused beneath " + root);
    }
    if (has_dotdot_component(relative)) {
        return open_error(names.name, EXDEV, "'..' in '" + std::string(relative) + "' refused beneath " + root);
    }
    std::string path(relative);
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    // openat2 refuses a mode without O_CREAT or O_TMPFILE.
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    int attempts = 0;
    // EAGAIN: the kernel saw a concurrent rename and could not prove the walk stayed beneath.
    do {
        fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++attempts < 16)));
    if (fd < 0) {
        int err = errno;
        if (err == EXDEV) {
            return open_error(names.name, err, "'" + path + "' leads outside " + root);
        }
        if (err == ENOSYS) {
            // No fallback to a plain openat: it could escape.
            return open_error(names.name, err, "opening beneath " + root + " needs openat2 (Linux 5.6 or later)");
        }
        return open_error(names.name, err, strerror_for_open(err, flags));
    }
    return UniqueFd(static_cast<int>(fd));
}

Result<QemuFd> qemu_open_beneath(
    const QemuFd& dir, std::string_view dir_name, std::string_view relative, int flags, mode_t mode)
{
    std::string display = std::string(dir_name) + "/" + std::string(relative);
    std::string root = "directory '" + std::string(dir_name) + "'";
    UniqueFd fd = TRY(open_beneath(dir.get(), relative, flags, mode, BeneathNames{.name = display, .root = root}));
    FdSetRegistry* lender = dir.lender();
    if (lender && lender->lend_beside(dir.get(), fd.get())) {
        return QemuFd(std::move(fd), lender);
    }
    return QemuFd(std::move(fd), nullptr);
}

Result<QemuFd> qemu_open_beneath(
    const OpenContext& context, std::string_view dir_name, std::string_view relative, int flags, mode_t mode)
{
    QemuFd dir = TRY(qemu_open(context, dir_name, O_RDONLY | O_DIRECTORY));
    return qemu_open_beneath(dir, dir_name, relative, flags, mode);
}

std::string qemu_path_combine(std::string_view base, std::string_view name)
{
    if (name.starts_with('/')) {
        return std::string(name);
    }
    if (base.starts_with(kFdSetPrefix)) {
        std::string_view rest = base.substr(kFdSetPrefix.size());
        if (rest.find('/') == std::string_view::npos && qemu_parse_fdset_id(rest) >= 0) {
            return std::string(base) + "/" + std::string(name);
        }
    }
    size_t keep = 0;
    size_t slash = base.rfind('/');
    if (slash != std::string_view::npos) {
        keep = slash + 1;
    } else if (size_t colon = base.find(':'); colon != std::string_view::npos) {
        keep = colon + 1;  // "proto:name": the protocol stays, as QEMU's path_combine keeps it
    }
    return std::string(base.substr(0, keep)) + std::string(name);
}

int qemu_unlink(std::string_view name)
{
    if (name.starts_with(kFdSetPrefix)) {
        return 0;
    }
    return ::unlink(std::string(name).c_str());
}

void qemu_init_early_signals()
{
    std::signal(SIGXFSZ, SIG_IGN);
}

}  // namespace qemu
