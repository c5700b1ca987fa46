// For the util tests that must change the whole process (seccomp, Landlock): run a body in
// a forked child and report how it ended.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace util_test {

// How a child that ran body() ended: its exit code, or 128 + the signal that killed it.
inline int run_in_child(const std::function<int()>& body)
{
    pid_t pid = fork();
    if (pid == 0) {
        _exit(body());
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace util_test
