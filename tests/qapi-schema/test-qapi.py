#!/usr/bin/env python3
"""Runs the QAPI generator over small schemas: a schema with a .err file next to it must
fail with exactly that output and exit status 1; one without must generate cleanly."""

import os
import subprocess
import sys
import tempfile


def run_case(generator, schema_dir, name):
    json_name = name + '.json'
    err_path = os.path.join(schema_dir, name + '.err')
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, generator, '-o', out, '-p', 'x-', json_name],
            cwd=schema_dir, capture_output=True, text=True, check=False)
        produced = sorted(os.listdir(out))
    if os.path.exists(err_path):
        with open(err_path, encoding='utf-8') as f:
            expected = f.read()
        if proc.returncode != 1:
            return 'expected exit status 1, got %d' % proc.returncode
        if proc.stderr != expected:
            return 'stderr differs:\n--- expected\n%s--- got\n%s' % (expected, proc.stderr)
        if produced:
            return 'a failing schema still wrote %s' % produced
        return None
    if proc.returncode != 0 or proc.stderr:
        return 'expected success, got status %d:\n%s' % (proc.returncode, proc.stderr)
    if len(produced) != 9:
        return 'expected 9 generated files, got %s' % produced
    return None


def main(argv):
    generator, schema_dir = argv[1], argv[2]
    names = argv[3:]
    failures = 0
    for name in names:
        problem = run_case(generator, schema_dir, name)
        if problem:
            failures += 1
            print('FAIL %s: %s' % (name, problem))
        else:
            print('ok   %s' % name)
    print('%d of %d schema tests failed' % (failures, len(names)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
