// Helpers for the char layer tests: a recording frontend, bounded main-loop driving, fd
// counting through /proc/self/fd and temporary paths.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "char/chardev.h"

namespace qemu::chr::test {

// Records everything a backend hands its frontend; can_read is adjustable.
struct RecordingFrontend {
    std::string data;
    std::vector<ChardevEvent> events;
    size_t can_read = 4096;
    std::function<void()> on_read;

    ChardevFrontend callbacks();
    size_t count(ChardevEvent event) const;
};

// Runs the default main context until pred() holds or timeout passes; returns pred().
bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Runs the main loop for a while, for checks that something does NOT happen.
void run_for(std::chrono::milliseconds duration);

int count_open_fds();

// A fresh directory under /tmp, removed (with its files) by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    std::string path(const std::string& name) const { return m_dir + "/" + name; }

private:
    std::string m_dir;
};

}  // namespace qemu::chr::test
