// -add-fd fd=N,set=M[,opaque=S] on a command line: the emulator's option, and our --add-fd
// of qemu-img and qemu-io. A parent process leaves descriptor N open across exec; the
// program moves it into fd set M before it opens any image, so /dev/fdset/M (and
// /dev/fdset/M/NAME for a member whose opaque is NAME) reach the file without a path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/fdset.h"

namespace qemu {

struct AddFdSpec {
    std::string option;  // how messages name it: "-add-fd ARG" or "--add-fd ARG"
    std::optional<int64_t> fd;
    std::optional<int64_t> set;
    std::optional<std::string> opaque;
};

// Parses ARG (QemuOpts syntax; keys fd, set and opaque). A failure carries QEMU's bare
// text ("Invalid parameter 'x'", "Parameter 'fd' expects a number"); the caller adds its
// location.
Result<AddFdSpec> parse_add_fd_spec(std::string option, std::string_view arg);

// qemu-img's options of ours that may stand anywhere (--add-fd, --sandbox): takes every
// "OPTION ARG" and "OPTION=ARG" out of argv[1..argc) (up to a "--"), so the subcommands'
// own option parsing never sees them, and returns the ARGs in order. argc shrinks
// accordingly; argv[argc] stays a null pointer.
Result<std::vector<std::string>> take_option_values(int& argc, char** argv, std::string_view option);

// take_option_values for --add-fd, each parsed.
Result<std::vector<AddFdSpec>> take_add_fd_args(int& argc, char** argv);

// QEMU's two passes: every spec is validated (fd given, not a standard stream, inherited
// rather than one of ours, set given) and duplicated close-on-exec into its set, then the
// inherited numbers are closed. Errors are "OPTION: text", QEMU's texts.
Result<void> add_inherited_fds(FdSetRegistry& registry, std::span<const AddFdSpec> specs);

}  // namespace qemu
