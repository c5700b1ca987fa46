"""Checks each schema expression on its own: known keys, value shapes, naming
rules, 'if' and 'features' syntax. Cross-definition checks live in schema.py."""

import re

from common import c_name
from errors import QAPIError

META_KEYS = {
    'enum': (['data'], ['if', 'features', 'prefix']),
    'struct': (['data'], ['base', 'if', 'features']),
    'union': (['base', 'discriminator', 'data'], ['if', 'features']),
    'alternate': (['data'], ['if', 'features']),
    'command': ([], ['data', 'returns', 'boxed', 'if', 'features', 'gen',
                     'success-response', 'allow-oob', 'allow-preconfig',
                     'coroutine']),
    'event': ([], ['data', 'boxed', 'if', 'features']),
}

_VALID_NAME = re.compile(r'^(__[a-zA-Z0-9.-]+_)?(x-)?([a-zA-Z][a-zA-Z0-9_-]*)$')
_VALID_ENUM_NAME = re.compile(
    r'^(__[a-zA-Z0-9.-]+_)?(x-)?([a-zA-Z0-9][a-zA-Z0-9_-]*)$')


def _quote(names):
    return ', '.join("'%s'" % n for n in names)


def check_name_str(name, info, source, enum_member=False):
    if not isinstance(name, str):
        raise QAPIError(info, "%s requires a string name" % source)
    match = (_VALID_ENUM_NAME if enum_member else _VALID_NAME).match(name)
    if not match:
        raise QAPIError(info, "%s has an invalid name" % source)
    if c_name(name, protect=False).startswith('q_'):
        raise QAPIError(info, "%s uses reserved name" % source)
    return match.group(3)


def check_name_upper(name, info, source):
    stem = check_name_str(name, info, source)
    if re.search(r'[a-z-]', stem):
        raise QAPIError(info, "name of %s must not use lowercase or '-'"
                        % source)


def check_name_lower(name, info, source, permit_upper=False,
                     permit_underscore=False, enum_member=False):
    stem = check_name_str(name, info, source, enum_member)
    if ((not permit_upper and re.search(r'[A-Z]', stem))
            or (not permit_underscore and '_' in stem)):
        raise QAPIError(info, "name of %s must not use uppercase or '_'"
                        % source)


def check_name_camel(name, info, source):
    stem = check_name_str(name, info, source)
    if not re.match(r'[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$', stem):
        raise QAPIError(info, "name of %s must use CamelCase" % source)


def check_if(cond, info, source):
    def check(c):
        if isinstance(c, str):
            if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', c):
                raise QAPIError(info, "'if' condition '%s' of %s is not a "
                                "valid identifier" % (c, source))
            return
        if not isinstance(c, dict):
            raise QAPIError(info, "'if' condition of %s must be a string or "
                            "an object" % source)
        if len(c) != 1:
            raise QAPIError(info, "'if' condition of %s must have exactly one "
                            "of 'all', 'any', 'not'" % source)
        (op, arg), = c.items()
        if op == 'not':
            check(arg)
        elif op in ('all', 'any'):
            if not isinstance(arg, list):
                raise QAPIError(info, "'%s' condition of %s must be an array"
                                % (op, source))
            if not arg:
                raise QAPIError(info, "'if' condition [] of %s is useless"
                                % source)
            for sub in arg:
                check(sub)
        else:
            raise QAPIError(info, "'if' condition of %s has unknown "
                            "operator '%s'" % (source, op))
    check(cond)


def check_keys(value, info, source, required, optional):
    missing = [k for k in required if k not in value]
    if missing:
        raise QAPIError(info, "%s misses key%s %s"
                        % (source, 's' if len(missing) > 1 else '',
                           _quote(missing)))
    allowed = set(required) | set(optional)
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise QAPIError(info, "%s has unknown key%s %s"
                        % (source, 's' if len(unknown) > 1 else '',
                           _quote(unknown)))


def check_flags(expr, info, source):
    for key in ('gen', 'success-response'):
        if key in expr and expr[key] is not False:
            raise QAPIError(info, "flag '%s' of %s may only use false value"
                            % (key, source))
    for key in ('boxed', 'allow-oob', 'allow-preconfig', 'coroutine'):
        if key in expr and expr[key] is not True:
            raise QAPIError(info, "flag '%s' of %s may only use true value"
                            % (key, source))


def check_features(features, info, source):
    if features is None:
        return
    if not isinstance(features, list):
        raise QAPIError(info, "'features' of %s must be an array" % source)
    for f in features:
        fsource = "feature of %s" % source
        if isinstance(f, dict):
            check_keys(f, info, fsource, ['name'], ['if'])
            if 'if' in f:
                check_if(f['if'], info, fsource)
            f = f['name']
        check_name_lower(f, info, "feature '%s' of %s" % (f, source)
                         if isinstance(f, str) else fsource)


def check_type_ref(value, info, source, allow_array=True, allow_dict=False):
    if isinstance(value, str):
        return
    if isinstance(value, list):
        if not allow_array:
            raise QAPIError(info, "%s cannot be an array" % source)
        if len(value) != 1 or not isinstance(value[0], str):
            raise QAPIError(info, "%s: array type must contain single type "
                            "name" % source)
        return
    if allow_dict and isinstance(value, dict):
        return
    raise QAPIError(info, "%s should be a type name" % source)


def _member_value(value, info, source, allow_array=True):
    """Normalises a member's value to a dict {type, if?, features?}."""
    if isinstance(value, dict):
        check_keys(value, info, source, ['type'], ['if', 'features'])
        if 'if' in value:
            check_if(value['if'], info, source)
        check_features(value.get('features'), info, source)
        check_type_ref(value['type'], info, source, allow_array)
        return value
    check_type_ref(value, info, source, allow_array)
    return {'type': value}


def check_members(members, info, source, permissive):
    if not isinstance(members, dict):
        raise QAPIError(info, "'data' of %s must be an object" % source)
    for key, value in members.items():
        name = key[1:] if key.startswith('*') else key
        msource = "member '%s' of %s" % (name, source)
        check_name_lower(name, info, msource, permissive, permissive)
        if c_name(name).startswith('has_'):
            raise QAPIError(info, "%s uses reserved name" % msource)
        _member_value(value, info, msource)


def check_enum(expr, info, source, permissive):
    data = expr['data']
    if not isinstance(data, list):
        raise QAPIError(info, "'data' of %s must be an array" % source)
    prefix = expr.get('prefix')
    if prefix is not None and not isinstance(prefix, str):
        raise QAPIError(info, "'prefix' of %s must be a string" % source)
    for member in data:
        vsource = "value of %s" % source
        if isinstance(member, dict):
            check_keys(member, info, vsource, ['name'], ['if', 'features'])
            if 'if' in member:
                check_if(member['if'], info, vsource)
            check_features(member.get('features'), info, vsource)
            member = member['name']
        if isinstance(member, str):
            vsource = "value '%s' of %s" % (member, source)
        check_name_lower(member, info, vsource, permissive, permissive,
                         enum_member=True)


def check_branches(data, info, source, allow_array):
    if not isinstance(data, dict):
        raise QAPIError(info, "'data' of %s must be an object" % source)
    if not data:
        raise QAPIError(info, "%s has no branches" % source)
    for key, value in data.items():
        bsource = "branch '%s' of %s" % (key, source)
        check_name_lower(key, info, bsource, enum_member=True,
                         permit_underscore=True, permit_upper=True)
        _member_value(value, info, bsource, allow_array)
        if isinstance(value, dict) and 'features' in value:
            raise QAPIError(info, "%s has unknown key 'features'" % bsource)


def check_exprs(exprs, pragma):
    for expr in exprs:
        data, info = expr.data, expr.info
        metas = [k for k in META_KEYS if k in data]
        if not metas:
            raise QAPIError(info, "expression is missing metatype")
        if len(metas) > 1:
            raise QAPIError(info, "expression has more than one metatype: %s"
                            % _quote(metas))
        meta = metas[0]
        name = data[meta]
        if not isinstance(name, str):
            raise QAPIError(info, "value of '%s' must be a string" % meta)
        source = "%s '%s'" % (meta, name)
        required, optional = META_KEYS[meta]
        check_keys(data, info, source, [meta] + required, optional)
        expr.meta = meta
        expr.name = name
        if meta == 'event':
            check_name_upper(name, info, source)
        elif meta == 'command':
            check_name_lower(name, info, source, permit_underscore=(
                name in pragma.command_name_exceptions))
        else:
            check_name_camel(name, info, source)
        if name.endswith('List') and meta not in ('command', 'event'):
            raise QAPIError(info, "%s name should not end in 'List'" % source)
        if 'if' in data:
            check_if(data['if'], info, source)
        check_features(data.get('features'), info, source)
        check_flags(data, info, source)
        permissive = name in pragma.member_name_exceptions
        if meta == 'enum':
            check_enum(data, info, source, permissive)
        elif meta == 'struct':
            check_members(data['data'], info, source, permissive)
            if 'base' in data:
                check_type_ref(data['base'], info, "'base' of %s" % source,
                               allow_array=False)
        elif meta == 'union':
            base = data['base']
            if isinstance(base, dict):
                check_members(base, info, source, permissive)
            else:
                check_type_ref(base, info, "'base' of %s" % source,
                               allow_array=False)
            if not isinstance(data['discriminator'], str):
                raise QAPIError(info, "'discriminator' of %s must be a string"
                                % source)
            check_branches(data['data'], info, source, allow_array=False)
        elif meta == 'alternate':
            check_branches(data['data'], info, source, allow_array=False)
        elif meta in ('command', 'event'):
            if 'data' in data:
                if isinstance(data['data'], dict):
                    check_members(data['data'], info, source, permissive)
                else:
                    check_type_ref(data['data'], info,
                                   "'data' of %s" % source, allow_array=False)
            if data.get('boxed') and not isinstance(data.get('data'), str):
                raise QAPIError(info, "'boxed': true of %s requires 'data' "
                                "to be a type name" % source)
            if 'returns' in data:
                check_type_ref(data['returns'], info,
                               "'returns' of %s" % source)
