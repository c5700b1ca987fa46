#!/usr/bin/env python3
"""Sends bad and good QMP input to a real QEMU and to json-wire-driver, and checks that
both give the same number of replies with byte-identical parse-error texts (the monitor
answers once per streamer callback, so the count matters as much as the wording).
Usage: json_vs_qemu.py DRIVER [QEMU_BINARY]; exits 77 (skip) without QEMU."""
import json
import shutil
import subprocess
import sys

CASES = [
    b'{"execute": %p}\n',
    b'{"execute": %p junk\x01{"b": 1}\n',
    b'@abc def\t"x" [1]]\n',
    b'} true\n',
    b'[32,}\n',
    b'{"a" 1}\n',
    b'{"a": 1 "b": 2}\n',
    b'[1 2]\n',
    b'"abc\xff{"b": 1}\n',
    b'{"execute": "x"\xff{"b": 1}\n',
    b'\xff\n\x0c\n',
    b'01\n',
    b'1.e5\n',
    b'"\\uD800\\uCAFE"\n',
    b'"\\u1x"\n',
    b'"\\z"\n',
    b'{"a":1,"a":2}\n',
    b'[1, foo]\n',
    b'{null:1}\n',
    b'"a\x80"\n',
    b'"ab\x00cd"\n',
    b'"caf\xc3\xa9 \x01"\n',
    b'[' * 1025 + b']' * 1025 + b'\n',
    b'-\n',
    b'truer false\n',
]


def desc_text(line):
    # The raw "desc" string as QEMU wrote it, escapes and all.
    return line.split('"desc": ', 1)[1].rstrip().rstrip('}').rstrip()


def qemu_replies(qemu, data):
    p = subprocess.Popen([qemu, '-machine', 'none', '-nodefaults', '-display', 'none', '-qmp', 'stdio'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        p.stdin.write(b'{"execute": "qmp_capabilities"}\n')
        p.stdin.flush()
        p.stdout.readline()  # greeting
        p.stdout.readline()  # capabilities reply
        p.stdin.write(data + b'\n{"execute": "query-version", "id": "END"}\n')
        p.stdin.flush()
        out = []
        while True:
            line = p.stdout.readline().decode()
            if not line:
                break
            reply = json.loads(line)
            if reply.get('id') == 'END':
                break
            if 'event' in reply:
                continue
            desc = reply.get('error', {}).get('desc', '')
            out.append(desc_text(line) if desc.startswith('JSON ') else 'VALUE')
        return out
    finally:
        p.kill()
        p.wait()


def main():
    driver = sys.argv[1]
    qemu = sys.argv[2] if len(sys.argv) > 2 else shutil.which('qemu-system-x86_64')
    if not qemu:
        print('no qemu-system-x86_64; skipping')
        return 77
    failures = 0
    for data in CASES:
        expected = qemu_replies(qemu, data)
        ours = subprocess.run([driver], input=data + b'\n', capture_output=True, check=True)
        got = ours.stdout.decode().splitlines()
        if got != expected:
            failures += 1
            print(f'MISMATCH for {data[:60]!r}\n  qemu: {expected[:5]}\n  ours: {got[:5]}')
    print(f'{len(CASES) - failures}/{len(CASES)} inputs answered as QEMU does')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
