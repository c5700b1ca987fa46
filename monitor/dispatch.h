// qmp_dispatch: checks a parsed request the way QEMU's qmp_dispatch_check_obj does, looks
// the command up in the generated table and runs it, and builds the reply object.
#pragma once

#include <optional>

#include "monitor/qmp-context.h"
#include "qobject/json.h"

namespace qemu::monitor {

enum class QmpMode {
    Negotiation,  // only qmp_capabilities is known
    Command,
};

struct DispatchOptions {
    QmpMode mode = QmpMode::Command;
    bool oob_enabled = false;
};

// The reply for one request, or nothing for commands without a success response.
std::optional<JsonValue> qmp_dispatch(qapi::QmpContext& ctx, const JsonValue& request, DispatchOptions options);

// {"error": {"class": ..., "desc": ...}} (plus "id" when given).
JsonValue qmp_error_response(const Error& error, const JsonValue* id = nullptr);

// Whether a request asks for out-of-band execution (exec-oob and no execute).
bool qmp_is_oob(const JsonValue& request);

}  // namespace qemu::monitor
