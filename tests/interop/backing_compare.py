#!/usr/bin/env python3
"""Backing files against Debian's QEMU 7.2: info (human, JSON, --backing-chain, the actual
path of a backing file in another directory), map's depth and file, compare, convert and
qemu-io reading through the chain, create -b/-F and convert -B/-F with QEMU's checks, and the
errors when a backing file is missing. The images are vmdk overlays made by QEMU, read by both tools; the
running and comparing is image_harness.py's.

usage: backing_compare.py OUR_IMG OUR_IO REF_IMG REF_IO   (exit 77 = skipped)
"""
import os
import sys

from image_harness import MiB, Harness, filter_io, io_commands

BASE_WRITES = ['write -q -P 0x11 0 64k', 'write -q -P 0x22 1M 64k', 'write -q -P 0x55 3M 4k']
OVERLAY_WRITES = ['write -q -P 0x33 64k 64k', 'write -q -P 0x44 1M 32k']


def make_chain(h):
    """base.vmdk <- ov.vmdk <- top.vmdk, and sub/ov.vmdk naming a base in its own directory."""
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', 'base.vmdk', str(4 * MiB)])
    h.must('ref_io', io_commands(BASE_WRITES) + ['base.vmdk'])
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'ov.vmdk'])
    h.must('ref_io', io_commands(OVERLAY_WRITES) + ['ov.vmdk'])
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', 'ov.vmdk', '-F', 'vmdk', 'top.vmdk'])
    h.must('ref_io', io_commands(['write -q -P 0x66 2M 64k']) + ['top.vmdk'])
    os.mkdir(h.path('sub'))
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', 'sub/base.vmdk', str(4 * MiB)])
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk', 'sub/ov.vmdk'])
    h.must('ref_img', ['create', '-q', '-f', 'raw', 'plain.raw', str(4 * MiB)])


def info(h):
    """info shows the backing file, its format and the format-specific block as QEMU does."""
    for image in ['base.vmdk', 'ov.vmdk', 'top.vmdk', 'sub/ov.vmdk']:
        for output in [[], ['--output=json']]:
            h.same_tools('img', ['info'] + output + [image])
            h.same_tools('img', ['info', '--backing-chain'] + output + [image])
            h.same_tools('img', ['info', '-U', '-f', 'vmdk'] + output + [image])
    h.same_tools('img', ['info', '--backing-chain', '--output=json', os.path.join(h.cwd, 'top.vmdk')])
    h.same_tools('img', ['info', '--image-opts', '--backing-chain', 'driver=vmdk,file.filename=top.vmdk'])


def map_chain(h):
    """map walks the chain: depth in JSON, the file the data is in for human output."""
    for image in ['base.vmdk', 'ov.vmdk', 'top.vmdk', 'sub/ov.vmdk']:
        h.same_tools('img', ['map', image])
        h.same_tools('img', ['map', '--output=json', image])
    h.same_tools('img', ['map', '--output=json', '--start-offset=1M', '--max-length=1M', 'top.vmdk'])


def read_through(h):
    """Reads of what the top does not hold come from below; compare and convert see the chain."""
    h.same_tools('io', ['-r'] + io_commands(['read -P 0x11 0 64k', 'read -P 0x33 64k 64k', 'read -P 0x44 1M 32k',
                                             'read -P 0 1056768 32k', 'read -P 0x66 2M 64k',
                                             'read -P 0x55 3M 4k', 'read -P 0 3145728 512']) + ['top.vmdk'],
                 filt=lambda r: (r[0], filter_io(r[1]), r[2]))
    h.must('ref_img', ['convert', '-O', 'raw', 'top.vmdk', 'ref-top.raw'])
    h.must('ours_img', ['convert', '-O', 'raw', 'top.vmdk', 'ours-top.raw'])
    h.check(h.read('ref-top.raw') == h.read('ours-top.raw'), 'convert of top.vmdk reads the whole chain')
    for pair in [['top.vmdk', 'ref-top.raw'], ['ov.vmdk', 'top.vmdk'], ['base.vmdk', 'ov.vmdk'],
                 ['-s', 'top.vmdk', 'ref-top.raw']]:
        h.same_tools('img', ['compare'] + pair)
    h.same_tools('img', ['check', 'top.vmdk'])
    h.same_tools('img', ['check', '--output=json', 'top.vmdk'])


def create(h):
    """create -b/-F: QEMU's checks and texts, the size taken from the backing file."""
    cases = [
        ['-b', 'base.vmdk', 'c1.vmdk'],
        ['-b', 'missing.vmdk', '-F', 'vmdk', 'c2.vmdk'],
        ['-b', 'missing.vmdk', '-F', 'vmdk', 'c2.vmdk', '1M'],
        ['-u', '-b', 'missing.vmdk', '-F', 'vmdk', 'c3.vmdk'],
        ['-u', '-b', 'missing.vmdk', 'c3.vmdk', '1M'],
        ['-b', 'c4.vmdk', '-F', 'vmdk', 'c4.vmdk'],
        ['-o', 'backing_file=', 'c5.vmdk', '1M'],
    ]
    for args in cases:
        h.same_tools('img', ['create', '-f', 'vmdk'] + args)
    h.same_tools('img', ['create', '-f', 'raw', '-b', 'base.vmdk', '-F', 'vmdk', 'c6.raw'])
    h.same_tools('img', ['create', '-f', 'raw', '-F', 'vmdk', 'c6.raw', '1M'])
    # Successful creates write one file each; the Formatting line and the result are compared.
    for tag in ('ours', 'ref'):
        os.mkdir(h.path(tag))
        h.must('ref_img', ['create', '-q', '-f', 'vmdk', f'{tag}/base.vmdk', str(2 * MiB)])
    results = []
    for tag in ('ours', 'ref'):
        results.append(h.run(f'{tag}_img', ['create', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk',
                                            f'{tag}/ov.vmdk']))
    h.same('create -b base.vmdk -F vmdk (size from the backing file)', results[0],
           (results[1][0], results[1][1].replace(b"'ref/", b"'ours/"), results[1][2]))
    if h.exists('ours/ov.vmdk'):
        info = h.info_json('ref_img', 'ours/ov.vmdk')
        h.check(info.get('backing-filename') == 'base.vmdk' and info.get('virtual-size') == 2 * MiB,
                f'QEMU reads our overlay with its backing file: {info}')


def convert_backing(h):
    """convert -B/-F: only the source's top layer is copied; QEMU's checks, texts and exits."""
    refusals = [
        ['-O', 'vmdk', '-B', 'ov.vmdk', 'top.vmdk', 'b1.vmdk'],
        ['-O', 'vmdk', '-o', 'backing_file=ov.vmdk', 'top.vmdk', 'b1.vmdk'],
        ['-O', 'raw', '-B', 'ov.vmdk', 'top.vmdk', 'b1.raw'],
        ['-O', 'raw', '-B', 'ov.vmdk', '-F', 'vmdk', 'top.vmdk', 'b1.raw'],
        ['-O', 'raw', '-o', 'backing_file=ov.vmdk', 'top.vmdk', 'b1.raw'],
        ['-O', 'vmdk', '-B', 'ov.vmdk', '-F', 'vmdk', 'top.vmdk', 'ov.vmdk', 'b1.vmdk'],
        # QEMU 7.2 prints this refusal and exits 0.
        ['-O', 'vmdk', '-B', 'ov.vmdk', '-n', '--target-is-zero', 'top.vmdk', 'plain.raw'],
    ]
    for args in refusals:
        h.same_tools('img', ['convert'] + args)
    made = [
        ('b2', ['-B', 'ov.vmdk', '-F', 'vmdk']),
        ('b3', ['-o', 'backing_file=ov.vmdk,backing_fmt=vmdk']),
        ('b4', ['-B', 'ov.vmdk', '-F', 'vmdk', '-S', '0']),
        ('b5', ['-B', 'ov.vmdk', '-F', 'vmdk', '-c']),
        ('b6', ['-B', 'ov.vmdk', '-F', 'vmdk', '-o', 'subformat=streamOptimized']),
        ('b7', ['-B', 'base.vmdk', '-F', 'vmdk']),
    ]
    for name, args in made:
        results = [h.run(f'{tag}_img', ['convert', '-O', 'vmdk'] + args + ['top.vmdk', f'{name}-{tag}.vmdk'])
                   for tag in ('ours', 'ref')]
        h.same(f'convert {" ".join(args)}', results[0], results[1])
        if not (h.exists(f'{name}-ours.vmdk') and h.exists(f'{name}-ref.vmdk')):
            h.check(False, f'convert {" ".join(args)} made both targets')
            continue
        # What is allocated where (the layer each range comes from) and what reads back.
        maps = [h.run('ref_img', ['map', '--output=json', f'{name}-{tag}.vmdk']) for tag in ('ours', 'ref')]
        h.same(f'map of the convert -B target ({name})', maps[0], maps[1])
        h.same_tools('img', ['compare', 'top.vmdk', f'{name}-ours.vmdk'])
        h.same_tools('img', ['check', f'{name}-ours.vmdk'])


def missing_backing(h):
    """A backing file that does not open fails the overlay's open with QEMU's texts."""
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', 'gone.vmdk', str(MiB)])
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', 'gone.vmdk', '-F', 'vmdk', 'orphan.vmdk'])
    os.unlink(h.path('gone.vmdk'))
    h.same_tools('io', ['-c', 'read 0 512', 'orphan.vmdk'], filt=lambda r: (r[0], filter_io(r[1]), r[2]))
    h.same_tools('img', ['map', 'orphan.vmdk'])
    h.same_tools('img', ['info', 'orphan.vmdk'])
    h.same_tools('img', ['info', '--backing-chain', 'orphan.vmdk'])
    h.same_tools('img', ['compare', 'orphan.vmdk', 'plain.raw'])
    h.same_tools('img', ['info', 'json:{"driver": "vmdk", "backing": null, "file": {"driver": "file", '
                                 '"filename": "orphan.vmdk"}}'])


if __name__ == '__main__':
    h = Harness('backing', sys.argv[1:])
    sys.exit(h.main([('info', info), ('map', map_chain), ('read through the chain', read_through),
                     ('create', create), ('convert -B', convert_backing), ('missing backing file', missing_backing)],
                    setup=[('make the chain', make_chain)]))
