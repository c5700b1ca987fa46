// What the libFuzzer targets over image formats share: a check that stops the run on a
// broken invariant, and the count of this process's descriptors, so a target can prove an
// open that failed or a node that went away took every fd it made with it.
#pragma once

#include <dirent.h>

namespace qemu::fuzz {

inline void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

inline int open_fd_count()
{
    int count = 0;
    DIR* dir = opendir("/proc/self/fd");
    check(dir != nullptr);
    while (dirent* entry = readdir(dir)) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

}  // namespace qemu::fuzz
