#!/usr/bin/env python3
"""Runs the same qemu-img command lists through ours and Debian's qemu-img 7.2 and compares
stdout, stderr, exit status and the files each run leaves behind. Then checks that the real
qemu-img reads what ours writes: `compare` finds our converted images identical to their
sources and `info --output=json` of our images matches its own for the same commands.

usage: qemu_img_compare.py OURS REFERENCE   (exit 77 = skipped: no reference binary)
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from image_harness import settle_for_info

MiB = 1024 * 1024


def make_fixtures(root):
    """Raw images with data, holes and zeros, written without any QEMU tool."""
    def sparse(name, size, writes):
        with open(os.path.join(root, name), 'wb') as f:
            f.truncate(size)
            for offset, data in writes:
                f.seek(offset)
                f.write(data)

    sparse('s.raw', 10 * MiB, [(0, b'\x11' * 4096), (MiB, b'\x22' * 65536), (9 * MiB, b'\x33' * 512)])
    # Same content as s.raw, but every byte allocated.
    with open(os.path.join(root, 's.raw'), 'rb') as f:
        data = f.read()
    with open(os.path.join(root, 'full.raw'), 'wb') as f:
        f.write(data)
    # Differs from s.raw inside the second data run and in a hole.
    sparse('d1.raw', 10 * MiB, [(0, b'\x11' * 4096), (MiB, b'\x22' * 4096 + b'\x23' + b'\x22' * 61439),
                                (9 * MiB, b'\x33' * 512)])
    sparse('d2.raw', 10 * MiB, [(0, b'\x11' * 4096), (MiB, b'\x22' * 65536), (5 * MiB + 1000, b'\x01'),
                                (9 * MiB, b'\x33' * 512)])
    # Larger than s.raw with only zeros after it, and larger with data after it.
    sparse('big0.raw', 12 * MiB, [(0, b'\x11' * 4096), (MiB, b'\x22' * 65536), (9 * MiB, b'\x33' * 512)])
    sparse('big1.raw', 12 * MiB, [(0, b'\x11' * 4096), (MiB, b'\x22' * 65536), (9 * MiB, b'\x33' * 512),
                                  (11 * MiB + 512, b'\x44' * 512)])
    sparse('odd.raw', 1000, [(0, b'\x55' * 1000)])
    sparse('empty.raw', 0, [])
    # Three data runs spread over 40 MiB, for progress lines with 2 MiB chunks.
    sparse('wide.raw', 40 * MiB, [(0, b'\x01' * (5 * MiB)), (17 * MiB, b'\x02' * (3 * MiB + 512)),
                                  (39 * MiB, b'\x03' * MiB)])
    sparse('zeros.raw', 4 * MiB, [(MiB, b'\x00' * MiB), (3 * MiB, b'\x09' * 4096)])


# Each case runs in a fresh copy of the fixtures; its commands run in order.
CASES = [
    # top level
    [[]], [['foo']], [['-X']], [['create', '-f']],
    # create
    [['create', '-f', 'raw', 'a.raw', '1000']],
    [['create', '-f', 'raw', 'a.raw', '1G']],
    [['create', '-q', '-f', 'raw', 'a.raw', '1G']],
    [['create', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'preallocation=falloc', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'preallocation=full', 'a.raw', '64k']],
    [['create', '-f', 'raw', '-o', 'preallocation=falloc,nocow=yes,extent_size_hint=1M', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'extent_size_hint=2M,nocow=off,preallocation=off,size=1k', 'a.raw']],
    [['create', '-f', 'raw', '-o', 'size=1k', '-o', 'size=2k', 'a.raw']],
    [['create', '-f', 'raw', '-o', 'help']],
    [['create', '-f', 'file', '-o', 'help']], [['create', '-f', 'foo', '-o', 'help']],
    [['create', '-f', 'foo', '-o', 'help', 'a.raw']], [['convert', '-O', 'foo', '-o', 'help']],
    [['create', '-f', 'file', '-o', 'preallocation=full,nocow=on', 'a.raw', '4k']],
    [['create', '-f', 'raw', '-o', 'preallocation=bad', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'nocow=maybe', 'a.raw', '1M']],
    # host_device: device nodes are routed to it, it never creates or grows
    [['info', '/dev/null']], [['info', '--output=json', '/dev/zero']], [['map', '/dev/null']],
    [['info', '-f', 'file', '/dev/null']],
    [['info', '--image-opts', 'driver=raw,file.driver=host_device,file.filename=s.raw']],
    [['create', '-f', 'host_device', '/dev/null', '1M']], [['create', '-f', 'host_device', '/dev/null', '0']],
    [['create', '-f', 'host_device', '-o', 'preallocation=full', '/dev/null', '0']],
    [['create', '-f', 'host_device', 's.raw', '0']], [['create', '-f', 'host_device', 'nope/x', '0']],
    [['create', '-f', 'raw', '-o', 'help', '/dev/null']], [['create', '-f', 'raw', '/dev/null', '1k']],
    [['resize', '/dev/null', '1M']], [['check', '/dev/null']],
    [['create', '-o', 'help']],
    [['create', '-f', 'raw', '-o', '?']],
    [['create', '-f', 'raw', '-o', 'help', 'a.raw']],
    [['create', '-f', 'raw', '-o', 'help,size=1M', 'a.raw']],
    [['create', '-f', 'foo', 'a.raw', '1M']],
    [['create', '-f', 'raw', 'a.raw']],
    [['create', '-f', 'raw']],
    [['create', '-f', 'raw', 'a.raw', '1M', 'extra']],
    [['create', '-f', 'raw', '-o', 'size=2M', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'foo=bar', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'preallocation=bad', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'preallocation=metadata', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'nocow=x', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-o', 'size=abc', 'a.raw']],
    [['create', '-f', 'raw', '-o', 'size=8E', 'a.raw']],
    [['create', '-f', 'raw', '-o', ',', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-b', 's.raw', 'a.raw', '1M']],
    [['create', '-f', 'raw', '-F', 'raw', 'a.raw', '1M']],
    [['create', '-f', 'raw', 'nodir/a.raw', '1M']],
    [['create', '-f', 'file', 'a.raw', '1M']],
] + [[['create', '-f', 'raw', 'a.raw', size]] for size in [
    '0', '1', '1b', '1B', '513', '1k', '1K', '1kb', '1.5M', '1.5', '1.k', '.5k', '0x10', '0x1b', '0x1k', '0x1.8k',
    '1e3', '1t', '1P', '8E', '16E', '9223372036854775807', '9223372036854775296', '18446744073709551616', ' 1k',
    '1k ', '+1k', '-0', 'abc', '',
]] + [
    [['create', '-f', 'raw', 'a.raw', '--', '-1']],
    [['create', '-f', 'raw', 'a.raw', '-1']],
    # info
    [['info', 's.raw']], [['info', '--output=json', 's.raw']], [['info', '-f', 'raw', 's.raw']],
    [['info', '-U', 's.raw']], [['info', '-f', 'file', 's.raw']], [['info', 'odd.raw']],
    [['info', '--output=json', 'odd.raw']], [['info', 'empty.raw']], [['info', 'wide.raw']],
    [['info', '--backing-chain', 's.raw']], [['info', '--output=json', '--backing-chain', 's.raw']],
    [['info', '--image-opts', 'driver=raw,file.filename=s.raw']],
    [['info', '--output=json', '--image-opts', 'driver=file,filename=s.raw']],
    [['info', '--image-opts', 'driver=raw,file.filename=s.raw,offset=512']],
    [['info', '--image-opts', 'driver=raw,file.filename=s.raw,file.locking=off,size=1024']],
    [['info', '--output=json', '--image-opts', 'driver=raw,file.driver=file,file.filename=s.raw,size=1024,offset=1k']],
    [['info', '--output=xml', 's.raw']], [['info']], [['info', 'a', 'b']], [['info', 'nope']],
    [['info', '-f', 'foo', 's.raw']], [['info', '-f']], [['info', '--bogus', 's.raw']],
    # check
    [['check', 's.raw']], [['check', '-q', 's.raw']], [['check', '--output=json', 's.raw']],
    [['check', '-f', 'raw', '-r', 'leaks', 's.raw']], [['check', '-r', 'all', 's.raw']],
    [['check', '-r', 'bad', 's.raw']], [['check', 'nope']], [['check', '--output=json', 'nope']],
    [['check', '-T', 'bad', 's.raw']], [['check', '--output=foo', 's.raw']], [['check']],
    # map
    [['map', 's.raw']], [['map', '--output=json', 's.raw']], [['map', '-f', 'file', '--output=json', 's.raw']],
    [['map', '--start-offset=1M', '--max-length=100000', 's.raw']],
    [['map', '--output=json', '--start-offset=1M', '--max-length=100000', 's.raw']],
    [['map', 'full.raw']], [['map', '--output=json', 'full.raw']], [['map', '--output=json', 'odd.raw']],
    [['map', '--output=json', 'wide.raw']], [['map', '--output=foo', 's.raw']],
    [['map', '--start-offset=abc', 's.raw']], [['map', 'nope']],
    # measure
    [['measure', '-O', 'raw', '--size', '1G']], [['measure', '--output=json', '-O', 'raw', '--size', '1G']],
    [['measure', 's.raw']], [['measure', '-f', 'raw', '-O', 'raw', 's.raw']], [['measure', '--output=json', 's.raw']],
    [['measure', '-O', 'raw', '-o', 'preallocation=full', '--size', '1000']], [['measure']],
    [['measure', '-O', 'foo', '--size', '1G']], [['measure', '--size', '1G', 's.raw']], [['measure', '--size', 'abc']],
    [['measure', 'odd.raw']], [['measure', 'nope']], [['measure', 's.raw', 'full.raw']],
    # convert
    [['convert', 's.raw', 'c.raw'], ['compare', 's.raw', 'c.raw'], ['map', 'c.raw']],
    [['convert', '-p', '-O', 'raw', 's.raw', 'c.raw']],
    [['convert', '-p', 'wide.raw', 'c.raw'], ['map', 'c.raw']],
    [['convert', '-p', '-S', '0', 'wide.raw', 'c.raw']],
    [['convert', '-f', 'raw', '-O', 'raw', '-S', '0', 's.raw', 'c.raw'], ['map', '--output=json', 'c.raw']],
    [['convert', '-S', '64k', 'zeros.raw', 'c.raw'], ['map', 'c.raw']],
    [['convert', '-O', 'raw', '-n', 's.raw', 'full.raw'], ['compare', 's.raw', 'full.raw']],
    [['convert', '-n', 'd2.raw', 'big1.raw'], ['compare', 'd2.raw', 'big1.raw']],
    [['convert', '-n', 's.raw', 'odd.raw']],
    [['convert', '-O', 'raw', '-n', 's.raw', 'nonex.raw']],
    [['convert', '-O', 'foo', 's.raw', 'c.raw']],
    [['convert', '-O', 'raw', '-o', 'preallocation=full', 's.raw', 'c.raw']],
    [['convert', '-O', 'raw', '-o', 'help']], [['convert', '-O', 'raw', '-o', 'help', 's.raw', 'c.raw']],
    [['convert', '-t', 'none', '-T', 'none', '-W', '-O', 'raw', 's.raw', 'c.raw']],
    [['convert', '-t', 'writethrough', '-T', 'directsync', '-m', '16', 's.raw', 'c.raw']],
    [['convert', '-t', 'bad', 's.raw', 'c.raw']], [['convert', '-T', 'bad', 's.raw', 'c.raw']],
    [['convert', '-S', '1000', 's.raw', 'c.raw']], [['convert', '-S', 'abc', 's.raw', 'c.raw']],
    [['convert', '-S', '32M', 's.raw', 'c.raw']], [['convert', '-S', '16M', 's.raw', 'c.raw']],
    [['convert', '-S', '4k', '-q', '-p', 's.raw', 'c.raw']], [['convert', 's.raw']], [['convert']],
    [['convert', 'nope', 'c.raw']], [['convert', '-p', 'nope', 'c.raw']],
    [['convert', 's.raw', 'odd.raw', 'c.raw'], ['info', 'c.raw'], ['compare', 'c.raw', 's.raw']],
    [['convert', '-c', 's.raw', 'c.raw']], [['convert', '-m', '0', 's.raw', 'c.raw']],
    [['convert', '-m', '17', 's.raw', 'c.raw']], [['convert', '-f', 'foo', 's.raw', 'c.raw']],
    [['convert', 's.raw', 'nodir/c.raw']], [['convert', 'empty.raw', 'c.raw'], ['info', 'c.raw']],
    [['convert', '-p', 'empty.raw', 'c.raw']], [['convert', '-p', 'zeros.raw', 'c.raw']],
    # compare
    [['compare', 's.raw', 'full.raw']], [['compare', 's.raw', 'd1.raw']], [['compare', 's.raw', 'd2.raw']],
    [['compare', 'd2.raw', 's.raw']], [['compare', 's.raw', 'big0.raw']], [['compare', 's.raw', 'big1.raw']],
    [['compare', 'big1.raw', 's.raw']], [['compare', '-s', 's.raw', 'big0.raw']],
    [['compare', '-s', 's.raw', 'full.raw']], [['compare', '-s', 's.raw', 's.raw']],
    [['compare', '-f', 'raw', '-F', 'raw', 's.raw', 'full.raw']], [['compare', '-q', 's.raw', 'd1.raw']],
    [['compare', '-p', 's.raw', 'full.raw']], [['compare', '-p', 'wide.raw', 'wide.raw']],
    [['compare', '-p', 's.raw', 'big0.raw']], [['compare', '-p', 's.raw', 'd2.raw']],
    [['compare', 's.raw', 'nope']], [['compare', 'nope', 's.raw']], [['compare', 's.raw']],
    [['compare', '-T', 'bad', 's.raw', 's.raw']], [['compare', '-f', 'raw', 's.raw', '-F', 'raw', 'full.raw']],
    [['compare', 'odd.raw', 'odd.raw']], [['compare', 'empty.raw', 's.raw']], [['compare', 's.raw', 'odd.raw']],
    # resize
    [['resize', '-f', 'raw', 's.raw', '20M'], ['info', 's.raw']],
    [['resize', 's.raw', '+1M'], ['info', 's.raw']],
    [['resize', '-f', 'raw', 's.raw', '1M']], [['resize', '-f', 'raw', 's.raw', '-1M']],
    [['resize', '-f', 'raw', 's.raw', '--', '-1M']],
    [['resize', '-f', 'raw', '--shrink', 's.raw', '-1M'], ['info', 's.raw']],
    [['resize', '-f', 'raw', '--shrink', 's.raw', '1000'], ['info', 's.raw']],
    [['resize', '-f', 'raw', 's.raw', '+1'], ['info', 's.raw']],
    [['resize', '-f', 'raw', 's.raw', '8E']], [['resize', '-f', 'raw', 's.raw', '+8E']],
    [['resize', '-f', 'raw', 's.raw', '0']], [['resize', '-f', 'raw', 's.raw', '-100M']],
    [['resize', '-f', 'raw', '--preallocation=full', 's.raw', '+1M'], ['info', 's.raw']],
    [['resize', '-f', 'raw', '--preallocation=falloc', 's.raw', '+1M']],
    [['resize', '-f', 'raw', '--preallocation=full', 's.raw', '1M']],
    [['resize', '-f', 'raw', '--preallocation=bad', 's.raw', '+1M']],
    [['resize', '-f', 'raw', 's.raw', 'abc']], [['resize', '-f', 'raw', 's.raw']], [['resize', 's.raw']],
    [['resize', '-q', '-f', 'raw', 's.raw', '5M']], [['resize', '-f', 'raw', 'nope', '1M']],
    # amend: raw has nothing to amend
    [['amend', '-o', 'size=2M', 's.raw']], [['amend', '-f', 'raw', '-o', 'size=2M', 's.raw']], [['amend', 's.raw']],
    [['amend', '-o', 'help', '-f', 'raw']], [['amend', '-p', '-o', 'help', '-f', 'raw']],
    [['amend', '-f', 'foo', '-o', 'help']], [['amend', '-o', 'size=1M', '-t', 'bad', 's.raw']],
    [['amend', '-o', 'size=1M', 'nope']], [['amend', '-o', ',', 's.raw']],
    # snapshot: raw holds none
    [['snapshot', 's.raw']], [['snapshot', '-l', 's.raw']], [['snapshot', '-f', 'raw', '-l', 's.raw']],
    [['snapshot', '-l', '--image-opts', 'driver=raw,file.filename=s.raw']], [['snapshot', '-a', 'x', 's.raw']],
    [['snapshot', '-d', 'x', 's.raw']], [['snapshot', '-c', 'x', 's.raw']], [['snapshot', '-a', 'x', '-U', 's.raw']],
    [['snapshot', '-l', '-U', 's.raw']], [['snapshot', '-l', '-a', 'x', 's.raw']], [['snapshot', '-a']],
    [['snapshot', '-l']], [['snapshot', '-l', 'nope']], [['check', '-U', '-r', 'all', 's.raw']],
    # bench (timing normalised)
    [['bench', '-c', '10', '-f', 'raw', 's.raw']], [['bench', '-w', '-c', '10', '-f', 'raw', 's.raw']],
    [['bench', '-c', '10', '-d', '2', '-s', '1M', '-S', '2M', '-o', '1M', '-f', 'raw', 's.raw']],
    [['bench', '-c', '100', '-s', '1M', '-f', 'raw', 's.raw']], [['bench', '-c', '0', 's.raw']],
    [['bench', '-w', '--flush-interval=5', '-d', '2', '-c', '10', '-f', 'raw', 's.raw']],
    [['bench', '--flush-interval=5', '-c', '10', '-f', 'raw', 's.raw']],
    [['bench', '-w', '--flush-interval=1', '-d', '2', '-c', '10', '-f', 'raw', 's.raw']],
    [['bench', '-o', '20M', '-c', '1', '-f', 'raw', 's.raw']], [['bench', '-t', 'bad', 's.raw']],
    [['bench', '-i', 'bad', 's.raw']], [['bench', '--pattern=300', 's.raw']], [['bench']],
    [['bench', '-w', '-c', '3', '-f', 'raw', '--pattern=0x41', 's.raw']], [['bench', '-c', 'abc', 's.raw']],
    [['bench', '-S', 'abc', 's.raw']], [['bench', '-c', '99999999999', 's.raw']],
    [['bench', '-n', '-c', '1', '-f', 'raw', 's.raw']], [['bench', '-U', '-w', '-c', '1', 's.raw']],
    [['bench', '-c', '1', 'nope']], [['bench', '-c', '300', '-s', '64k', '-S', '96k', '-f', 'raw', 's.raw']],
    [['bench', '-c', '300', '-s', '1M', '-S', '3M', '-o', '512', 's.raw']],
    # requests in flight together through each aio mode (issue 14)
    [['bench', '-c', '200', '-d', '8', '-i', 'io_uring', '-t', 'none', '-f', 'raw', 's.raw']],
    [['bench', '-w', '-c', '200', '-d', '16', '-i', 'native', '-t', 'none', '-f', 'raw', 's.raw']],
    [['bench', '-w', '-c', '200', '-d', '16', '-n', '-t', 'none', '--pattern=7', '-f', 'raw', 's.raw']],
    [['bench', '-c', '1', '-i', 'native', '-f', 'raw', 's.raw']], [['bench', '-c', '1', '-n', '-f', 'raw', 's.raw']],
    [['bench', '-w', '--flush-interval=4', '--no-drain', '-d', '4', '-c', '20', '-i', 'io_uring', '-f', 'raw', 's.raw']],
    [['bench', '-c', '50', '-d', '32', '-s', '64k', '-S', '3M', '-i', 'io_uring', '-f', 'raw', 's.raw']],
    # dd
    [['dd', 'if=s.raw', 'of=o.raw']], [['dd', '-O', 'raw', 'bs=4k', 'count=2', 'skip=1', 'if=s.raw', 'of=o.raw']],
    [['dd', 'bs=1M', 'count=3', 'if=s.raw', 'of=o.raw']], [['dd', 'bs=1M', 'skip=9', 'if=s.raw', 'of=o.raw']],
    [['dd', 'if=s.raw']], [['dd', 'bs=0', 'if=s.raw', 'of=o.raw']], [['dd', 'count=x', 'if=s.raw', 'of=o.raw']],
    [['dd', 'foo=1', 'if=s.raw', 'of=o.raw']], [['dd', 'foo', 'if=s.raw', 'of=o.raw']],
    [['dd', 'if=nope', 'of=o.raw']], [['dd', 'bs=1k', 'skip=100000', 'if=s.raw', 'of=o.raw']],
    [['dd', 'if=odd.raw', 'of=o.raw']],
]


def run(binary, args, cwd):
    settle_for_info(args)
    proc = subprocess.run([binary] + args, cwd=cwd, capture_output=True, timeout=120)
    # bench's timing line is the one output that differs from run to run.
    stdout = re.sub(rb'Run completed in [0-9.]+ seconds', b'Run completed in X seconds', proc.stdout)
    return proc.returncode, stdout, proc.stderr


def content_digest(path):
    """A hash of the non-zero 4 KiB blocks and their offsets: equal for files with the same
    content whatever their allocation, and cheap for huge sparse files."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            f.seek(start)
            at = start
            while at < end:
                block = f.read(min(4096, end - at))
                if block.strip(b'\0'):
                    digest.update(at.to_bytes(8, 'little') + block)
                at += len(block)
            offset = end
    return digest.hexdigest()


def snapshot(root):
    """Name -> (size, sha256) of every file, so the two runs' results can be compared."""
    result = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            result[os.path.relpath(path, root)] = (os.path.getsize(path), content_digest(path))
    return result


def run_cases(ours, ref, fixtures, work):
    failures = 0
    for index, case in enumerate(CASES):
        outputs = []
        for tag, binary in (('ours', ours), ('ref', ref)):
            cwd = os.path.join(work, f'{index}-{tag}')
            # Made afresh rather than copied: a copy need not keep the holes.
            os.mkdir(cwd)
            make_fixtures(cwd)
            start = time.monotonic()
            results = [run(binary, args, cwd) for args in case]
            if time.monotonic() - start > 5:
                print(f'slow: {tag} {case} took {time.monotonic() - start:.1f} s')
            outputs.append((results, snapshot(cwd)))
            shutil.rmtree(cwd)
        (ours_results, ours_files), (ref_results, ref_files) = outputs
        for args, mine, theirs in zip(case, ours_results, ref_results):
            if mine != theirs:
                failures += 1
                print(f'FAIL {args}')
                for what, a, b in zip(('exit', 'stdout', 'stderr'), mine, theirs):
                    if a != b:
                        print(f'  {what}: ours {a!r}\n  {" " * len(what)}   ref  {b!r}')
        if ours_files != ref_files:
            failures += 1
            print(f'FAIL files after {case}')
            for name in sorted(set(ours_files) | set(ref_files)):
                if ours_files.get(name) != ref_files.get(name):
                    print(f'  {name}: ours {ours_files.get(name)} ref {ref_files.get(name)}')
    print(f'{len(CASES)} command lists compared, {failures} differences')
    return failures


def reference_reads_ours(ours, ref, fixtures, work):
    """The real qemu-img must find our converts identical and describe our images as its own."""
    failures = 0
    cwd = os.path.join(work, 'cross')
    os.mkdir(cwd)
    make_fixtures(cwd)
    for source in ('s.raw', 'wide.raw', 'odd.raw', 'zeros.raw', 'full.raw'):
        # One worker, and many writing out of order (through O_DIRECT bounces for odd.raw).
        for extra in ([], ['-S', '0'], ['-S', '64k'], ['-m', '1'], ['-W'], ['-W', '-m', '16', '-S', '0'],
                      ['-W', '-t', 'none', '-T', 'none']):
            target = 'conv-' + source
            subprocess.run([ours, 'convert', '-f', 'raw', '-O', 'raw'] + extra + [source, target], cwd=cwd,
                           check=True)
            code, out, err = run(ref, ['compare', '-f', 'raw', '-F', 'raw', source, target], cwd)
            if code != 0 or out != b'Images are identical.\n':
                failures += 1
                print(f'FAIL reference compare {source} {target} {extra}: {code} {out!r} {err!r}')
            os.unlink(os.path.join(cwd, target))

    def info(binary, name):
        code, out, err = run(binary, ['info', '--output=json', name], cwd)
        if code != 0:
            raise RuntimeError(f'{binary} info {name}: {err!r}')
        data = json.loads(out)
        # The allocated size depends on the file system, not on who made the image.
        data.pop('actual-size', None)
        return data

    for args in (['1000'], ['1G'], ['-o', 'preallocation=falloc', '1M'], ['-o', 'preallocation=full', '64k'],
                 ['0'], ['1.5M']):
        for tag, binary in (('ours', ours), ('ref', ref)):
            subprocess.run([binary, 'create', '-q', '-f', 'raw', f'{tag}.raw'] + args[:-1] + [args[-1]], cwd=cwd,
                           check=True)
        mine = info(ref, 'ours.raw')
        theirs = info(ref, 'ref.raw')
        mine['filename'] = theirs['filename']
        if mine != theirs or info(ours, 'ours.raw') != info(ref, 'ours.raw'):
            failures += 1
            print(f'FAIL reference info of our create {args}: {mine} vs {theirs}')
        for tag in ('ours', 'ref'):
            os.unlink(os.path.join(cwd, f'{tag}.raw'))
    print(f'reference tool checks done, {failures} failures')
    return failures


# Run while a qemu-io holds s.raw open read-write (it shares every permission): only a convert
# source refuses to share writing, everything else goes ahead as in QEMU.
LOCKED_CASES = [
    ['info', 's.raw'], ['info', '-U', 's.raw'], ['check', '-f', 'raw', 's.raw'], ['check', '-r', 'all', 's.raw'],
    ['compare', 's.raw', 's.raw'], ['convert', 's.raw', 'c.raw'], ['convert', '-U', 's.raw', 'c.raw'],
    ['compare', '-p', 's.raw', 'c.raw'], ['map', 's.raw'], ['measure', 's.raw'], ['resize', '-f', 'raw', 's.raw', '12M'],
    ['dd', 'if=s.raw', 'of=d.raw'], ['convert', '-n', '-f', 'raw', 'c.raw', 's.raw'],
    ['create', '-f', 'raw', 's.raw', '10M'],
]


def wait_for_locks(path, count):
    """Until at least `count` lock ranges are on path's inode (adjacent bytes of one holder
    merge into one range: a qemu-io writer shows 100-101, a VM 100-101 and 201)."""
    needle = f':{os.stat(path).st_ino} '
    for _ in range(200):
        with open('/proc/locks') as f:
            if f.read().count(needle) >= count:
                return
        time.sleep(0.05)
    raise RuntimeError(f'no locks appeared on {path}')


def run_while_held(holder, binary, cases, cwd, locks):
    """Runs binary with each case while `holder` (an argv) keeps cwd/s.raw open."""
    return run_while_held_file(holder, binary, cases, cwd, 's.raw', locks)


def run_while_held_file(holder, binary, cases, cwd, name, locks):
    proc = subprocess.Popen(holder, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_locks(os.path.join(cwd, name), locks)
        return [run(binary, args, cwd) for args in cases]
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def compare_held(title, cases, results_a, results_b):
    failures = 0
    for args, mine, theirs in zip(cases, results_a, results_b):
        if mine != theirs:
            failures += 1
            print(f'FAIL {title} {args}: {mine} vs {theirs}')
    print(f'{len(cases)} commands {title} compared, {failures} differences')
    return failures


# A VM whose virtio-blk device writes s.raw and refuses to share writing (bytes 100, 101, 201).
VM_CASES = LOCKED_CASES + [['info', '-f', 'raw', 's.raw'], ['check', '-U', 's.raw'], ['convert', '-U', '-O', 'raw',
                                                                                      's.raw', 'u.raw']]


def locked_cases(ours, ref, our_io, work):
    """Image locks in both directions: our tools against a real qemu-io writer and a real VM,
    and the real tools against our qemu-io writer, each compared with QEMU against QEMU."""
    qemu_io = '/usr/bin/qemu-io'
    if not os.access(qemu_io, os.X_OK):
        print('no qemu-io, lock cases skipped')
        return 0
    failures = 0
    results = {}
    holders = {'qemu-io': [qemu_io, '-f', 'raw', 's.raw']}
    if our_io:
        holders['our-io'] = [our_io, '-f', 'raw', 's.raw']
    for holder_tag, holder in holders.items():
        for tag, binary in (('ours', ours), ('ref', ref)):
            if holder_tag == 'our-io' and tag == 'ours':
                continue
            cwd = os.path.join(work, f'locked-{holder_tag}-{tag}')
            os.mkdir(cwd)
            make_fixtures(cwd)
            results[holder_tag, tag] = run_while_held(holder, binary, LOCKED_CASES, cwd, 1)
    failures += compare_held('under a real qemu-io writer, ours vs QEMU', LOCKED_CASES, results['qemu-io', 'ours'],
                             results['qemu-io', 'ref'])
    if our_io:
        failures += compare_held('of real qemu-img, under our qemu-io vs under real qemu-io', LOCKED_CASES,
                                 results['our-io', 'ref'], results['qemu-io', 'ref'])
    system = '/usr/bin/qemu-system-x86_64'
    if not os.access(system, os.X_OK):
        print('no qemu-system-x86_64, VM lock cases skipped')
        return failures
    for fmt in vm_formats(ours):
        failures += locked_by_vm(ours, ref, system, fmt, work)
    return failures


def vm_formats(ours):
    """raw and the image formats our qemu-img lists that QEMU can also write."""
    out = subprocess.run([ours, '--help'], capture_output=True, text=True).stdout
    listed = next((line.split(':', 1)[1].split() for line in out.splitlines() if line.startswith('Supported formats:')),
                  [])
    return [fmt for fmt in ('raw', 'vdi', 'vpc', 'vmdk') if fmt in listed]


def locked_by_vm(ours, ref, system, fmt, work):
    """A q35 VM writing the image through virtio-blk: our tools must answer as QEMU's do. For
    raw the cases run on s.raw itself; for a format on s.raw converted to it by QEMU."""
    name = 's.raw' if fmt == 'raw' else f's.{fmt}'
    cases = [[name if arg == 's.raw' else arg for arg in case] for case in VM_CASES]
    results = {}
    for tag, binary in (('ours', ours), ('ref', ref)):
        cwd = os.path.join(work, f'locked-vm-{fmt}-{tag}')
        os.mkdir(cwd)
        make_fixtures(cwd)
        if fmt != 'raw':
            subprocess.run([ref, 'convert', '-f', 'raw', '-O', fmt, 's.raw', name], cwd=cwd, check=True)
        holder = [system, '-S', '-display', 'none', '-nodefaults', '-M', 'q35', '-accel', 'tcg', '-drive',
                  f'file={name},format={fmt},if=none,id=d', '-device', 'virtio-blk-pci,drive=d']
        results[tag] = run_while_held_file(holder, binary, cases, cwd, name, 2)
        # Each side converted its own copy, and a vmdk's CID is random per create: info's
        # format-specific block shows it.
        results[tag] = [(code, re.sub(rb'(\n    cid: |"cid": )[0-9]+', rb'\1X', out), err) + tuple(rest)
                        for code, out, err, *rest in results[tag]]
    failures = compare_held(f'on {fmt} under a real VM with a virtio-blk writer, ours vs QEMU', cases,
                            results['ours'], results['ref'])
    # The conflict must be there at all: a convert of the VM's image is refused.
    index = cases.index(['convert', name, 'c.raw'])
    if results['ours'][index][0] != 1 or b'Failed to get shared "write" lock' not in results['ours'][index][2]:
        failures += 1
        print(f'FAIL our convert of a {fmt} image a VM writes was not refused: {results["ours"][index]}')
    return failures


def main():
    ours, ref = os.path.abspath(sys.argv[1]), sys.argv[2]
    our_io = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    if not os.access(ref, os.X_OK):
        print(f'{ref} not installed, skipping')
        return 77
    with tempfile.TemporaryDirectory() as work:
        fixtures = None
        only = os.environ.get('QEMU_IMG_CASE')
        if only is not None:
            global CASES
            CASES = [CASES[int(i)] for i in only.split(',') if i]
        failures = run_cases(ours, ref, fixtures, work)
        failures += reference_reads_ours(ours, ref, fixtures, work)
        failures += locked_cases(ours, ref, our_io, work)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
