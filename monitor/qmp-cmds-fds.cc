// QMP commands for passed fds: fd sets (add-fd, remove-fd, query-fdsets) and the
// per-monitor named fds (getfd, closefd).
#include <cctype>
#include <string>

#include "monitor/monitor-host.h"
#include "monitor/qmp-context.h"
#include "monitor/qmp.h"
#include "qapi/qapi-commands.h"

namespace qapi {

namespace {

qemu::Result<qemu::UniqueFd> take_command_fd(QmpContext& ctx)
{
    std::optional<qemu::UniqueFd> fd;
    if (ctx.monitor) {
        fd = ctx.monitor->take_received_fd();
    }
    if (!fd) {
        return qemu::make_error("No file descriptor supplied via SCM_RIGHTS");
    }
    return std::move(*fd);
}

}  // namespace

qemu::Result<AddfdInfo> qmp_add_fd(QmpContext& ctx, const std::optional<int64_t>& fdset_id,
                                   const std::optional<std::string>& opaque)
{
    qemu::UniqueFd fd = TRY(take_command_fd(ctx));
    int fd_number = fd.get();
    // Ownership of fd moves into the registry (or, on a refused id, it is closed there).
    int64_t id = TRY(ctx.host.fdsets().add(fdset_id, std::move(fd), opaque));
    return AddfdInfo{.fdset_id = id, .fd = fd_number};
}

qemu::Result<void> qmp_remove_fd(QmpContext& ctx, int64_t fdset_id, const std::optional<int64_t>& fd)
{
    return ctx.host.fdsets().remove(fdset_id, fd);
}

qemu::Result<std::vector<FdsetInfo>> qmp_query_fdsets(QmpContext& ctx)
{
    std::vector<FdsetInfo> result;
    for (const auto& set : ctx.host.fdsets().query()) {
        FdsetInfo info{.fdset_id = set.id, .fds = {}};
        for (const auto& member : set.fds) {
            info.fds.push_back(FdsetFdInfo{.fd = member.fd, .opaque = member.opaque});
        }
        result.push_back(std::move(info));
    }
    return result;
}

qemu::Result<void> qmp_getfd(QmpContext& ctx, const std::string& fdname)
{
    qemu::UniqueFd fd = TRY(take_command_fd(ctx));
    if (!fdname.empty() && std::isdigit(static_cast<unsigned char>(fdname[0]))) {
        // fd is closed as it goes out of scope, as QEMU does.
        return qemu::make_error("Parameter 'fdname' expects a name not starting with a digit");
    }
    ctx.monitor->add_named_fd(fdname, std::move(fd));
    return {};
}

qemu::Result<void> qmp_closefd(QmpContext& ctx, const std::string& fdname)
{
    if (!ctx.monitor || !ctx.monitor->close_named_fd(fdname)) {
        return qemu::make_error("File descriptor named '" + fdname + "' not found");
    }
    return {};
}

}  // namespace qapi
