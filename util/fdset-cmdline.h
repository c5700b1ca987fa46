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

// qemu-img: takes every "--add-fd ARG" and "--add-fd=ARG" out of argv[1..argc) (up to a
// "--"), wherever it stands, so each subcommand's own option parsing never sees them, and
// returns them parsed. argc shrinks accordingly; argv[argc] stays a null pointer.
Result<std::vector<AddFdSpec>> take_add_fd_args(int& argc, char** argv);

// QEMU's two passes: every spec is validated (fd given, not a standard stream, inherited
// rather than one of ours, set given) and duplicated close-on-exec into its set, then the
// inherited numbers are closed. Errors are "OPTION: text", QEMU's texts.
Result<void> add_inherited_fds(FdSetRegistry& registry, std::span<const AddFdSpec> specs);

}  // namespace qemu
