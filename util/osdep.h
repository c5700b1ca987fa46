// qemu_open(): the one way the program opens files. A name "/dev/fdset/N" never touches
// the filesystem: it duplicates a member of fd set N. The returned QemuFd is the only owner
// of the descriptor, and its destructor is qemu_close(): a duplicate goes back to its set.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <string_view>
#include <utility>

#include "util/error.h"
#include "util/unique_fd.h"

namespace qemu {

class FdSetRegistry;

// Where qemu_open() may find fd sets. Tools (qemu-img, qemu-io) have none.
struct OpenContext {
    FdSetRegistry* fdsets = nullptr;
};

class QemuFd {
public:
    QemuFd() = default;
    QemuFd(UniqueFd fd, FdSetRegistry* owner) : m_fd(std::move(fd)), m_owner(owner) {}
    QemuFd(QemuFd&& other) noexcept : m_fd(std::move(other.m_fd)), m_owner(std::exchange(other.m_owner, nullptr)) {}
    QemuFd& operator=(QemuFd&& other) noexcept
    {
        if (this != &other) {
            close();
            m_fd = std::move(other.m_fd);
            m_owner = std::exchange(other.m_owner, nullptr);
        }
        return *this;
    }
    QemuFd(const QemuFd&) = delete;
    QemuFd& operator=(const QemuFd&) = delete;
    ~QemuFd() { close(); }

    int get() const { return m_fd.get(); }
    bool valid() const { return m_fd.valid(); }
    explicit operator bool() const { return valid(); }
    // Whether this fd is a duplicate lent by an fd set.
    bool from_fdset() const { return m_owner != nullptr; }

    // qemu_close(): gives a duplicate back to its set, or closes a plain fd.
    void close();

private:
    UniqueFd m_fd;
    FdSetRegistry* m_owner = nullptr;
};

// Opens name with flags | O_CLOEXEC. Errors carry errno and QEMU's text:
// "Could not open 'NAME': strerror", "Could not parse fdset NAME",
// "Failed to find fdset /dev/fdset/N", "Failed to find file descriptor with matching flags=0x..".
Result<QemuFd> qemu_open(const OpenContext& context, std::string_view name, int flags, mode_t mode = 0);

// qemu_unlink(): a /dev/fdset/ name is not a file, so it is left alone.
int qemu_unlink(std::string_view name);

// Parses the N of /dev/fdset/N as QEMU does (decimal, 0..INT_MAX, whole string); -1 if bad.
int64_t qemu_parse_fdset_id(std::string_view text);

}  // namespace qemu
