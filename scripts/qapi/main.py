#!/usr/bin/env python3
"""QAPI code generator for the C++ port: reads a QAPI schema and writes C++ types,
visitors (JSON codecs), command marshallers, event senders and introspection data.

Usage: main.py -o OUTDIR -p PREFIX [-u] [--namespace NS] SCHEMA.json
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
import cpp_commands  # noqa: E402
import cpp_events  # noqa: E402
import cpp_introspect  # noqa: E402
import cpp_types  # noqa: E402
import cpp_visit  # noqa: E402
from errors import QAPIError  # noqa: E402
from schema import Schema  # noqa: E402


def write_file(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def main(argv):
    ap = argparse.ArgumentParser(description='Generate C++ code from a QAPI schema')
    ap.add_argument('-o', '--output-dir', default='.')
    ap.add_argument('-p', '--prefix', default='')
    ap.add_argument('-u', '--unmask-non-abi-names', action='store_true',
                    dest='unmask')
    ap.add_argument('--namespace', default='qapi')
    ap.add_argument('--check-only', action='store_true',
                    help='only parse and check the schema')
    ap.add_argument('schema')
    args = ap.parse_args(argv)

    if not re.match(r'^[A-Za-z_.-][A-Za-z0-9_.-]*$', args.prefix) and args.prefix:
        print("%s: 'funny character '%s' in argument of --prefix"
              % (sys.argv[0], args.prefix), file=sys.stderr)
        return 1
    if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$',
                    args.namespace):
        print("%s: invalid namespace '%s'" % (sys.argv[0], args.namespace),
              file=sys.stderr)
        return 1

    try:
        schema = Schema(args.schema)
    except QAPIError as err:
        print(err, file=sys.stderr)
        return 1
    if args.check_only:
        return 0

    ns, prefix = args.namespace, args.prefix
    outputs = {
        'qapi-types.h': cpp_types.generate(schema, ns),
        'qapi-visit.h': cpp_visit.gen_header(schema, ns, prefix),
        'qapi-visit.cc': cpp_visit.gen_source(schema, ns, prefix),
        'qapi-commands.h': cpp_commands.gen_header(schema, ns, prefix),
        'qapi-commands.cc': cpp_commands.gen_source(schema, ns, prefix),
        'qapi-events.h': cpp_events.gen_header(schema, ns, prefix),
        'qapi-events.cc': cpp_events.gen_source(schema, ns, prefix),
        'qapi-introspect.h': cpp_introspect.gen_header(ns),
        'qapi-introspect.cc': cpp_introspect.gen_source(schema, ns, prefix,
                                                        args.unmask),
    }
    os.makedirs(args.output_dir, exist_ok=True)
    for name, text in outputs.items():
        write_file(os.path.join(args.output_dir, prefix + name), text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
