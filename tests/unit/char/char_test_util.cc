// Test helpers for the char layer.
#include "char_test_util.h"

#include <dirent.h>
#include <glib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace qemu::chr::test {

ChardevFrontend RecordingFrontend::callbacks()
{
    return ChardevFrontend{
        [this] { return can_read; },
        [this](std::span<const uint8_t> bytes) {
            data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
            if (on_read) {
                on_read();
            }
        },
        [this](ChardevEvent event) { events.push_back(event); },
    };
}

size_t RecordingFrontend::count(ChardevEvent event) const
{
    return static_cast<size_t>(std::count(events.begin(), events.end(), event));
}

bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        if (!g_main_context_iteration(nullptr, FALSE)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    return true;
}

void run_for(std::chrono::milliseconds duration)
{
    auto deadline = std::chrono::steady_clock::now() + duration;
    run_until([&] { return std::chrono::steady_clock::now() > deadline; }, duration * 2);
}

int count_open_fds()
{
    int n = 0;
    DIR* dir = opendir("/proc/self/fd");
    while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n - 1;  // the DIR's own fd
}

TempDir::TempDir()
{
    char templ[] = "/tmp/char-test-XXXXXX";
    m_dir = mkdtemp(templ);
}

TempDir::~TempDir()
{
    std::string cmd = "rm -rf '" + m_dir + "'";
    (void)std::system(cmd.c_str());
}

}  // namespace qemu::chr::test
