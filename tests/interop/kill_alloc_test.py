#!/usr/bin/env python3
"""A crash in the middle of an allocation, beside Debian's QEMU 7.2: qemu-io starts an
aio_write into an unallocated block of a vdi, vpc or vmdk image over blkdebug, and blkdebug
breakpoints hold the request before its first, second, ... write to the image file. There
the process is killed with SIGKILL, ours and QEMU's alike, at the same point.

What must hold at every point: the real qemu-img check says the same of both images, the
guest data of both is the same (the real qemu-img compare), the data written before the
allocation reads back, and the two files are byte-identical (the same writes, in the same
order, reached the file). Where QEMU's own image fails its check (vdi between its header
and block-map writes), ours fails it in the same words: the window is QEMU's format, which
has no single write that updates both.

The kill point is exact, not timed: each breakpoint's "Suspended request" line is read from
the tool's terminal before the next step, so a run cannot flake on machine speed.

usage: kill_alloc_test.py OUR_QEMU_IMG OUR_QEMU_IO REF_QEMU_IMG REF_QEMU_IO   (77 = skipped)
"""
import os
import pty
import select
import signal
import subprocess
import sys
import time

from image_harness import MiB, TAGS, Harness, filter_io, io_commands

# (format, offset of the new block's write, writes one allocation makes to the file).
FORMATS = [('vdi', 1 * MiB, 3), ('vpc', 4 * MiB, 4), ('vmdk', 4 * MiB, 4)]
SIZE = 8 * MiB
WAIT_SECONDS = 60


def base_images(h):
    """Each format's image, made by the real tools, with 0x11 in its first 64 KiB."""
    for fmt, _, _ in FORMATS:
        h.must('ref_img', ['create', '-q', '-f', fmt, f'base.{fmt}', str(SIZE)])
        h.must('ref_io', ['-f', fmt] + io_commands(['write -q -P 0x11 0 64k']) + [f'base.{fmt}'])


def held_commands(offset, point):
    """qemu-io commands that stop the aio_write before its write number `point` (from 1)."""
    commands = ['break pwritev A1', f'aio_write -P 0x22 {offset} 64k', 'wait_break A1']
    for k in range(2, point + 1):
        commands += [f'break pwritev A{k}', f'resume A{k - 1}', f'wait_break A{k}']
    # Keeps the process alive, its request parked, until the kill.
    return commands + ['sleep 600000']


def run_until_parked(h, tool, args, marker):
    """Runs tool with its stdout on a terminal (line-buffered in both programs) until marker
    appears, then kills it. Returns what it printed, or None if it ended or never parked."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([h.tools[tool]] + args, cwd=h.cwd, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.STDOUT)
    os.close(slave)
    output = b''
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while marker not in output:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([master], [], [], left)[0]:
                return None
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the tool ended and closed the terminal
                chunk = b''
            if not chunk:
                return None
            output += chunk
        return output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        os.close(master)


def kill_points(h):
    for fmt, offset, writes in FORMATS:
        for point in range(1, writes + 1):
            what = f'{fmt}: killed before write {point} of the allocation'
            marker = f"blkdebug: Suspended request 'A{point}'".encode()
            images = {}
            for tag in TAGS:
                image = f'{tag}-{fmt}.img'
                with open(h.path(image), 'wb') as f:
                    f.write(h.read(f'base.{fmt}'))
                args = ['-f', fmt] + io_commands(held_commands(offset, point)) + [f'blkdebug::{image}']
                printed = run_until_parked(h, f'{tag}_io', args, marker)
                h.check(printed is not None, f'{what}: {tag} never reached the breakpoint')
                images[tag] = image
            results = {}
            for tag, image in images.items():
                code, out, err = h.run('ref_img', ['check', '-f', fmt, image])
                results[tag] = (code, out.replace(image.encode(), b'IMAGE'), err.replace(image.encode(), b'IMAGE'))
                code, out, err = h.run('ref_io', ['-r', '-f', fmt, '-c', 'read -P 0x11 0 64k', image])
                h.check(code == 0 and b'failed' not in out,
                        f'{what}: {tag}: the data written before does not read back: {out!r} {err!r}')
            h.same(f'{what}: qemu-img check', results['ours'], results['ref'], labels=('exit', 'stdout', 'stderr'))
            code, out, err = h.run('ref_img', ['compare', '-f', fmt, '-F', fmt, images['ours'], images['ref']])
            h.check(code == 0, f'{what}: the guest data differs: {out!r} {err!r}')
            h.check(h.read(images['ours']) == h.read(images['ref']), f'{what}: the files differ')
            # Where QEMU's image passes its check, ours must too (checked above by equality;
            # said here so a report names it).
            if results['ref'][0] == 0:
                h.check(results['ours'][0] == 0, f'{what}: ours fails the check where QEMU passes')


def whole_allocation(h):
    """Past the last write the request completes: there is no breakpoint left to hit, so
    both print the same, and the counts in FORMATS are the real number of writes."""
    for fmt, offset, writes in FORMATS:
        commands = held_commands(offset, writes)[:-1] + [f'resume A{writes}', 'aio_flush',
                                                          f'read -P 0x22 {offset} 64k', 'read -P 0x11 0 64k']
        for tag in TAGS:
            with open(h.path(f'{tag}-{fmt}.img'), 'wb') as f:
                f.write(h.read(f'base.{fmt}'))
        results = []
        for tag in TAGS:
            code, out, err = h.run(f'{tag}_io', ['-f', fmt] + io_commands(commands) + [f'blkdebug::{tag}-{fmt}.img'])
            results.append((code, filter_io(out), err))
        h.same(f'{fmt}: the whole allocation', results[0], results[1])
        code, out, err = h.run('ref_img', ['compare', '-f', fmt, '-F', fmt, f'ours-{fmt}.img', f'ref-{fmt}.img'])
        h.check(code == 0, f'{fmt}: after the whole allocation the guest data differs: {out!r} {err!r}')


if __name__ == '__main__':
    harness = Harness('kill-alloc', sys.argv[1:])
    sys.exit(harness.main([('kill points', kill_points), ('whole allocation', whole_allocation)],
                          setup=[('base images', base_images)]))
