// UniqueFd owns one file descriptor and closes it in its destructor. It is the only way a
// descriptor travels between functions; a raw int lives no longer than one call.
#pragma once

#include <unistd.h>

#include <utility>

namespace qemu {

class UniqueFd {
public:
    UniqueFd() = default;
    // Takes ownership of fd (which may be -1 for "none").
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    explicit operator bool() const { return valid(); }

    // Gives up ownership; the caller now closes the fd.
    [[nodiscard]] int release() { return std::exchange(m_fd, -1); }

    void reset(int fd = -1)
    {
        int old = std::exchange(m_fd, fd);
        if (old >= 0) {
            ::close(old);
        }
    }

private:
    int m_fd = -1;
};

}  // namespace qemu
