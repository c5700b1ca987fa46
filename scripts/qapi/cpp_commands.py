"""Emits <prefix>qapi-commands.{h,cc}: handler declarations, marshallers, command table."""

from common import c_name, cpp_string, wrap_if
from schema import BuiltinType, EnumType


def param_type(m):
    t = m.type.c_type()
    if m.optional:
        return 'const std::optional<%s>&' % t
    if isinstance(m.type, EnumType) or (isinstance(m.type, BuiltinType)
                                        and m.type.is_scalar()):
        return t
    return 'const %s&' % t


def params(first, ent):
    """The parameter list of a handler or event sender: `first`, then the
    arguments (one struct when boxed)."""
    text = first
    if ent.arg_type is None:
        return text
    if ent.boxed:
        return text + ', const %s& arg' % ent.arg_type.c_type()
    for m in ent.arg_type.all_members():
        piece = '\n    , %s %s' % (param_type(m), m.c_name())
        if m.ifcond:
            piece = '\n' + wrap_if(m.ifcond, piece.lstrip('\n')).rstrip('\n')
        text += piece
    if text.endswith('#endif'):
        text += '\n'  # the closing parenthesis must not share the #endif line
    return text


def ret_type(cmd):
    return 'void' if cmd.ret_type is None else cmd.ret_type.c_type()


def gen_header(schema, ns, prefix):
    out = ['''// QMP command handlers, marshallers and the command table.
// Generated from the QAPI schema. Do not edit.
//
// For each command the rest of the program defines the handler
//     qemu::Result<Ret> qmp_<name>(QmpContext& ctx, <arguments>);
// Required arguments come as `const T&` (scalars and enums by value), optional ones as
// `const std::optional<T>&`; a 'boxed' command takes one `const ArgType&`. Commands
// without 'returns' return qemu::Result<void>.
// qmp_marshal_<name>(ctx, args) decodes the argument object strictly, calls the handler
// and encodes its result ({} without 'returns'). For 'gen': false commands the marshaller
// is written by hand. qmp_command_table() lists every command in schema order.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "%(prefix)sqapi-types.h"
#include "qobject/json.h"
#include "util/error.h"

namespace %(ns)s {

struct QmpContext;

struct QmpCommandInfo {
    std::string_view name;
    qemu::Result<qemu::JsonValue> (*marshal)(QmpContext&, const qemu::JsonValue&);
    bool allow_oob;
    bool allow_preconfig;
    bool success_response;
    bool coroutine;
    bool deprecated;
    bool unstable;
};

std::span<const QmpCommandInfo> qmp_command_table();
''' % {'ns': ns, 'prefix': prefix}]
    for cmd in schema.commands():
        n = c_name(cmd.name)
        text = '\n'
        if cmd.gen:
            text += 'qemu::Result<%s> qmp_%s(%s);\n' % (
                ret_type(cmd), n, params('QmpContext& ctx', cmd))
        text += ('qemu::Result<qemu::JsonValue> qmp_marshal_%s(QmpContext& ctx, '
                 'const qemu::JsonValue& args);\n' % n)
        out.append(wrap_if(cmd.ifcond, text))
    out.append('\n}  // namespace %s\n' % ns)
    return ''.join(out)


def gen_marshal(cmd):
    n = c_name(cmd.name)
    body = ''
    if cmd.arg_type is None:
        body += '''    if (!args.is_object()) {
        return qemu::qapi_codec::invalid_type("", "object");
    }
    if (auto extra = qemu::qapi_codec::check_unexpected(args, "", {}); !extra) {
        return std::unexpected(std::move(extra).error());
    }
'''
        call = 'qmp_%s(ctx)' % n
    else:
        body += '''    auto arg = qemu::qapi_codec::Codec<%s>::decode(args, "");
    if (!arg) {
        return std::unexpected(std::move(arg).error());
    }
''' % cmd.arg_type.c_type()
        if cmd.boxed:
            call = 'qmp_%s(ctx, *arg)' % n
        else:
            call = 'qmp_%s(ctx' % n
            for m in cmd.arg_type.all_members():
                piece = '\n        , arg->%s' % m.c_name()
                if m.ifcond:
                    piece = '\n' + wrap_if(m.ifcond, piece.lstrip('\n')).rstrip('\n')
                call += piece
            if call.endswith('#endif'):
                call += '\n'
            call += ')'
    body += '    auto ret = %s;\n' % call
    body += '''    if (!ret) {
        return std::unexpected(std::move(ret).error());
    }
'''
    if cmd.ret_type is None:
        body += '    return qemu::JsonValue::object();\n'
    else:
        body += '    return qemu::qapi_codec::Codec<%s>::encode(*ret);\n' % \
            cmd.ret_type.c_type()
    text = '''
qemu::Result<qemu::JsonValue> qmp_marshal_%s(QmpContext& ctx, const qemu::JsonValue& args)
{
%s}
''' % (n, body)
    return wrap_if(cmd.ifcond, text)


def b(v):
    return 'true' if v else 'false'


def gen_source(schema, ns, prefix):
    out = ['''// Generated from the QAPI schema. Do not edit.
#include "%sqapi-commands.h"

#include <utility>

#include "%sqapi-visit.h"

namespace %s {
''' % (prefix, prefix, ns)]
    for cmd in schema.commands():
        if cmd.gen:
            out.append(gen_marshal(cmd))
    rows = ''
    for cmd in schema.commands():
        rows += wrap_if(cmd.ifcond, '        {%s, qmp_marshal_%s, %s, %s, %s, %s, %s, %s},\n' % (
            cpp_string(cmd.name), c_name(cmd.name), b(cmd.allow_oob),
            b(cmd.allow_preconfig), b(cmd.success_response), b(cmd.coroutine),
            b(cmd.has_feature('deprecated')), b(cmd.has_feature('unstable'))))
    out.append('''
std::span<const QmpCommandInfo> qmp_command_table()
{
    // name, marshal, allow_oob, allow_preconfig, success_response, coroutine,
    // deprecated, unstable
    static const std::vector<QmpCommandInfo> table = {
%s    };
    return table;
}

}  // namespace %s
''' % (rows, ns))
    return ''.join(out)
