#!/usr/bin/env python3
"""Hostile images under resource limits (issue 13's four cases, the image ones here; the
ringbuf one is in tests/qtest/chardev-test.cc): ours against Debian's QEMU 7.2, each run
under the `ulimit` that broke it, each ending in QEMU's clean error or in QEMU's result.

  vdi check on a header claiming 4,194,304 blocks (every entry reads as block 0): a
      bitmap, not per-block objects, and the findings streamed, so it fits where QEMU fits;
  vdi check on a 4 MiB file claiming 245,178,016 blocks: completes under 2 GiB and
      counts every error, as QEMU does;
  vdi whose block map cannot be had (268,435,460 blocks): opens under 2 GiB as QEMU does,
      and under a tighter limit info, check, convert and qemu-io fail with QEMU's
      "Cannot allocate memory" text instead of aborting;
  convert of a 2 GiB vpc to raw under `ulimit -f 1 GiB`: QEMU's "File too large" error and
      exit 1, not a death by SIGXFSZ.

The large images are made here from a small QEMU-made one, never committed. Address-space
limits mean nothing under AddressSanitizer (it reserves terabytes of shadow), so with
--sanitized the limited runs are left out and the rest still compared.

Usage: hostile_input_test.py OUR_IMG OUR_IO REF_IMG REF_IO [--sanitized]
"""
import os
import resource
import subprocess
import sys

from image_harness import Harness, MiB, le32, le64

GiB = 1024 * MiB
SANITIZED = '--sanitized' in sys.argv[1:]
ARGV = [a for a in sys.argv[1:] if a != '--sanitized']

# The vdi header fields the cases rewrite (block-formats.md §1).
VDI_DISK_SIZE = 0x170
VDI_BLOCKS_IN_IMAGE = 0x180


def vdi_claiming(h, name, blocks, file_bytes=4 * MiB):
    """A QEMU-made vdi whose header claims `blocks` 1 MiB blocks (and that disk size) in a
    file of file_bytes: the block map past the end of the file reads as zeros, so every
    entry claims data block 0."""
    if not h.exists('seed.vdi'):
        h.must('ref_img', ['create', '-q', '-f', 'vdi', 'seed.vdi', '4M'])
    h.patched('seed.vdi', name, [(VDI_DISK_SIZE, le64(blocks * MiB)), (VDI_BLOCKS_IN_IMAGE, le32(blocks))])
    os.truncate(h.path(name), file_bytes)
    return name


def address_limit(nbytes):
    return None if SANITIZED else {resource.RLIMIT_AS: nbytes}


def check_claiming_4m_blocks(h):
    image = vdi_claiming(h, 'claims4m.vdi', 4194304)
    # QEMU 7.2 peaks at 40 MB here; ours used to need 495 MB. Both must fit in 256 MiB.
    limit = address_limit(256 * MiB)
    results = []
    for tag in ('ours', 'ref'):
        code, out, err = h.run(f'{tag}_img', ['check', '-f', 'vdi', image], limits=limit)
        lines = err.split(b'\n')
        results.append((code, out, len(lines), lines[0], lines[-2] if len(lines) > 1 else b''))
    h.same('check of a vdi claiming 4,194,304 blocks under ulimit -v 256 MiB', results[0], results[1],
           ('exit', 'stdout', 'stderr lines', 'first line', 'last line'))
    # The seed's own 4 entries are unallocated; every other one claims block 0, and the
    # first of those owns it: 4,194,299 "also used by" lines and the miscount.
    h.check(results[0][0] == 2 and results[0][2] - 1 == 4194304 - 4,
            f'every shared block reported once, exit 2 (got exit {results[0][0]}, {results[0][2] - 1} lines)')


def check_claiming_245m_blocks(h):
    if SANITIZED:
        print('skipped under sanitizers: 245 million findings take minutes there')
        return
    blocks = 245178016
    image = vdi_claiming(h, 'claims245m.vdi', blocks)
    # QEMU completes this under 2 GiB (its map is 980 MB); it takes QEMU minutes to write
    # the findings one by one, so only ours runs, its summary compared with what QEMU prints.
    with open(os.devnull, 'wb') as null:
        proc = subprocess.run([h.tools['ours_img'], 'check', '-f', 'vdi', image], cwd=h.cwd, stdout=subprocess.PIPE,
                              stderr=null, timeout=600,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 * GiB, 2 * GiB)))
    expected = (f'\n{blocks - 4} errors were found on the image.\n'
                'Data may be corrupted, or further writes to the image may corrupt it.\n').encode()
    h.same('check of a 4 MiB vdi claiming 245,178,016 blocks under ulimit -v 2 GiB',
           (proc.returncode, proc.stdout), (2, expected), ('exit', 'stdout'))


def map_out_of_memory(h):
    image = vdi_claiming(h, 'hugemap.vdi', 268435460)
    # The map is 1 GiB: QEMU opens it under 2 GiB, and so must we (one copy of it).
    h.same('info of a vdi with a 1 GiB block map under ulimit -v 2 GiB',
           *[h.run(f'{tag}_img', ['info', '-f', 'vdi', image], limits=address_limit(2 * GiB))
             for tag in ('ours', 'ref')])
    if SANITIZED:
        print('skipped under sanitizers: the out-of-memory runs need an address-space limit')
        return
    # Under 768 MiB the map cannot be had at all: the open fails, in every tool, with
    # QEMU's text; nothing aborts.
    tight = address_limit(768 * MiB)
    for kind, args in (('img', ['info', '-f', 'vdi', image]),
                       ('img', ['check', '-f', 'vdi', image]),
                       ('img', ['convert', '-f', 'vdi', '-O', 'raw', image, 'hugemap.raw']),
                       ('io', ['-f', 'vdi', '-c', 'read 0 512', image])):
        results = [h.run(f'{tag}_{kind}', args, limits=tight) for tag in ('ours', 'ref')]
        h.same(f'{kind} {args} under ulimit -v 768 MiB', *results)
        h.check(b'Cannot allocate memory' in results[0][2] and results[0][0] in (1, 2),
                f'{args}: a clean "Cannot allocate memory" failure (got {results[0][0]})')


def convert_past_file_size_limit(h):
    h.must('ref_img', ['create', '-q', '-f', 'vpc', 'big.vpc', '2G'])
    limit = {resource.RLIMIT_FSIZE: 1 * GiB}
    results = []
    for tag in ('ours', 'ref'):
        results.append(h.run(f'{tag}_img', ['convert', '-f', 'vpc', '-O', 'raw', 'big.vpc', 'big.raw'], limits=limit))
        if h.exists('big.raw'):
            os.unlink(h.path('big.raw'))
    h.same('convert of a 2 GiB vpc to raw under ulimit -f 1 GiB', results[0], results[1])
    h.check(results[0][0] == 1 and b'File too large' in results[0][2],
            f'exit 1 with "File too large", not a signal (got {results[0][0]})')


if __name__ == '__main__':
    h = Harness('hostile input', ARGV)
    sys.exit(h.main([
        ('vdi check, 4,194,304 claimed blocks', check_claiming_4m_blocks),
        ('vdi check, 245,178,016 claimed blocks', check_claiming_245m_blocks),
        ('vdi block map out of memory', map_out_of_memory),
        ('convert past ulimit -f', convert_past_file_size_limit),
    ]))
