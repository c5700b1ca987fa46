"""Emits <prefix>qapi-types.h: enums, structs, unions and alternates as plain C++ types."""

from common import c_name, cpp_string, wrap_if
from schema import AlternateType, BuiltinType, EnumType, ObjectType

HEADER_DOC = '''\
// Types generated from the QAPI schema. Do not edit.
//
// Mapping:
// - enum E: `enum class E`, its wire names in `E_values` (indexed by the enumerator),
//   `E_str(E)` and `E_parse(std::string_view)`. The schema's 'prefix' only matters to
//   C and is not used.
// - struct S: a plain aggregate. A struct with a 'base' derives from the base struct, so
//   base members come first and `const Base&` accepts the derived type. Optional members
//   are std::optional<T>, arrays std::vector<T>.
// - union U: the base members (inherited from a named base, or declared directly for an
//   inline base), then `u`, which holds one std::optional per branch: the branch for
//   the discriminator's value is the one read and written (`u.socket` for
//   ChardevBackend{type = ChardevBackendKind::socket}). Enum values without a branch
//   carry no extra members.
// - alternate A: `value` is a std::variant of the branch types, chosen on input by the
//   JSON type of the value.
// - Names: '-' and '.' become '_'; C/C++ keywords and names starting with a digit get
//   the prefix 'q_' (`default` -> `q_default`, `wchar-t` -> `q_wchar_t`).
'''


def member_type(m):
    t = m.type.c_type()
    if m.boxed:
        return 'qemu::Boxed<%s>' % t
    return 'std::optional<%s>' % t if m.optional else t


def default_init(t):
    """Scalars are value-initialised so that a default-constructed struct is defined."""
    if isinstance(t, BuiltinType) and t.is_scalar():
        return '{}'
    if isinstance(t, EnumType):
        return '{}'
    return ''


def gen_member_decl(m):
    init = '' if m.optional else default_init(m.type)
    return wrap_if(m.ifcond, '    %s %s%s;\n' % (member_type(m), m.c_name(), init))


def gen_enum(e):
    name = c_name(e.name)
    body = ''.join(wrap_if(m.ifcond, '    %s,\n' % c_name(m.name)) for m in e.members)
    values = ''.join(wrap_if(m.ifcond, '    %s,\n' % cpp_string(m.name))
                     for m in e.members)
    text = '''
enum class %(n)s {
%(body)s};

inline constexpr std::string_view %(n)s_values[] = {
%(values)s};

inline std::string_view %(n)s_str(%(n)s value)
{
    return %(n)s_values[static_cast<size_t>(value)];
}

inline std::optional<%(n)s> %(n)s_parse(std::string_view text)
{
    for (size_t i = 0; i < std::size(%(n)s_values); i++) {
        if (%(n)s_values[i] == text) {
            return static_cast<%(n)s>(i);
        }
    }
    return std::nullopt;
}
''' % {'n': name, 'body': body, 'values': values}
    return wrap_if(e.ifcond, text)


def gen_object(t):
    name = c_name(t.name)
    if t.base is not None:
        head = 'struct %s : %s {\n' % (name, c_name(t.base.name))
    else:
        head = 'struct %s {\n' % name
    body = ''.join(gen_member_decl(m) for m in t.inline_base + t.local_members)
    if t.is_union():
        branches = ''.join(
            wrap_if(v.ifcond, '        std::optional<%s> %s;\n'
                    % (v.type.c_type(), c_name(v.name)))
            for v in t.variants)
        body += ('    struct Branches {\n%s'
                 '        friend bool operator==(const Branches&, const Branches&) = default;\n'
                 '    };\n'
                 '    // The branch for the current value of \'%s\'.\n'
                 '    Branches u;\n' % (branches, t.tag_member.name))
    text = '\n' + head + body + \
        '    friend bool operator==(const %s&, const %s&) = default;\n};\n' % (name, name)
    return wrap_if(t.ifcond, text)


def gen_alternate(t):
    name = c_name(t.name)
    args = ''
    for i, v in enumerate(t.variants):
        sep = '    ' if i == 0 else '    , '
        args += wrap_if(v.ifcond, '%s%s\n' % (sep, v.type.c_type()))
    text = '''
struct %(n)s {
    std::variant<
%(args)s    > value;
    friend bool operator==(const %(n)s&, const %(n)s&) = default;
};
''' % {'n': name, 'args': args}
    return wrap_if(t.ifcond, text)


def generate(schema, ns):
    enums, objects = schema.types_in_order()
    out = [HEADER_DOC, '''#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "qapi/boxed.h"
#include "qobject/json.h"

namespace %s {
''' % ns]
    for e in enums:
        out.append(gen_enum(e))
    out.append('\n')
    for t in objects:
        out.append(wrap_if(t.ifcond, 'struct %s;\n' % c_name(t.name)))
    for t in objects:
        if isinstance(t, ObjectType):
            out.append(gen_object(t))
        elif isinstance(t, AlternateType):
            out.append(gen_alternate(t))
    out.append('\n}  // namespace %s\n' % ns)
    return ''.join(out)
