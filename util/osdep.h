// qemu_open(): the one way the program opens files. A name "/dev/fdset/N" never touches
// the filesystem: it duplicates a member of fd set N. The returned QemuFd is the only owner
// of the descriptor, and its destructor is qemu_close(): a duplicate goes back to its set.
// Our extensions (README, "Our fd-set extensions"): /dev/fdset/N/NAME picks a member by its
// opaque or opens beneath a directory member, and qemu_open_beneath() gives the block layer
// one way to open a name that cannot leave its directory.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <string>
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
    // The registry that lent this fd (nullptr for a plain fd).
    FdSetRegistry* lender() const { return m_owner; }

    // qemu_close(): gives a duplicate back to its set, or closes a plain fd.
    void close();

private:
    UniqueFd m_fd;
    FdSetRegistry* m_owner = nullptr;
};

// Opens name with flags | O_CLOEXEC. Errors carry errno and QEMU's text:
// "Could not open 'NAME': strerror", "Could not parse fdset NAME",
// "Failed to find fdset /dev/fdset/N", "Failed to find file descriptor with matching flags=0x..".
// /dev/fdset/N/NAME adds texts of its own (the README lists them).
Result<QemuFd> qemu_open(const OpenContext& context, std::string_view name, int flags, mode_t mode = 0);

// How a name opened beneath a directory appears in error texts: `name` as in "Could not
// open 'NAME'", `root` says which directory ("directory 'PATH'").
// Whether one of relative's '/'-separated components is ".." (open_beneath refuses those).
bool has_dotdot_component(std::string_view relative);

struct BeneathNames {
    std::string_view name;
    std::string_view root;
};

// Opens relative beneath the directory dirfd with flags | O_CLOEXEC (O_CREAT allowed), and
// never outside it: an empty or absolute name or one with a ".." component is refused
// before the syscall, and openat2's RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS make a symlink
// that leads outside fail (EXDEV). The caller owns the result; it is lent by no fd set.
Result<UniqueFd> open_beneath(int dirfd, std::string_view relative, int flags, mode_t mode, const BeneathNames& names);

// For the block layer: opens relative beneath dir (a QemuFd of a directory, e.g. from
// qemu_open("/dev/fdset/N/DIR") or of a path with O_RDONLY | O_DIRECTORY) as open_beneath
// does; dir_name is dir's name for error texts. A file opened beneath a directory lent by
// an fd set is lent by that set too, so it keeps the set alive until it is closed.
Result<QemuFd> qemu_open_beneath(
    const QemuFd& dir, std::string_view dir_name, std::string_view relative, int flags, mode_t mode = 0);
// The same, opening dir_name first (through qemu_open, O_RDONLY | O_DIRECTORY).
Result<QemuFd> qemu_open_beneath(
    const OpenContext& context, std::string_view dir_name, std::string_view relative, int flags, mode_t mode = 0);

// path_combine for drivers that name files relative to their image's: name unchanged if
// absolute, else base's directory part (up to its last '/', or after a "proto:" prefix)
// followed by name. /dev/fdset/N/NAME keeps its prefix ("/dev/fdset/2/disk.vmdk" and
// "disk-s001.vmdk" give "/dev/fdset/2/disk-s001.vmdk"), and a bare /dev/fdset/N is taken as
// the set itself ("/dev/fdset/2" and "x" give "/dev/fdset/2/x").
std::string qemu_path_combine(std::string_view base, std::string_view name);

// qemu_unlink(): a /dev/fdset/ name (also /dev/fdset/N/NAME) is not a file, so it is left alone.
int qemu_unlink(std::string_view name);

// Parses the N of /dev/fdset/N as QEMU does (decimal, 0..INT_MAX, whole string); -1 if bad.
int64_t qemu_parse_fdset_id(std::string_view text);

// Signal dispositions every program sets before it touches an image: SIGXFSZ is ignored,
// so writing past `ulimit -f` fails that write with EFBIG ("File too large") and the
// caller reports it, as QEMU does, instead of the process dying without a word.
void qemu_init_early_signals();

}  // namespace qemu
