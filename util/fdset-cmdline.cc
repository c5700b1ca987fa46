// -add-fd / --add-fd (see fdset-cmdline.h).
#include "util/fdset-cmdline.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <utility>
#include <vector>

#include "util/qemu-option.h"

namespace qemu {

Result<AddFdSpec> parse_add_fd_spec(std::string option, std::string_view arg)
{
    QemuOpts opts = TRY(QemuOpts::parse(arg));
    static constexpr std::array<std::string_view, 3> kAllowed = {"fd", "set", "opaque"};
    TRY_VOID(opts.check_allowed(kAllowed));
    AddFdSpec spec{.option = std::move(option), .fd = {}, .set = {}, .opaque = opts.get("opaque")};
    for (auto [key, field] : {std::pair{"fd", &spec.fd}, std::pair{"set", &spec.set}}) {
        std::optional<uint64_t> value = TRY(opts.get_number(key));
        if (value) {
            *field = static_cast<int64_t>(*value);
        }
    }
    return spec;
}

Result<std::vector<std::string>> take_option_values(int& argc, char** argv, std::string_view option)
{
    std::vector<std::string> values;
    int kept = 1;
    int i = 1;
    for (; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") {
            break;
        }
        if (arg == option) {
            if (i + 1 >= argc) {
                return make_error("missing argument for option '" + std::string(option) + "'");
            }
            values.emplace_back(argv[++i]);
        } else if (arg.starts_with(option) && arg.size() > option.size() && arg[option.size()] == '=') {
            values.emplace_back(arg.substr(option.size() + 1));
        } else {
            argv[kept++] = argv[i];
        }
    }
    for (; i < argc; ++i) {
        argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = nullptr;
    return values;
}

Result<std::vector<AddFdSpec>> take_add_fd_args(int& argc, char** argv)
{
    std::vector<AddFdSpec> specs;
    for (const std::string& value : TRY(take_option_values(argc, argv, "--add-fd"))) {
        std::string option = "--add-fd " + value;
        auto spec = parse_add_fd_spec(option, value);
        if (!spec) {
            return make_error(option + ": " + spec.error().desc);
        }
        specs.push_back(std::move(*spec));
    }
    return specs;
}

Result<void> add_inherited_fds(FdSetRegistry& registry, std::span<const AddFdSpec> specs)
{
    for (const AddFdSpec& spec : specs) {
        if (!spec.fd || *spec.fd < 0) {
            return make_error(spec.option + ": fd option is required and must be non-negative");
        }
        if (*spec.fd <= STDERR_FILENO) {
            return make_error(spec.option + ": fd cannot be a standard I/O stream");
        }
        // An fd with close-on-exec set cannot have been inherited: it is one of ours.
        int fd_flags = *spec.fd > INT_MAX ? -1 : fcntl(static_cast<int>(*spec.fd), F_GETFD);
        if (fd_flags < 0 || (fd_flags & FD_CLOEXEC)) {
            return make_error(spec.option + ": fd is not valid or already in use");
        }
        if (!spec.set || *spec.set < 0) {
            return make_error(spec.option + ": set option is required and must be non-negative");
        }
        UniqueFd copy(fcntl(static_cast<int>(*spec.fd), F_DUPFD_CLOEXEC, 0));
        if (!copy) {
            return make_errno_error(errno, spec.option + ": error duplicating fd");
        }
        TRY(registry.add(*spec.set, std::move(copy), spec.opaque));
    }
    for (const AddFdSpec& spec : specs) {
        // The inherited number was never owned by a UniqueFd: it came from our parent.
        ::close(static_cast<int>(*spec.fd));
    }
    return {};
}

}  // namespace qemu
