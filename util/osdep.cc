// qemu_open / qemu_close (see osdep.h).
#include "util/osdep.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/fdset.h"

namespace qemu {

namespace {
constexpr std::string_view kFdSetPrefix = "/dev/fdset/";
}

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
        std::string desc = "Could not open '" + path + "': ";
        if (err == EINVAL && (flags & O_DIRECT)) {
            desc += "filesystem does not support O_DIRECT";
        } else {
            desc += std::strerror(err);
        }
        return std::unexpected(Error{ErrorClass::GenericError, std::move(desc), err});
    }
    return QemuFd(UniqueFd(fd), nullptr);
}

int qemu_unlink(std::string_view name)
{
    if (name.starts_with(kFdSetPrefix)) {
        return 0;
    }
    return ::unlink(std::string(name).c_str());
}

}  // namespace qemu
