"""Emits <prefix>qapi-introspect.{h,cc}: the SchemaInfo list query-qmp-schema returns.

Only what commands and events reach is described. Unless names are unmasked, type names
become "0", "1", ... in order of first use; every integer type is shown as 'int'."""

import json

from common import cond_expr
from schema import (AlternateType, ArrayType, BuiltinType, Command, EnumType,
                    ObjectType)


class Cond:
    """A list item that exists only when its 'if' condition holds."""

    def __init__(self, value, ifcond):
        self.value = value
        self.ifcond = ifcond


class Introspector:
    def __init__(self, schema, unmask):
        self.schema = schema
        self.unmask = unmask
        self.names = {}
        self.used = []
        self.trees = []

    def name(self, name):
        if self.unmask:
            return name
        if name not in self.names:
            self.names[name] = str(len(self.names))
        return self.names[name]

    def use(self, t):
        if isinstance(t, BuiltinType) and t.json_type() == 'int':
            t = self.schema.entities['int']
        elif isinstance(t, ArrayType) and isinstance(t.element_type, BuiltinType) \
                and t.element_type.json_type() == 'int':
            t = self.schema.lookup(['int'], None, '')
        if t not in self.used:
            self.used.append(t)
        if isinstance(t, BuiltinType):
            return t.name
        if isinstance(t, ArrayType):
            return '[' + self.use(t.element_type) + ']'
        return self.name(t.name)

    @staticmethod
    def features(features):
        return [Cond(f.name, f.ifcond) for f in features]

    def tree(self, name, meta, obj, ifcond, features):
        if meta not in ('command', 'event', 'builtin', 'array'):
            name = self.name(name)
        entry = {'name': name, 'meta-type': meta}
        entry.update(obj)
        if features:
            entry['features'] = self.features(features)
        self.trees.append(Cond(entry, ifcond))

    def member(self, m):
        obj = {'name': m.name, 'type': self.use(m.type)}
        if m.optional:
            obj['default'] = None
        if m.features:
            obj['features'] = self.features(m.features)
        return Cond(obj, m.ifcond)

    def visit_type(self, t):
        if isinstance(t, BuiltinType):
            self.tree(t.name, 'builtin', {'json-type': t.json_type()}, None, [])
        elif isinstance(t, EnumType):
            members = []
            for m in t.members:
                obj = {'name': m.name}
                if m.features:
                    obj['features'] = self.features(m.features)
                members.append(Cond(obj, m.ifcond))
            self.tree(t.name, 'enum', {
                'members': members,
                'values': [Cond(m.name, m.ifcond) for m in t.members]},
                t.ifcond, t.features)
        elif isinstance(t, ArrayType):
            elem = self.use(t.element_type)
            self.tree('[' + elem + ']', 'array', {'element-type': elem},
                      t.ifcond, [])
        elif isinstance(t, ObjectType):
            obj = {'members': [self.member(m) for m in t.all_members()]}
            if t.is_union():
                obj['tag'] = t.tag_member.name
                branches = {v.name: v for v in t.variants}
                variants = []
                # Enum values without a branch get an empty one.
                for value in t.tag_member.type.members:
                    v = branches.get(value.name)
                    if v is not None:
                        variants.append(Cond({'case': v.name, 'type': self.use(v.type)},
                                             v.ifcond))
                    else:
                        variants.append(Cond({'case': value.name,
                                              'type': self.use(self.schema.empty)},
                                             value.ifcond))
                obj['variants'] = variants
            self.tree(t.name, 'object', obj, t.ifcond, t.features)
        elif isinstance(t, AlternateType):
            self.tree(t.name, 'alternate', {
                'members': [Cond({'type': self.use(v.type)}, v.ifcond)
                            for v in t.variants]}, t.ifcond, t.features)

    def build(self):
        for ent in self.schema.entities_by_module():
            if isinstance(ent, Command):
                obj = {'arg-type': self.use(ent.arg_type or self.schema.empty),
                       'ret-type': self.use(ent.ret_type or self.schema.empty)}
                if ent.allow_oob:
                    obj['allow-oob'] = True
                self.tree(ent.name, 'command', obj, ent.ifcond, ent.features)
            elif ent.meta == 'event':
                obj = {'arg-type': self.use(ent.arg_type or self.schema.empty)}
                self.tree(ent.name, 'event', obj, ent.ifcond, ent.features)
        i = 0
        while i < len(self.used):  # visiting a type can use more types
            self.visit_type(self.used[i])
            i += 1
        return self.trees


def _has_cond(value):
    if isinstance(value, Cond):
        return bool(value.ifcond) or _has_cond(value.value)
    if isinstance(value, dict):
        return any(_has_cond(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cond(v) for v in value)
    return False


def _plain(value):
    if isinstance(value, Cond):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Emitter:
    def __init__(self):
        self.counter = 0
        self.lines = []

    def var(self):
        self.counter += 1
        return 'v%d' % self.counter

    def emit(self, value, indent):
        """Returns a C++ expression or variable for value, emitting statements."""
        pad = '    ' * indent
        if not _has_cond(value):
            text = json.dumps(_plain(value), separators=(',', ':'))
            return 'qemu::JsonValue::parse(R"qapi(%s)qapi")' % text
        name = self.var()
        if isinstance(value, dict):
            self.lines.append('%sqemu::JsonValue %s = qemu::JsonValue::object();' % (pad, name))
            for key, sub in value.items():
                expr = self.emit(sub, indent)
                self.lines.append('%s%s["%s"] = %s;' % (pad, name, key, expr))
        else:
            self.lines.append('%sqemu::JsonValue %s = qemu::JsonValue::array();' % (pad, name))
            for item in value:
                ifcond = item.ifcond if isinstance(item, Cond) else None
                inner = item.value if isinstance(item, Cond) else item
                if ifcond:
                    self.lines.append('#if %s' % cond_expr(ifcond))
                self.lines.append('%s{' % pad)
                expr = self.emit(inner, indent + 1)
                self.lines.append('%s    %s.push_back(%s);' % (pad, name, expr))
                self.lines.append('%s}' % pad)
                if ifcond:
                    self.lines.append('#endif')
        return name


def gen_header(ns):
    return '''// The schema as query-qmp-schema reports it. Generated from the QAPI schema. Do not edit.
#pragma once

#include "qobject/json.h"

namespace %s {

// The SchemaInfo list, built once.
const qemu::JsonValue& qmp_schema_introspection();

}  // namespace %s
''' % (ns, ns)


def gen_source(schema, ns, prefix, unmask):
    trees = Introspector(schema, unmask).build()
    em = _Emitter()
    # Each entry goes in its own block so no single expression gets huge.
    em.lines.append('    qemu::JsonValue list = qemu::JsonValue::array();')
    for entry in trees:
        if entry.ifcond:
            em.lines.append('#if %s' % cond_expr(entry.ifcond))
        em.lines.append('    {')
        expr = em.emit(entry.value, 2)
        em.lines.append('        list.push_back(%s);' % expr)
        em.lines.append('    }')
        if entry.ifcond:
            em.lines.append('#endif')
    em.lines.append('    return list;')
    return '''// Generated from the QAPI schema. Do not edit.
#include "%(prefix)sqapi-introspect.h"

namespace %(ns)s {

static qemu::JsonValue build_schema_introspection()
{
%(body)s
}

const qemu::JsonValue& qmp_schema_introspection()
{
    static const qemu::JsonValue schema = build_schema_introspection();
    return schema;
}

}  // namespace %(ns)s
''' % {'prefix': prefix, 'ns': ns, 'body': '\n'.join(em.lines)}
