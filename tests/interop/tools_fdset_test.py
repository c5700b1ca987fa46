#!/usr/bin/env python3
"""--add-fd and --sandbox fs=deny in our qemu-img and qemu-io (issue 15): images the caller
opened, reached as /dev/fdset/N or /dev/fdset/N/NAME, give what the same commands give on
the paths, also once the tool is sealed and the kernel refuses it every path; bad --add-fd
arguments fail with the emulator's -add-fd texts. The source image is made by
Debian's QEMU 7.2 (exit 77 without it).

Usage: tools_fdset_test.py OUR_IMG OUR_IO REF_IMG REF_IO
"""
import os
import subprocess
import sys

from image_harness import Harness, masked

# The vdi header's four UUIDs: random in every create.
VDI_UUIDS = [(0x188, 0x1C8)]
# A VHD footer's timestamp, checksum and UUID, in the copy at the start of a dynamic image
# and in the trailing one.
VHD_FOOTER = [(24, 28), (64, 84)]


def vhd_mask(h, name):
    size = os.path.getsize(h.path(name))
    return [(start + a, start + b) for start in (0, size - 512) for a, b in VHD_FOOTER]


def run_with_fds(h, tool, args, files):
    """(exit, stdout, stderr) of our tool with each (fd number, file name, mode) of files
    open in the child as that number, as a management layer would pass them."""
    opened = []
    try:
        for number, name, mode in files:
            flags = {'r': os.O_RDONLY, 'rw': os.O_RDWR}[mode]
            fd = os.open(h.path(name), flags)
            if fd != number:
                os.dup2(fd, number, inheritable=True)
                os.close(fd)
            else:
                os.set_inheritable(fd, True)
            opened.append(number)
        proc = subprocess.run([h.tools[tool]] + args, cwd=h.cwd, capture_output=True, timeout=120,
                              pass_fds=opened)
        return proc.returncode, proc.stdout, proc.stderr
    finally:
        for number in opened:
            os.close(number)


def setup(h):
    h.must('ref_img', ['create', '-q', '-f', 'vdi', 'src.vdi', '8M'])
    h.must('ref_io', ['-f', 'vdi', '-c', 'write -q -P 0x5a 1M 64k', '-c', 'write -q -P 0xa5 7M 4k', 'src.vdi'])
    # Written back now, so info's disk size is the same in every run below.
    os.sync()


def info_through_a_set(h):
    code, out, err = run_with_fds(h, 'ours_img', ['--add-fd', 'fd=3,set=1', 'info', '-f', 'vdi', '/dev/fdset/1'],
                                  [(3, 'src.vdi', 'r')])
    ref = h.run('ours_img', ['info', '-f', 'vdi', 'src.vdi'])
    h.same('info through /dev/fdset/1 (first line aside) is info through the path',
           (code, out.split(b'\n', 1)[1], err), (ref[0], ref[1].split(b'\n', 1)[1], ref[2]))
    h.check(out.startswith(b'image: /dev/fdset/1\n'), f'the image is named as given: {out[:40]!r}')
    # --add-fd after the subcommand, with an opaque name and the = form.
    code, out, err = run_with_fds(
        h, 'ours_img', ['info', '--add-fd=fd=5,set=4,opaque=src.vdi', '-f', 'vdi', '/dev/fdset/4/src.vdi'],
        [(5, 'src.vdi', 'r')])
    h.same('info through a named member', (code, out.split(b'\n', 1)[1]), (ref[0], ref[1].split(b'\n', 1)[1]))


def convert_between_sets(h):
    for fmt, mask in (('raw', []), ('vdi', VDI_UUIDS)):
        target = f'out.{fmt}'
        with open(h.path(target), 'wb'):
            pass
        code, out, err = run_with_fds(
            h, 'ours_img',
            ['--add-fd', 'fd=3,set=1', '--add-fd', 'fd=4,set=2', 'convert', '-f', 'vdi', '-O', fmt, '/dev/fdset/1',
             '/dev/fdset/2'],
            [(3, 'src.vdi', 'r'), (4, target, 'rw')])
        h.check(code == 0, f'convert -O {fmt} between two sets: exit {code}, {err!r}')
        h.must('ours_img', ['convert', '-f', 'vdi', '-O', fmt, 'src.vdi', f'path.{fmt}'])
        h.check(masked(h.path(target), mask) == masked(h.path(f'path.{fmt}'), mask),
                f'convert -O {fmt} through fd sets is byte-identical to the path-based convert')
        code, out, err = h.run('ref_img', ['compare', '-f', 'vdi', '-F', fmt, 'src.vdi', target])
        h.check(code == 0, f'QEMU finds the {fmt} copy identical: {out!r} {err!r}')


def qemu_io_writes_land(h):
    h.must('ref_img', ['create', '-q', '-f', 'vdi', 'rw.vdi', '8M'])
    code, out, err = run_with_fds(
        h, 'ours_io', ['--add-fd', 'fd=3,set=9', '-f', 'vdi', '-c', 'write -q -P 0x3c 2M 128k', '/dev/fdset/9'],
        [(3, 'rw.vdi', 'rw')])
    h.check(code == 0 and err == b'', f'qemu-io writes through /dev/fdset/9: exit {code}, {err!r}')
    code, out, err = h.run('ref_io', ['-f', 'vdi', '-c', 'read -q -P 0x3c 2M 128k', 'rw.vdi'])
    h.check(code == 0 and b'Pattern verification failed' not in out, f'QEMU reads the write back: {out!r}')
    code, out, err = h.run('ref_img', ['check', 'rw.vdi'])
    h.check(code == 0, f'QEMU checks the image clean: {out!r}')
    # `open` inside qemu-io reaches the sets too.
    code, out, err = run_with_fds(
        h, 'ours_io', ['--add-fd', 'fd=3,set=9', '-c', 'open -r -o driver=vdi /dev/fdset/9', '-c',
                       'read -q -P 0x3c 2M 128k'], [(3, 'rw.vdi', 'r')])
    h.check(code == 0 and out == b'' and err == b'', f'qemu-io open of /dev/fdset/9: {out!r} {err!r}')


def sealed(h):
    """--sandbox fs=deny: the kernel refuses paths; what came through --add-fd still works."""
    with open(h.path('sealed.vpc'), 'wb'):
        pass
    code, out, err = run_with_fds(
        h, 'ours_img',
        ['--add-fd', 'fd=3,set=1', '--add-fd', 'fd=4,set=2', '--sandbox', 'fs=deny', 'convert', '-f', 'vdi', '-O',
         'vpc', '/dev/fdset/1', '/dev/fdset/2'],
        [(3, 'src.vdi', 'r'), (4, 'sealed.vpc', 'rw')])
    h.check(code == 0 and err == b'', f'sealed convert -O vpc between two sets: exit {code}, {err!r}')
    h.must('ours_img', ['convert', '-f', 'vdi', '-O', 'vpc', 'src.vdi', 'path.vpc'])
    h.check(masked(h.path('sealed.vpc'), vhd_mask(h, 'sealed.vpc')) ==
            masked(h.path('path.vpc'), vhd_mask(h, 'path.vpc')),
            'sealed convert through fd sets is byte-identical to the path-based convert')
    code, out, err = h.run('ref_img', ['compare', '-f', 'vdi', '-F', 'vpc', 'src.vdi', 'sealed.vpc'])
    h.check(code == 0, f'QEMU finds the sealed copy identical: {out!r} {err!r}')
    h.same('sealed qemu-img refuses a path', h.run('ours_img', ['--sandbox', 'fs=deny', 'info', 'src.vdi']),
           (1, b'', b"qemu-img: Could not open 'src.vdi': Could not open 'src.vdi': Permission denied\n"))
    h.same('sealed qemu-io refuses a path',
           h.run('ours_io', ['--sandbox', 'fs=deny', '-c', 'read 0 512', 'src.vdi']),
           (1, b'', b"qemu-io: can't open device src.vdi: Could not open 'src.vdi': Permission denied\n"))
    code, out, err = run_with_fds(
        h, 'ours_io', ['--add-fd', 'fd=3,set=5', '--sandbox', 'fs=deny', '-r', '-f', 'vdi', '-c',
                       'read -q -P 0x5a 1M 64k', '/dev/fdset/5'], [(3, 'src.vdi', 'r')])
    h.check(code == 0 and out == b'' and err == b'', f'sealed qemu-io reads through a set: {out!r} {err!r}')
    h.same('--sandbox with a bad value', h.run('ours_img', ['--sandbox', 'fs=maybe', 'info', 'src.vdi']),
           (1, b'', b'qemu-img: --sandbox fs=maybe: invalid argument for fs\n'))


def bad_arguments(h):
    cases = [
        (['fd=2,set=1'], [], 'fd cannot be a standard I/O stream'),
        (['fd=3'], [(3, 'src.vdi', 'r')], 'set option is required and must be non-negative'),
        (['set=1'], [], 'fd option is required and must be non-negative'),
        (['fd=9,set=1'], [], 'fd is not valid or already in use'),
        (['fd=3,set=1,bogus=1'], [(3, 'src.vdi', 'r')], "Invalid parameter 'bogus'"),
        (['fd=x,set=1'], [], "Parameter 'fd' expects a number"),
    ]
    for args, files, text in cases:
        for tool, prog, tail in (('ours_img', 'qemu-img', ['info', 'x']), ('ours_io', 'qemu-io', ['-c', 'quit'])):
            code, out, err = run_with_fds(h, tool, ['--add-fd', args[0]] + tail, files)
            want = f'{prog}: --add-fd {args[0]}: {text}\n'.encode()
            h.same(f'{prog} --add-fd {args[0]}', (code, out, err), (1, b'', want))
    code, out, err = h.run('ours_img', ['info', 'x', '--add-fd'])
    h.same('qemu-img --add-fd without its argument', (code, err),
           (1, b"qemu-img: missing argument for option '--add-fd'\n"), ('exit', 'stderr'))


if __name__ == '__main__':
    h = Harness('tools --add-fd', sys.argv[1:])
    sys.exit(h.main([
        ('info through a set', info_through_a_set),
        ('convert between sets', convert_between_sets),
        ('qemu-io writes land', qemu_io_writes_land),
        ('sealed', sealed),
        ('bad --add-fd arguments', bad_arguments),
    ], setup=[('setup', setup)]))
