#!/usr/bin/env python3
"""The options libvirt adds when it starts a domain (-smp, -uuid, -rtc, -boot, -overcommit,
-msg, -audiodev, -no-acpi, -object secret, -name, machine properties): ours and Debian's
QEMU 7.2 must accept the same ones and refuse the bad ones with the same text and exit code,
on machine none. Exit 77 without QEMU.

Usage: domain_options_compare.py OUR_EMULATOR REF_EMULATOR
"""
import os
import subprocess
import sys

BASE = ['-machine', 'none', '-nodefaults', '-display', 'none', '-qmp', 'stdio']
QUIT = b'{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'

CASES = [
    ['-smp', '1,sockets=1,cores=1,threads=1'], ['-smp', '2'], ['-smp', '1,bogus=1'],
    ['-uuid', 'c5e7824a-14d2-45fd-a948-7e887273ead8'], ['-uuid', 'bogus'],
    ['-rtc', 'base=utc'], ['-rtc', 'base=localtime,clock=host'], ['-rtc', 'base=bogus'],
    ['-boot', 'strict=on'], ['-boot', 'strict=maybe'],
    ['-overcommit', 'mem-lock=off'], ['-overcommit', 'mem-lock=maybe'],
    ['-msg', 'timestamp=maybe'],
    ['-audiodev', '{"id":"audio1","driver":"none"}'], ['-audiodev', 'none,id=a'], ['-audiodev', 'none'],
    ['-no-acpi'],
    ['-object', 'bogus,id=x'], ['-object', 'secret,id=s,format=raw,file=/nonexistent'],
    ['-name', 'guest=a,debug-threads=on'], ['-name', 'guest=a,bogus=1'],
    ['-machine', 'none,usb=off,dump-guest-core=off'], ['-machine', 'none,usb=maybe'],
]


def run(binary, args):
    proc = subprocess.run([binary] + BASE + args, input=QUIT, capture_output=True, timeout=30)
    # Accepted: the QMP conversation ends in quit; only its exit code and stderr count.
    return proc.returncode, proc.stderr


def main():
    ours, ref = sys.argv[1], sys.argv[2]
    if not os.access(ref, os.X_OK):
        print(f'{ref} not installed, skipping')
        return 77
    failures = 0
    secret = '/tmp/domain-options-secret'
    with open(secret, 'wb') as f:
        f.write(b'0123456789abcdef0123456789abcdef')
    try:
        for args in CASES + [['-object', f'secret,id=s,format=raw,file={secret}']]:
            a, b = run(ours, args), run(ref, args)
            if a != b:
                failures += 1
                print(f'FAIL {args}\n  ours {a}\n  ref  {b}')
            else:
                print(f'ok {args}: exit {a[0]}')
    finally:
        os.unlink(secret)
    print(f'domain options: {len(CASES) + 1} checks, {failures} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
