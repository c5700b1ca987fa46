// Request validation and command dispatch for QMP, with QEMU's error texts and classes.
#include "monitor/dispatch.h"

#include <algorithm>
#include <string>
#include <vector>

#include "monitor/monitor-host.h"
#include "qapi/qapi-commands.h"
#include "util/alloc.h"

namespace qemu::monitor {

namespace {

const qapi::QmpCommandInfo* find_command(std::string_view name)
{
    for (const auto& info : qapi::qmp_command_table()) {
        if (info.name == name) {
            return &info;
        }
    }
    return nullptr;
}

// Commands that leave requests in flight alone (HMP qemu-io's aio ones): they read state,
// pass fds or let the VM run. Every other command drains first, as the QEMU commands that
// stop the VM or change the graph do, so that none acts under a request still running.
bool runs_beside_requests(std::string_view name)
{
    static constexpr std::string_view kBeside[] = {
        "qmp_capabilities", "human-monitor-command", "cont", "add-fd", "getfd", "closefd", "qom-list", "qom-get"};
    return name.starts_with("query-") || std::ranges::find(kBeside, name) != std::end(kBeside);
}

// Validates the request object; returns the command name and whether it is exec-oob.
Result<std::pair<std::string, bool>> check_request(const JsonValue& request, bool oob_enabled)
{
    if (!request.is_object()) {
        return make_error("QMP input must be a JSON object");
    }
    // QEMU checks the members in its QDict's hash order, which puts exec-oob before
    // execute; visiting exec-oob first gives the same clash text for either wire order.
    std::vector<std::pair<const std::string*, const JsonValue*>> members;
    for (auto it = request.begin(); it != request.end(); ++it) {
        members.emplace_back(&it.key(), &*it);
    }
    std::stable_partition(members.begin(), members.end(), [](const auto& m) { return *m.first == "exec-oob"; });
    const JsonValue* exec = nullptr;
    bool oob = false;
    bool seen_execute = false;
    for (const auto& [key_ptr, value_ptr] : members) {
        const std::string& key = *key_ptr;
        const JsonValue& value = *value_ptr;
        if (key == "execute" || (key == "exec-oob" && oob_enabled)) {
            if (!value.is_string()) {
                return make_error("QMP input member '" + key + "' must be a string");
            }
            if (exec) {
                return make_error(std::string("QMP input member '") + key + "' clashes with '" +
                                  (seen_execute ? "execute" : "exec-oob") + "'");
            }
            exec = &value;
            oob = key == "exec-oob";
            seen_execute = key == "execute";
        } else if (key == "arguments") {
            if (!value.is_object()) {
                return make_error("QMP input member 'arguments' must be an object");
            }
        } else if (key != "id") {
            return make_error("QMP input member '" + key + "' is unexpected");
        }
    }
    if (!exec) {
        return make_error("QMP input lacks member 'execute'");
    }
    return std::pair{exec->get<std::string>(), oob};
}

}  // namespace

bool qmp_is_oob(const JsonValue& request)
{
    return request.is_object() && request.contains("exec-oob") && !request.contains("execute");
}

JsonValue qmp_error_response(const Error& error, const JsonValue* id)
{
    JsonValue reply = JsonValue::object();
    if (id) {
        reply["id"] = *id;
    }
    reply["error"] =
        JsonValue{{"class", std::string(error_class_name(error.cls))}, {"desc", std::string(error.message())}};
    return reply;
}

std::optional<JsonValue> qmp_dispatch(qapi::QmpContext& ctx, const JsonValue& request, DispatchOptions options)
{
    const JsonValue* id = nullptr;
    if (request.is_object()) {
        auto it = request.find("id");
        if (it != request.end()) {
            id = &*it;
        }
    }
    auto run = [&]() -> Result<std::optional<JsonValue>> {
        auto [name, oob] = TRY(check_request(request, options.oob_enabled));
        const qapi::QmpCommandInfo* info = find_command(name);
        if (options.mode == QmpMode::Negotiation) {
            if (name != "qmp_capabilities") {
                return make_error(ErrorClass::CommandNotFound,
                                  "Expecting capabilities negotiation with 'qmp_capabilities'");
            }
        }
        if (!info) {
            return make_error(ErrorClass::CommandNotFound, "The command " + name + " has not been found");
        }
        if (ctx.host.command_disabled(name)) {
            return make_error(ErrorClass::CommandNotFound, "Command " + name + " has been disabled");
        }
        if (oob && !info->allow_oob) {
            return make_error("The command " + name + " does not support OOB");
        }
        static const JsonValue empty = JsonValue::object();
        auto args_it = request.find("arguments");
        const JsonValue& args = args_it != request.end() ? *args_it : empty;
        // A command whose arguments ask for more memory than there is (a ringbuf of a
        // terabyte) fails alone; the monitor and the other clients carry on.
        if (!runs_beside_requests(name)) {
            ctx.host.drain_block_requests();
        }
        JsonValue ret = TRY(enomem_on_bad_alloc([&] { return info->marshal(ctx, args); }));
        if (!info->success_response) {
            return std::optional<JsonValue>{};
        }
        return std::optional<JsonValue>{std::move(ret)};
    };
    auto result = run();
    if (!result) {
        return qmp_error_response(result.error(), id);
    }
    if (!*result) {
        return std::nullopt;
    }
    // Member order as QEMU 7.2 happens to print it: "return" before "id", "id" before "error".
    JsonValue reply = JsonValue::object();
    reply["return"] = std::move(**result);
    if (id) {
        reply["id"] = *id;
    }
    return reply;
}

}  // namespace qemu::monitor
