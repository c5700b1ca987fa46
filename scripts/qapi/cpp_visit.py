"""Emits <prefix>qapi-visit.{h,cc}: strict JSON input and JSON output for every type."""

from common import c_name, cpp_string, wrap_if
from schema import AlternateType, BuiltinType, EnumType, ObjectType

CODEC = 'qemu::qapi_codec::'


def codec(t):
    return '%sCodec<%s>' % (CODEC, t.c_type())


def coded_types(schema):
    enums, objects = schema.types_in_order()
    return enums + objects


def gen_header(schema, ns, prefix):
    out = ['''// JSON input (QEMU's strict input-visitor rules) and output for the schema's types.
// Generated from the QAPI schema. Do not edit.
//
// Use %(ns)s::from_json<T>(json, path) and %(ns)s::to_json(value); `path` names the value
// in error messages and is "" for the root.
#pragma once

#include <string>

#include "qapi/codec.h"
#include "%(prefix)sqapi-types.h"

namespace %(ns)s {

using qemu::qapi_codec::from_json;
using qemu::qapi_codec::to_json;
''' % {'ns': ns, 'prefix': prefix}]
    types = coded_types(schema)
    for t in types:
        n = c_name(t.name)
        out.append(wrap_if(t.ifcond, '''qemu::Result<%(n)s> %(n)s_from_json(const qemu::JsonValue& value, const std::string& path);
qemu::JsonValue %(n)s_to_json(const %(n)s& value);
''' % {'n': n}))
    out.append('\n}  // namespace %s\n\nnamespace qemu::qapi_codec {\n' % ns)
    for t in types:
        n = c_name(t.name)
        out.append(wrap_if(t.ifcond, '''
template <>
struct Codec<%(ns)s::%(n)s> {
    static Result<%(ns)s::%(n)s> decode(const JsonValue& value, const std::string& path)
    {
        return %(ns)s::%(n)s_from_json(value, path);
    }
    static JsonValue encode(const %(ns)s::%(n)s& value) { return %(ns)s::%(n)s_to_json(value); }
};
''' % {'ns': ns, 'n': n}))
    out.append('\n}  // namespace qemu::qapi_codec\n')
    return ''.join(out)


def gen_read_member(m, target):
    """Reads member m of the JSON object `obj` into `target.<member>`."""
    name = cpp_string(m.name)
    field = '%s.%s' % (target, m.c_name())
    if m.optional:
        text = '''    if (auto it = obj.find(%(name)s); it != obj.end()) {
        auto member = %(codec)s::decode(*it, %(cc)smember_path(path, %(name)s));
        if (!member) {
            return std::unexpected(std::move(member).error());
        }
        %(field)s = std::move(*member);
    }
'''
    else:
        text = '''    {
        auto it = obj.find(%(name)s);
        if (it == obj.end()) {
            return %(cc)smissing(path, %(name)s);
        }
        auto member = %(codec)s::decode(*it, %(cc)smember_path(path, %(name)s));
        if (!member) {
            return std::unexpected(std::move(member).error());
        }
        %(field)s = std::move(*member);
    }
'''
    return wrap_if(m.ifcond, text % {'name': name, 'codec': codec(m.type),
                                     'field': field, 'cc': CODEC})


def gen_write_member(m):
    name = cpp_string(m.name)
    if m.optional:
        text = '    if (value.%(f)s) {\n        obj[%(name)s] = %(codec)s::encode(*value.%(f)s);\n    }\n'
    else:
        text = '    obj[%(name)s] = %(codec)s::encode(value.%(f)s);\n'
    return wrap_if(m.ifcond, text % {'name': name, 'f': m.c_name(),
                                     'codec': codec(m.type)})


def known_names(members):
    return ''.join(wrap_if(m.ifcond, '        %s,\n' % cpp_string(m.name))
                   for m in members)


def gen_object(t):
    n = c_name(t.name)
    tag_enum = c_name(t.tag_member.type.name) if t.is_union() else None
    own = t.inline_base + t.local_members
    # Members readers/writers, usable for bases and union branches too.
    read = ''
    write = ''
    if t.base is not None:
        b = c_name(t.base.name)
        read += '''    if (auto base = %s_read_members(obj, path, out); !base) {
        return base;
    }
''' % b
        write += '    %s_write_members(obj, value);\n' % b
    read += ''.join(gen_read_member(m, 'out') for m in own)
    write += ''.join(gen_write_member(m) for m in own)
    if t.is_union():
        tag = t.tag_member.c_name()
        read += '    switch (out.%s) {\n' % tag
        write += '    switch (value.%s) {\n' % tag
        for v in t.variants:
            vn = c_name(v.name)
            vt = c_name(v.type.name)
            read += wrap_if(v.ifcond, '''    case %(e)s::%(vn)s:
        if (auto branch = %(vt)s_read_members(obj, path, out.u.%(vn)s.emplace()); !branch) {
            return branch;
        }
        break;
''' % {'e': tag_enum, 'vn': vn, 'vt': vt})
            write += wrap_if(v.ifcond, '''    case %(e)s::%(vn)s:
        if (value.u.%(vn)s) {
            %(vt)s_write_members(obj, *value.u.%(vn)s);
        }
        break;
''' % {'e': tag_enum, 'vn': vn, 'vt': vt})
        read += '    default:\n        break;\n    }\n'
        write += '    default:\n        break;\n    }\n'
    # The set of members a client may send depends on the union branch.
    base_names = known_names(t.all_members())
    if t.is_union():
        check = '    switch (out.%s) {\n' % t.tag_member.c_name()
        for v in t.variants:
            check += wrap_if(v.ifcond, '''    case %s::%s:
        return qemu::qapi_codec::check_unexpected(value, path, {
%s        });
''' % (tag_enum, c_name(v.name), base_names + known_names(v.type.all_members())))
        check += '''    default:
        return qemu::qapi_codec::check_unexpected(value, path, {
%s        });
    }
''' % base_names
    else:
        check = '''    return qemu::qapi_codec::check_unexpected(value, path, {
%s    });
''' % base_names
    text = '''
[[maybe_unused]] static qemu::Result<void> %(n)s_read_members([[maybe_unused]] const qemu::JsonValue& obj,
    [[maybe_unused]] const std::string& path, [[maybe_unused]] %(n)s& out)
{
%(read)s    return {};
}

[[maybe_unused]] static void %(n)s_write_members([[maybe_unused]] qemu::JsonValue& obj,
    [[maybe_unused]] const %(n)s& value)
{
%(write)s}

static qemu::Result<void> %(n)s_check_members(const qemu::JsonValue& value, const std::string& path,
    [[maybe_unused]] const %(n)s& out)
{
%(check)s}

qemu::Result<%(n)s> %(n)s_from_json(const qemu::JsonValue& value, const std::string& path)
{
    if (!value.is_object()) {
        return qemu::qapi_codec::invalid_type(path, "object");
    }
    %(n)s out;
    if (auto members = %(n)s_read_members(value, path, out); !members) {
        return std::unexpected(std::move(members).error());
    }
    if (auto extra = %(n)s_check_members(value, path, out); !extra) {
        return std::unexpected(std::move(extra).error());
    }
    return out;
}

qemu::JsonValue %(n)s_to_json(const %(n)s& value)
{
    qemu::JsonValue obj = qemu::JsonValue::object();
    %(n)s_write_members(obj, value);
    return obj;
}
''' % {'n': n, 'read': read, 'write': write, 'check': check}
    return wrap_if(t.ifcond, text)


def gen_enum(e):
    text = '''
qemu::Result<%(n)s> %(n)s_from_json(const qemu::JsonValue& value, const std::string& path)
{
    if (!value.is_string()) {
        return qemu::qapi_codec::invalid_type(path, "string");
    }
    const auto& text = value.get_ref<const std::string&>();
    auto parsed = %(n)s_parse(text);
    if (!parsed) {
        return qemu::qapi_codec::bad_enum_value(path, text);
    }
    return *parsed;
}

qemu::JsonValue %(n)s_to_json(const %(n)s& value)
{
    return qemu::JsonValue(std::string(%(n)s_str(value)));
}
''' % {'n': c_name(e.name)}
    return wrap_if(e.ifcond, text)


def _wire_check(t):
    if isinstance(t, ObjectType):
        return 'value.is_object()'
    if isinstance(t, EnumType):
        return 'value.is_string()'
    assert isinstance(t, BuiltinType)
    return {'string': 'value.is_string()', 'number': 'value.is_number()',
            'int': 'value.is_number()', 'boolean': 'value.is_boolean()',
            'null': 'value.is_null()'}[t.json_type()]


def gen_alternate(t):
    n = c_name(t.name)
    pick = ''
    for v in t.variants:
        pick += wrap_if(v.ifcond, '''    if (%(check)s) {
        auto branch = %(codec)s::decode(value, path);
        if (!branch) {
            return std::unexpected(std::move(branch).error());
        }
        %(n)s out;
        out.value.emplace<%(ct)s>(std::move(*branch));
        return out;
    }
''' % {'check': _wire_check(v.type), 'codec': codec(v.type), 'n': n,
       'ct': v.type.c_type()})
    text = '''
qemu::Result<%(n)s> %(n)s_from_json(const qemu::JsonValue& value, const std::string& path)
{
%(pick)s    return qemu::qapi_codec::invalid_type(path, %(name)s);
}

qemu::JsonValue %(n)s_to_json(const %(n)s& value)
{
    return std::visit(
        [](const auto& branch) {
            return qemu::qapi_codec::Codec<std::decay_t<decltype(branch)>>::encode(branch);
        },
        value.value);
}
''' % {'n': n, 'pick': pick, 'name': cpp_string(t.name)}
    return wrap_if(t.ifcond, text)


def gen_source(schema, ns, prefix):
    out = ['''// Generated from the QAPI schema. Do not edit.
#include "%sqapi-visit.h"

#include <type_traits>
#include <utility>
#include <variant>

namespace %s {
''' % (prefix, ns)]
    for t in coded_types(schema):
        if isinstance(t, EnumType):
            out.append(gen_enum(t))
        elif isinstance(t, ObjectType):
            out.append(gen_object(t))
        elif isinstance(t, AlternateType):
            out.append(gen_alternate(t))
    out.append('\n}  // namespace %s\n' % ns)
    return ''.join(out)
