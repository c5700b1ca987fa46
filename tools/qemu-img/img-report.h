// How qemu-img talks to the user: error and warning lines with the program prefix, the
// usage-error form that points at --help, -q aware stdout printing, and the progress line
// that convert and compare draw with -p.
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace qemu::img {

inline constexpr std::string_view kProgramName = "qemu-img";

// error_report: "qemu-img: MSG" on stderr (continuation lines of MSG are not prefixed).
void error_report(std::string_view message);
// warn_report: "qemu-img: warning: MSG" on stderr.
void warn_report(std::string_view message);
// error_exit: error_report plus the --help hint; returns the exit status 1.
int usage_error(std::string_view message);

// Reports a command-line parse failure the way getopt's callers in qemu-img do, for
// getopt's '?' and ':' returns.
int unrecognized_option(const char* arg);
int missing_argument(const char* arg);

// --object: this build has no user-creatable object type. "help" prints the (empty) list
// and gives the exit status 0, as QEMU's tools exit there; anything else is refused (1).
int object_option(std::string_view arg);

// qprintf: stdout unless -q was given.
void qprintf(bool quiet, std::string_view text);

// qemu-progress: "    (P.PP/100%)\r" lines, redrawn only after a move of more than
// min_skip percent (and always at 0% and 100%), and a newline at the end.
class Progress {
public:
    Progress(bool enabled, float min_skip);
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // delta is the new value itself when max is 0, else delta percent of max is added.
    void print(float delta, int max);
    void end();

private:
    void draw();

    bool m_enabled = false;
    float m_min_skip = 0;
    float m_current = 0;
    float m_last_print = 0;
};

}  // namespace qemu::img
