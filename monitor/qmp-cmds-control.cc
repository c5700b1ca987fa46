// QMP commands about the protocol itself: negotiation, version, command list, schema.
#include <string>

#include "monitor/qmp-context.h"
#include "monitor/qmp.h"
#include "monitor/version.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-introspect.h"

namespace qapi {

qemu::Result<void> qmp_qmp_capabilities(QmpContext& ctx, const std::optional<std::vector<QMPCapability>>& enable)
{
    // In command mode this is a normal command that refuses to run, as in QEMU: so the
    // exec-oob and argument checks come first.
    if (!ctx.monitor || ctx.monitor->mode() == qemu::monitor::QmpMode::Command) {
        return qemu::make_error(qemu::ErrorClass::CommandNotFound,
                                "Capabilities negotiation is already complete, command ignored");
    }
    bool oob = false;
    if (enable) {
        for (QMPCapability cap : *enable) {
            if (cap == QMPCapability::oob) {
                oob = true;
            }
        }
    }
    return ctx.monitor->negotiate(oob);
}

qemu::Result<VersionInfo> qmp_query_version(QmpContext&)
{
    qemu::EmulatorVersion version = qemu::emulator_version();
    return VersionInfo{
        .qemu = VersionTriple{.major = version.major, .minor = version.minor, .micro = version.micro},
        .package = version.package,
    };
}

// Runs only in command mode, whose table (as QEMU's) also holds qmp_capabilities.
qemu::Result<std::vector<CommandInfo>> qmp_query_commands(QmpContext&)
{
    std::vector<CommandInfo> commands;
    for (const auto& info : qmp_command_table()) {
        commands.push_back(CommandInfo{.name = std::string(info.name)});
    }
    return commands;
}

// query-qmp-schema is 'gen': false: the introspection data is already JSON.
qemu::Result<qemu::JsonValue> qmp_marshal_query_qmp_schema(QmpContext&, const qemu::JsonValue& args)
{
    if (!args.empty()) {
        return qemu::make_error("Parameter '" + args.begin().key() + "' is unexpected");
    }
    return qmp_schema_introspection();
}

}  // namespace qapi
