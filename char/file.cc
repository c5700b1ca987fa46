// The "file" backend: output to a file (truncated, or appended to with append=on) and,
// with input-path, input read from another file until its end.
#include <fcntl.h>

#include "char/backend.h"
#include "char/fd-chardev.h"

namespace qemu::chr {

namespace {

class FileChardev final : public FdChardev {
public:
    using FdChardev::FdChardev;
    std::string_view driver() const override { return "file"; }
    std::string filename() const override { return "file"; }
};

}  // namespace

Result<ChardevBackendOptions> parse_file_opts(const QemuOpts& opts)
{
    auto path = opts.get("path");
    if (!path) {
        return make_error("chardev: file: no filename given");
    }
    FileOptions file;
    file.out = *path;
    file.in = opts.get("input-path");
    file.append = TRY(opts.get_bool("append")).value_or(false);
    return file;
}

Result<ChardevPtr> open_file(const std::string& id, const FileOptions& opts, ChardevContext& ctx)
{
    int flags = O_WRONLY | O_CREAT | (opts.append ? O_APPEND : O_TRUNC);
    QemuFd out = TRY(chardev_open_file(ctx, opts.out, flags));
    QemuFd in;
    if (opts.in) {
        in = TRY(chardev_open_file(ctx, *opts.in, O_RDONLY));
    }
    return std::make_unique<FileChardev>(id, std::move(in), std::move(out));
}

}  // namespace qemu::chr
