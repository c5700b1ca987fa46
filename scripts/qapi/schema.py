"""The checked schema: entities (types, commands, events) with their references
resolved, implicit types added, and the cross-definition rules enforced."""

from common import c_name
from errors import QAPIError
from expr import check_exprs
from parser import SchemaParser


class Feature:
    def __init__(self, name, ifcond):
        self.name = name
        self.ifcond = ifcond


def _features(raw):
    result = []
    for f in raw or []:
        if isinstance(f, dict):
            result.append(Feature(f['name'], f.get('if')))
        else:
            result.append(Feature(f, None))
    return result


class Entity:
    meta = None

    def __init__(self, name, info, ifcond=None, features=None):
        self.name = name
        self.info = info
        self.ifcond = ifcond
        self.features = features or []
        self.module = info.fname if info else None

    def describe(self):
        return "%s '%s'" % (self.meta, self.name)

    def has_feature(self, name):
        return any(f.name == name for f in self.features)


class Type(Entity):
    def c_type(self):
        return c_name(self.name)

    def is_scalar(self):
        return False


class BuiltinType(Type):
    meta = 'built-in'

    def __init__(self, name, cpp, json_type):
        super().__init__(name, None)
        self.cpp = cpp
        self.json = json_type

    def c_type(self):
        return self.cpp

    def json_type(self):
        return self.json

    def is_scalar(self):
        return self.json not in ('string', 'value')


class EnumMember:
    def __init__(self, name, ifcond, features):
        self.name = name
        self.ifcond = ifcond
        self.features = features


class EnumType(Type):
    meta = 'enum'

    def __init__(self, name, info, ifcond, features, members, prefix):
        super().__init__(name, info, ifcond, features)
        self.members = members
        self.prefix = prefix

    def json_type(self):
        return 'string'

    def is_scalar(self):
        return True


class ArrayType(Type):
    meta = 'array'

    def __init__(self, element_name, info):
        super().__init__(element_name + 'List', info)
        self.element_name = element_name
        self.element_type = None

    def c_type(self):
        return 'std::vector<%s>' % self.element_type.c_type()

    def json_type(self):
        return 'array'


class Member:
    def __init__(self, name, type_ref, optional, ifcond, features):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.optional = optional
        self.ifcond = ifcond
        self.features = features
        # An optional member whose type contains the member's owner is held through the
        # heap (Boxed<T>), so that the owner can be defined.
        self.boxed = False

    def c_name(self):
        return c_name(self.name)


class Variant:
    def __init__(self, name, type_ref, ifcond):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.ifcond = ifcond


class ObjectType(Type):
    """A struct, a union (variants set), or an implicit argument type."""
    meta = 'struct'

    def __init__(self, name, info, ifcond, features, base_ref, members,
                 tag_name=None, variants=None, implicit=False, inline_base=None):
        super().__init__(name, info, ifcond, features)
        self.base_ref = base_ref
        self.base = None
        self.local_members = members
        self.inline_base = inline_base or []
        self.tag_name = tag_name
        self.tag_member = None
        self.variants = variants
        self.implicit = implicit
        if variants is not None:
            self.meta = 'union'

    def json_type(self):
        return 'object'

    def is_union(self):
        return self.variants is not None

    def base_members(self):
        if self.base is not None:
            return self.base.all_members()
        return list(self.inline_base)

    def all_members(self):
        """Members in wire order, base first (branches not included)."""
        return self.base_members() + self.local_members

    def is_empty(self):
        return not self.all_members() and not self.variants


class AlternateType(Type):
    meta = 'alternate'

    def __init__(self, name, info, ifcond, features, variants):
        super().__init__(name, info, ifcond, features)
        self.variants = variants

    def json_type(self):
        return 'value'


class Command(Entity):
    meta = 'command'

    def __init__(self, name, info, ifcond, features, arg_ref, boxed, ret_ref,
                 gen, success_response, allow_oob, allow_preconfig, coroutine):
        super().__init__(name, info, ifcond, features)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.boxed = boxed
        self.ret_ref = ret_ref
        self.ret_type = None
        self.gen = gen
        self.success_response = success_response
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig
        self.coroutine = coroutine


class Event(Entity):
    meta = 'event'

    def __init__(self, name, info, ifcond, features, arg_ref, boxed):
        super().__init__(name, info, ifcond, features)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.boxed = boxed


BUILTINS = [
    ('str', 'std::string', 'string'),
    ('number', 'double', 'number'),
    ('int', 'int64_t', 'int'),
    ('int8', 'int8_t', 'int'),
    ('int16', 'int16_t', 'int'),
    ('int32', 'int32_t', 'int'),
    ('int64', 'int64_t', 'int'),
    ('uint8', 'uint8_t', 'int'),
    ('uint16', 'uint16_t', 'int'),
    ('uint32', 'uint32_t', 'int'),
    ('uint64', 'uint64_t', 'int'),
    ('size', 'uint64_t', 'int'),
    ('bool', 'bool', 'boolean'),
    ('null', 'std::nullptr_t', 'null'),
    ('any', 'qemu::JsonValue', 'value'),
]


def _members(raw):
    result = []
    for key, value in raw.items():
        optional = key.startswith('*')
        name = key[1:] if optional else key
        if not isinstance(value, dict):
            value = {'type': value}
        result.append(Member(name, value['type'], optional, value.get('if'),
                             _features(value.get('features'))))
    return result


def _variants(raw):
    result = []
    for key, value in raw.items():
        if not isinstance(value, dict):
            value = {'type': value}
        result.append(Variant(key, value['type'], value.get('if')))
    return result


class Schema:
    def __init__(self, fname):
        parser = SchemaParser(fname)
        self.pragma = parser.pragma
        self.modules = parser.modules
        check_exprs(parser.exprs, parser.pragma)
        self.entities = {}
        self.entity_list = []  # definitions in schema order
        self.builtins = []
        for name, cpp, json_type in BUILTINS:
            t = BuiltinType(name, cpp, json_type)
            self.entities[name] = t
            self.builtins.append(t)
        self.empty = ObjectType('q_empty', None, None, [], None, [],
                                implicit=True)
        self.entities['q_empty'] = self.empty
        self.arrays = {}
        for expr in parser.exprs:
            self._define(expr)
        for ent in list(self.entity_list):
            self._resolve(ent)
        for ent in self.entity_list:
            self._check(ent)
        self._box_recursive_members()
        self._check_recursion()

    # --- definition ---

    def _add(self, ent):
        if ent.name in self.entities:
            other = self.entities[ent.name]
            if isinstance(other, BuiltinType) or other.info is None:
                raise QAPIError(ent.info, "%s redefines built-in type '%s'"
                                % (ent.describe(), ent.name))
            raise QAPIError(ent.info, "'%s' is already defined at %s"
                            % (ent.name, other.info.loc()))
        self.entities[ent.name] = ent
        self.entity_list.append(ent)

    def _implicit_args(self, name, info, ifcond, raw, features=None):
        members = _members(raw)
        t = ObjectType('q_obj_%s-arg' % name, info, ifcond, features, None,
                       members, implicit=True)
        self._add(t)
        return t.name

    def _define(self, expr):
        d, info, meta, name = expr.data, expr.info, expr.meta, expr.name
        ifcond = d.get('if')
        features = _features(d.get('features'))
        if meta == 'enum':
            members = []
            for m in d['data']:
                if isinstance(m, dict):
                    members.append(EnumMember(m['name'], m.get('if'),
                                              _features(m.get('features'))))
                else:
                    members.append(EnumMember(m, None, []))
            self._add(EnumType(name, info, ifcond, features, members,
                               d.get('prefix')))
        elif meta == 'struct':
            self._add(ObjectType(name, info, ifcond, features, d.get('base'),
                                 _members(d['data'])))
        elif meta == 'union':
            base = d['base']
            inline = None
            if isinstance(base, dict):
                inline = _members(base)
                base = None
            self._add(ObjectType(name, info, ifcond, features, base, [],
                                 d['discriminator'], _variants(d['data']),
                                 inline_base=inline))
        elif meta == 'alternate':
            self._add(AlternateType(name, info, ifcond, features,
                                    _variants(d['data'])))
        elif meta == 'command':
            arg = d.get('data')
            cmd = Command(name, info, ifcond, features, None,
                          d.get('boxed', False), d.get('returns'),
                          d.get('gen', True), d.get('success-response', True),
                          d.get('allow-oob', False),
                          d.get('allow-preconfig', False),
                          d.get('coroutine', False))
            self._add(cmd)
            if isinstance(arg, dict):
                arg = self._implicit_args(name, info, ifcond, arg)
            cmd.arg_ref = arg
        elif meta == 'event':
            arg = d.get('data')
            ev = Event(name, info, ifcond, features, None,
                       d.get('boxed', False))
            self._add(ev)
            if isinstance(arg, dict):
                arg = self._implicit_args(name, info, ifcond, arg)
            ev.arg_ref = arg

    # --- resolution ---

    def lookup(self, ref, info, source):
        if isinstance(ref, list):
            elem = self.lookup(ref[0], info, source)
            arr = self.arrays.get(elem.name)
            if arr is None:
                arr = ArrayType(elem.name, info)
                arr.element_type = elem
                arr.ifcond = elem.ifcond
                self.arrays[elem.name] = arr
            return arr
        t = self.entities.get(ref)
        if t is None:
            raise QAPIError(info, "%s uses unknown type '%s'" % (source, ref))
        if not isinstance(t, Type):
            raise QAPIError(info, "%s uses '%s', which is a %s, not a type"
                            % (source, ref, t.meta))
        return t

    def _resolve_members(self, members, info, owner):
        for m in members:
            m.type = self.lookup(m.type_ref, info, "member '%s' of %s"
                                 % (m.name, owner))

    def _resolve(self, ent):
        info = ent.info
        desc = ent.describe()
        if isinstance(ent, ObjectType):
            if ent.base_ref is not None:
                ent.base = self.lookup(ent.base_ref, info, "'base' of %s" % desc)
                if not isinstance(ent.base, ObjectType) or ent.base.is_union():
                    raise QAPIError(info, "'base' of %s requires a struct "
                                    "type, not %s" % (desc,
                                                      ent.base.describe()))
            self._resolve_members(ent.local_members, info, desc)
            self._resolve_members(ent.inline_base, info, desc)
            for v in ent.variants or []:
                v.type = self.lookup(v.type_ref, info, "branch '%s' of %s"
                                     % (v.name, desc))
        elif isinstance(ent, AlternateType):
            for v in ent.variants:
                v.type = self.lookup(v.type_ref, info, "branch '%s' of %s"
                                     % (v.name, desc))
        elif isinstance(ent, (Command, Event)):
            if ent.arg_ref is not None:
                ent.arg_type = self.lookup(ent.arg_ref, info,
                                           "'data' of %s" % desc)
            if isinstance(ent, Command) and ent.ret_ref is not None:
                ent.ret_type = self.lookup(ent.ret_ref, info,
                                           "'returns' of %s" % desc)

    # --- semantic checks ---

    @staticmethod
    def _check_clash(members, info, desc):
        seen = {}
        for m in members:
            key = c_name(m.name)
            if key in seen:
                raise QAPIError(info, "member '%s' of %s collides with member "
                                "'%s'" % (m.name, desc, seen[key]))
            seen[key] = m.name

    def _check(self, ent):
        info, desc = ent.info, ent.describe()
        self._check_features(ent.features, info, desc)
        if isinstance(ent, EnumType):
            seen = {}
            for m in ent.members:
                key = c_name(m.name)
                if key in seen:
                    raise QAPIError(info, "value '%s' of %s collides with "
                                    "value '%s'" % (m.name, desc, seen[key]))
                seen[key] = m.name
                self._check_features(m.features, info, desc)
        elif isinstance(ent, ObjectType):
            self._check_object(ent, info, desc)
        elif isinstance(ent, AlternateType):
            self._check_alternate(ent, info, desc)
        elif isinstance(ent, Command):
            self._check_command(ent, info, desc)
        elif isinstance(ent, Event):
            self._check_args(ent, info, desc)

    @staticmethod
    def _check_features(features, info, desc):
        seen = set()
        for f in features:
            if f.name in seen:
                raise QAPIError(info, "feature '%s' of %s is duplicated"
                                % (f.name, desc))
            seen.add(f.name)

    def _check_object(self, ent, info, desc):
        members = ent.all_members()
        self._check_clash(members, info, desc)
        for m in ent.local_members + ent.inline_base:
            self._check_features(m.features, info, desc)
        if not ent.is_union():
            return
        if any(m.name == 'u' for m in members):
            raise QAPIError(info, "member 'u' of %s uses reserved name" % desc)
        tag = next((m for m in members if m.name == ent.tag_name), None)
        if tag is None:
            raise QAPIError(info, "discriminator '%s' of %s is not a member "
                            "of 'base'" % (ent.tag_name, desc))
        if tag.optional:
            raise QAPIError(info, "discriminator member '%s' of %s must not "
                            "be optional" % (tag.name, desc))
        if tag.ifcond:
            raise QAPIError(info, "discriminator member '%s' of %s must not "
                            "be conditional" % (tag.name, desc))
        if not isinstance(tag.type, EnumType):
            raise QAPIError(info, "discriminator member '%s' of %s must be "
                            "of enum type" % (tag.name, desc))
        ent.tag_member = tag
        values = [v.name for v in tag.type.members]
        seen = set()
        for v in ent.variants:
            if v.name not in values:
                raise QAPIError(info, "branch '%s' of %s is not a value of "
                                "%s" % (v.name, desc, tag.type.describe()))
            seen.add(v.name)
            if not isinstance(v.type, ObjectType) or v.type.is_union():
                raise QAPIError(info, "branch '%s' of %s cannot use %s"
                                % (v.name, desc, v.type.describe()))
            self._check_clash(members + v.type.all_members(), info,
                              "branch '%s' of %s" % (v.name, desc))

    def _check_alternate(self, ent, info, desc):
        seen_wire = {}
        for v in ent.variants:
            t = v.type
            if isinstance(t, BuiltinType):
                wire = {'string': 'string', 'number': 'number',
                        'int': 'number', 'boolean': 'boolean',
                        'null': 'null'}.get(t.json_type())
            elif isinstance(t, EnumType):
                wire = 'string'
            elif isinstance(t, ObjectType):
                wire = 'object'
            else:
                wire = None
            if wire is None:
                raise QAPIError(info, "branch '%s' of %s cannot use %s"
                                % (v.name, desc, t.describe()
                                   if not isinstance(t, BuiltinType)
                                   else "type '%s'" % t.name))
            conflicting = {wire}
            if wire == 'string':
                # Keyval input turns every scalar into a string, so a string
                # branch must not sit beside a bool or number branch, unless
                # an enum's values cannot look like those.
                if isinstance(t, EnumType):
                    for m in t.members:
                        if m.name in ('on', 'off'):
                            conflicting.add('boolean')
                        if m.name[0] in '-+0123456789.':
                            conflicting.add('number')
                else:
                    conflicting |= {'boolean', 'number'}
            for w in conflicting:
                if w in seen_wire:
                    raise QAPIError(info, "branch '%s' of %s can't be "
                                    "distinguished from '%s'"
                                    % (v.name, desc, seen_wire[w]))
            for w in conflicting:
                seen_wire[w] = v.name

    def _check_args(self, ent, info, desc):
        t = ent.arg_type
        if t is None:
            return
        if not isinstance(t, ObjectType):
            raise QAPIError(info, "'data' of %s cannot take %s"
                            % (desc, t.describe() if not isinstance(
                                t, BuiltinType) else "type '%s'" % t.name))
        if t.is_union() and not ent.boxed:
            raise QAPIError(info, "'data' of %s can take %s only with "
                            "'boxed': true" % (desc, t.describe()))

    def _check_command(self, ent, info, desc):
        self._check_args(ent, info, desc)
        t = ent.ret_type
        if t is None or ent.name in self.pragma.command_returns_exceptions:
            return
        elem = t.element_type if isinstance(t, ArrayType) else t
        if not isinstance(elem, ObjectType):
            raise QAPIError(info, "'returns' of %s cannot take %s"
                            % (desc, "type '%s'" % t.name
                               if isinstance(t, (BuiltinType, ArrayType))
                               else t.describe()))

    def _box_recursive_members(self):
        """Optional object members through which a type reaches itself are boxed."""
        def reaches(start, goal):
            seen, todo = set(), [start]
            while todo:
                t = todo.pop()
                if t is goal:
                    return True
                if t.name in seen:
                    continue
                seen.add(t.name)
                todo.extend(self.strong_deps(t))
            return False

        for ent in self.entity_list:
            if not isinstance(ent, ObjectType):
                continue
            for m in ent.local_members:
                if m.optional and isinstance(m.type, ObjectType) and reaches(m.type, ent):
                    m.boxed = True

    def _check_recursion(self):
        """C++ values hold their members directly, so a type must not contain
        itself except through an array or an optional (boxed) member."""
        state = {}

        def visit(t, chain):
            if state.get(t.name) == 'done':
                return
            if state.get(t.name) == 'active':
                raise QAPIError(t.info, "%s contains itself (only an array or "
                                "an optional member may refer back to it)" % t.describe())
            state[t.name] = 'active'
            for dep in self.strong_deps(t):
                visit(dep, chain + [t])
            state[t.name] = 'done'

        for ent in self.entity_list:
            if isinstance(ent, Type):
                visit(ent, [])

    @staticmethod
    def strong_deps(t):
        """Types that must be complete before t can be defined."""
        deps = []
        if isinstance(t, ObjectType):
            if t.base is not None:
                deps.append(t.base)
            for m in t.local_members + t.inline_base:
                if not m.boxed:
                    deps.append(m.type)
            for v in t.variants or []:
                deps.append(v.type)
        elif isinstance(t, AlternateType):
            deps = [v.type for v in t.variants]
        return [d for d in deps if isinstance(d, (ObjectType, AlternateType))]

    # --- queries used by the emitters ---

    def types_in_order(self):
        """Enums, then objects and alternates so that each follows what it
        holds by value."""
        order, done = [], set()

        def visit(t):
            if t.name in done:
                return
            done.add(t.name)
            for dep in self.strong_deps(t):
                visit(dep)
            order.append(t)

        for ent in self.entity_list:
            if isinstance(ent, (ObjectType, AlternateType)):
                visit(ent)
        enums = [e for e in self.entity_list if isinstance(e, EnumType)]
        return enums, order

    def commands(self):
        return [e for e in self.entity_list if isinstance(e, Command)]

    def events(self):
        return [e for e in self.entity_list if isinstance(e, Event)]

    def entities_by_module(self):
        """Definitions grouped by the file they came from, files in order of
        first appearance (QEMU's visiting order)."""
        result = []
        for mod in self.modules:
            result += [e for e in self.entity_list if e.module == mod]
        return result
