"""Emits <prefix>qapi-events.{h,cc}: the event enum, the sink interface and one sender
per event."""

from common import c_name, cpp_string, wrap_if
from cpp_commands import params


def sender_name(ev):
    return 'qapi_event_send_%s' % c_name(ev.name.lower())


def gen_header(schema, ns, prefix):
    events = schema.events()
    enum_body = ''.join(wrap_if(e.ifcond, '    %s,\n' % c_name(e.name)) for e in events)
    names = ''.join(wrap_if(e.ifcond, '    %s,\n' % cpp_string(e.name)) for e in events)
    out = ['''// QMP events: an enum of all events, the sink the monitor implements, and one sender
// per event that builds {"event", "data" (only for events with members), "timestamp"}.
// Generated from the QAPI schema. Do not edit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "%(prefix)sqapi-types.h"
#include "qobject/json.h"

namespace %(ns)s {

enum class QAPIEvent {
%(enum_body)s};

inline constexpr std::string_view QAPIEvent_values[] = {
%(names)s};

inline std::string_view QAPIEvent_str(QAPIEvent event)
{
    return QAPIEvent_values[static_cast<size_t>(event)];
}

// Where events go; the monitor implements it (and applies rate limits there).
class QapiEventSink {
public:
    virtual ~QapiEventSink() = default;
    virtual void emit(QAPIEvent event, qemu::JsonValue message) = 0;
};
''' % {'ns': ns, 'prefix': prefix, 'enum_body': enum_body, 'names': names}]
    for ev in events:
        out.append(wrap_if(ev.ifcond, '\nvoid %s(%s);\n' % (
            sender_name(ev), params('QapiEventSink& sink', ev))))
    out.append('\n}  // namespace %s\n' % ns)
    return ''.join(out)


def gen_sender(ev):
    body = '''    qemu::JsonValue message = qemu::JsonValue::object();
    message["event"] = %s;
''' % cpp_string(ev.name)
    t = ev.arg_type
    if t is not None and not t.is_empty():
        if ev.boxed:
            body += '    message["data"] = qemu::qapi_codec::Codec<%s>::encode(arg);\n' \
                % t.c_type()
        else:
            body += '    %s arg;\n' % t.c_type()
            for m in t.all_members():
                body += wrap_if(m.ifcond, '    arg.%s = %s;\n' % (m.c_name(), m.c_name()))
            body += '    message["data"] = qemu::qapi_codec::Codec<%s>::encode(arg);\n' \
                % t.c_type()
    body += '''    message["timestamp"] = event_timestamp();
    sink.emit(QAPIEvent::%s, std::move(message));
''' % c_name(ev.name)
    text = '\nvoid %s(%s)\n{\n%s}\n' % (sender_name(ev), params('QapiEventSink& sink', ev),
                                        body)
    return wrap_if(ev.ifcond, text)


def gen_source(schema, ns, prefix):
    out = ['''// Generated from the QAPI schema. Do not edit.
#include "%(prefix)sqapi-events.h"

#include <ctime>
#include <utility>

#include "%(prefix)sqapi-visit.h"

namespace %(ns)s {

// Host wall-clock time; -1/-1 when it cannot be read, as QEMU reports it.
[[maybe_unused]] static qemu::JsonValue event_timestamp()
{
    struct timespec now {};
    qemu::JsonValue stamp = qemu::JsonValue::object();
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        stamp["seconds"] = -1;
        stamp["microseconds"] = -1;
        return stamp;
    }
    stamp["seconds"] = static_cast<int64_t>(now.tv_sec);
    stamp["microseconds"] = static_cast<int64_t>(now.tv_nsec / 1000);
    return stamp;
}
''' % {'ns': ns, 'prefix': prefix}]
    for ev in schema.events():
        out.append(gen_sender(ev))
    out.append('\n}  // namespace %s\n' % ns)
    return ''.join(out)
