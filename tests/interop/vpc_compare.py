#!/usr/bin/env python3
"""The vpc (VHD) driver against Debian's QEMU 7.2: reads of QEMU-made and third-party images,
writes that QEMU reads back and that are byte-identical to QEMU's own (outside the footer's
timestamp, checksum and UUID), writes crossing between the two tools, and bad images failing
with QEMU's exact messages. The running and comparing is image_harness.py's.

usage: vpc_compare.py OUR_IMG OUR_IO REF_IMG REF_IO FIXTURE_DIR   (exit 77 = skipped)
"""
import bz2
import hashlib
import os
import re
import shutil
import struct
import sys

from image_harness import MiB, Harness, be32, be64, content_digest, io_commands, masked

# The §9.1 write pattern scaled to an 80 MiB disk: 0x22 crosses a 64 KiB boundary, 0x33 a
# 1 MiB one, 0x44 is exactly one 2 MiB VHD block, 0x55 crosses a VHD block boundary, the
# zero write leaves a zero range inside data, 0x66 is the last sector.
SRC_SIZE = 80 * MiB
SRC_WRITES = ['write -q -P 0x11 0 4k', 'write -q -P 0x22 65024 1k', 'write -q -P 0x33 1048064 1k',
              'write -q -P 0x44 2097152 2M', f'write -q -P 0x55 {6 * MiB - 512} 1k',
              f'write -q -P 0x77 {40 * MiB} 1M', f'write -q -z {40 * MiB + 4096} 64k',
              f'write -q -P 0x66 {SRC_SIZE - 512} 512']

# Variable bytes of a VHD footer: timestamp, checksum and UUID.
FOOTER_MASK = [(24, 28), (64, 84)]


def masked_vhd(h, name):
    """The file's bytes with the variable footer bytes zeroed in the copy at offset 0 (if the
    image starts with one) and in the trailing footer."""
    with open(h.path(name), 'rb') as f:
        head = f.read(8)
        size = os.fstat(f.fileno()).st_size
    starts = ([size - 512] if size >= 512 else []) + ([0] if head == b'conectix' else [])
    return masked(h.path(name), [(start + a, start + b) for start in starts for a, b in FOOTER_MASK])


def fix_footers(data):
    """Makes the checksum of each footer right again after an edit."""
    for start in (0, len(data) - 512):
        if data[start:start + 8] == b'conectix':
            data[start + 64:start + 68] = b'\0\0\0\0'
            data[start + 64:start + 68] = struct.pack('>I', ~sum(data[start:start + 512]) & 0xffffffff)


def patched(h, source, name, edits, fix_footer=True, truncate=None):
    """A copy of source with bytes replaced; footers' checksums made right again if asked."""
    return h.patched(source, name, edits, truncate=truncate, fixup=fix_footers if fix_footer else None)


def untimed_lines(out):
    return [line for line in out.splitlines() if 'ops;' not in line]


def make_source(h):
    h.must('ref_img', ['create', '-q', '-f', 'raw', 'src.raw', str(SRC_SIZE)])
    h.must('ref_io', ['-f', 'raw'] + io_commands(SRC_WRITES) + ['src.raw'])


VARIANTS = {
    'dyn': [],
    'fixed': ['-o', 'subformat=fixed'],
    'dyn-force': ['-o', 'force_size=on'],
    'fixed-force': ['-o', 'subformat=fixed,force_size=on'],
}


def read_compat(h):
    """Ours reads QEMU-made images (and third-party ones) exactly as QEMU does."""
    images = []
    for name, opts in VARIANTS.items():
        h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', f'ref-{name}.vhd'])
        images.append(f'ref-{name}.vhd')
    for size in ['1M', '64M', '127M', '1G', '32G', '127G', '1000']:
        h.must('ref_img', ['create', '-q', '-f', 'vpc', f'e-{size}.vhd', size])
        images.append(f'e-{size}.vhd')
    h.must('ref_img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'e-fixed-10M.vhd', '10M'])
    images.append('e-fixed-10M.vhd')
    for fixture in ('virtualpc-dynamic.vhd', 'hyperv2012r2-dynamic.vhd'):
        if not h.fixtures:
            continue
        with bz2.open(os.path.join(h.fixtures, fixture + '.bz2')) as src, open(h.path(fixture), 'wb') as dst:
            shutil.copyfileobj(src, dst)
        images.append(fixture)
    for image in images:
        digests = []
        for tool in ('ours_img', 'ref_img'):
            out = f'{image}.{tool}.raw'
            h.must(tool, ['convert', '-f', 'vpc', '-O', 'raw', image, out])
            digests.append(content_digest(h.path(out)))
            os.unlink(h.path(out))
        h.check(digests[0] == digests[1], f'read: {image} converts to different raw bytes')
        ours, ref = h.info_json('ours_img', image, 'vpc'), h.info_json('ref_img', image, 'vpc')
        h.check(ours == ref, f'read: info of {image}: ours {ours} ref {ref}')
        for args in (['map', '--output=json', '-f', 'vpc', image], ['map', '-f', 'vpc', image],
                     ['info', image], ['compare', '-f', 'vpc', '-F', 'raw', image, 'src.raw']):
            if 'e-' in image and args[0] == 'compare':
                continue
            h.same_tools('img', args, what=f'read: {args}', text=True)
    # Pattern reads through qemu-io, as §9.3 has them.
    reads = ['read -P 0x22 65024 1k', f'read -P 0x55 {6 * MiB - 512} 1k', f'read -P 0 {40 * MiB + 4096} 64k',
             f'read -P 0x66 {SRC_SIZE - 512} 512', 'read -P 0 5M 4k', 'read -P 0x44 3M 4k']
    for name in VARIANTS:
        outs = []
        for tool in ('ours_io', 'ref_io'):
            code, out, err = h.run_text(tool, ['-r', '-f', 'vpc'] + io_commands(reads) + [f'ref-{name}.vhd'])
            outs.append((code, untimed_lines(out), err))
        h.check(outs[0] == outs[1] and outs[0][0] == 0,
                f'read: qemu-io reads of ref-{name}.vhd: ours {outs[0]} ref {outs[1]}')


def write_compat(h):
    """QEMU reads what ours writes, and ours writes the same bytes QEMU does."""
    for name, opts in VARIANTS.items():
        files = {}
        for tool in ('ours_img', 'ref_img'):
            out = f'w-{name}-{tool}.vhd'
            files[tool] = out
            h.must(tool, ['convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', out])
        ours = files['ours_img']
        code, out, err = h.run_text('ref_img', ['check', '-f', 'vpc', ours])
        h.check(code == 63 and err == 'qemu-img: This image format does not support checks\n',
                f'write: check of {ours}: {code} {out} {err}')
        expected = h.run_text('ref_img', ['compare', '-f', 'vpc', '-F', 'raw', files['ref_img'], 'src.raw'])
        got = h.run_text('ref_img', ['compare', '-f', 'vpc', '-F', 'raw', ours, 'src.raw'])
        h.check(got == expected and got[0] == 0,
                f'write: compare {ours} src.raw: {got}, QEMU\'s own image gives {expected}')
        h.check('force' in name or 'Warning: Image size mismatch!' in got[1],
                f'write: compare {ours}: CHS rounding should show a size mismatch: {got}')
        h.check(h.info_json('ref_img', ours, 'vpc') == h.info_json('ref_img', files['ref_img'], 'vpc'),
                f'write: info of {ours} differs from QEMU\'s image')
        h.check(masked_vhd(h, ours) == masked_vhd(h, files['ref_img']),
                f'write: {ours} is not byte-identical to QEMU\'s convert')
    # Workers writing out of order allocate blocks in another order: still a clean image.
    for name, opts in VARIANTS.items():
        ours = f'w-{name}-unordered.vhd'
        h.must('ours_img', ['convert', '-W', '-m', '16', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', ours])
        got = h.run_text('ref_img', ['compare', '-f', 'vpc', '-F', 'raw', ours, 'src.raw'])
        h.check(got[0] == 0, f'write: compare {ours} src.raw: {got}')
    # Empty images and the Formatting lines of create.
    for size in ['0', '1000', '1M', '64M', '127M', '1G', '32G', '127G', '127.5G']:
        for opts in ([], ['-o', 'subformat=dynamic,force_size=off'], ['-o', 'force_size=yes']):
            results = {}
            for tool in ('ours_img', 'ref_img'):
                name = f'c-{size}-{len(opts)}-{tool}.vhd'
                code, out, err = h.run_text(tool, ['create', '-f', 'vpc'] + opts + [name, size])
                results[tool] = (code, out.replace(name, 'X'), err.replace(name, 'X'),
                                 masked_vhd(h, name) if code == 0 else None)
            h.same(f'write: create -f vpc {opts} {size}', results['ours_img'], results['ref_img'])
    # The same write sequence by each tool's qemu-io into each tool's fresh image.
    script = ['write -P 0x11 2M 4k', 'write -P 0x22 0 1k', 'write -P 0x33 3M 2M', 'write -P 0x44 60M 100',
              'writev -P 0x55 100k 512 1k', 'write -z 3M 64k', 'aio_write -P 0x66 8M 64k', 'aio_flush',
              'discard 0 64k']
    for opts in ([], ['-o', 'subformat=fixed']):
        files = {}
        for tag in ('ours', 'ref'):
            name = f'seq-{len(opts)}-{tag}_img.vhd'
            h.must(f'{tag}_img', ['create', '-q', '-f', 'vpc'] + opts + [name, '64M'])
            h.must(f'{tag}_io', ['-f', 'vpc'] + io_commands(script) + [name])
            files[tag] = masked_vhd(h, name)
        h.check(files['ours'] == files['ref'], f'write: the qemu-io sequence leaves different files ({opts})')


def cross_write(h):
    """QEMU writes into our image and ours into QEMU's; both tools read both back."""
    writes = [('0x5a', 1536 * 1024, 1 * MiB), ('0x5b', 30 * MiB + 7 * 512, 4096), ('0x5c', 0, 512)]
    for maker, writer in (('ours_img', 'ref_io'), ('ref_img', 'ours_io')):
        name = f'x-{maker}.vhd'
        h.must(maker, ['create', '-q', '-f', 'vpc', name, '32M'])
        h.must(writer, ['-f', 'vpc'] + io_commands(f'write -q -P {p} {o} {n}' for p, o, n in writes) + [name])
        for reader in ('ours_io', 'ref_io'):
            reads = [f'read -q -P {p} {o} {n}' for p, o, n in writes] + [f'read -q -P 0 {20 * MiB} 1M']
            code, out, err = h.run_text(reader, ['-r', '-f', 'vpc'] + io_commands(reads) + [name])
            h.check(code == 0 and not out and not err,
                    f'cross: {reader} reading {name} written by {writer}: {code} {out} {err}')
        code, _, _ = h.run_text('ref_img', ['check', name])
        h.check(code == 63, f'cross: check of {name} gave {code}')


def bad_input(h):
    """Broken and unusual images: both tools say the same, in the same words, with the same code."""
    if h.fixtures:
        with bz2.open(os.path.join(h.fixtures, 'afl5.img.bz2')) as src:
            with open(h.path('afl5.img'), 'wb') as dst:
                shutil.copyfileobj(src, dst)
    h.must('ref_img', ['create', '-q', '-f', 'vpc', 'good.vhd', '8M'])
    h.must('ref_io', ['-f', 'vpc', '-c', 'write -q -P 0x42 2M 4k', 'good.vhd'])
    h.must('ref_img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'goodfix.vhd', '1M'])
    size = os.path.getsize(h.path('good.vhd'))
    fixsize = os.path.getsize(h.path('goodfix.vhd'))
    fix_uuid = fixsize - 512 + 70
    images = (['afl5.img'] if h.fixtures else []) + ['good.vhd', 'goodfix.vhd',
              patched(h, 'good.vhd', 'badsum.vhd', [(70, h.flipped('good.vhd', 70))], fix_footer=False),
              patched(h, 'good.vhd', 'badmagic.vhd', [(512, b'cxsparsX')]),
              patched(h, 'good.vhd', 'blocksize-1000.vhd', [(512 + 32, be32(1000))]),
              patched(h, 'good.vhd', 'blocksize-256.vhd', [(512 + 32, be32(256))]),
              patched(h, 'good.vhd', 'blocksize-4k.vhd', [(512 + 32, be32(4096)), (512 + 28, be32(4096))]),
              patched(h, 'good.vhd', 'table-small.vhd', [(512 + 28, be32(2))]),
              patched(h, 'good.vhd', 'table-large.vhd', [(512 + 28, be32(0x20000000))]),
              patched(h, 'good.vhd', 'table-past-eof.vhd', [(512 + 28, be32(100000))]),
              patched(h, 'good.vhd', 'bat-past-eof.vhd', [(1536 + 8, be32(0x100000))]),
              patched(h, 'good.vhd', 'bat-offset-huge.vhd', [(512 + 16, be64(0x8000000000000000))]),
              patched(h, 'good.vhd', 'hdr-offset-huge.vhd', [(16, be64(0xfffffffffffffe00))]),
              patched(h, 'good.vhd', 'truncated.vhd', [], truncate=size - 512 - 4096),
              patched(h, 'good.vhd', 'too-large.vhd', [(28, b'win '), (48, be64(0xff000001 * 512))]),
              patched(h, 'good.vhd', 'not-vhd.vhd', [(0, b'xonectix')], fix_footer=False, truncate=size - 512),
              patched(h, 'good.vhd', 'tiny.vhd', [(0, b'x')], fix_footer=False, truncate=300),
              patched(h, 'goodfix.vhd', 'fixbadsum.vhd', [(fix_uuid, h.flipped('goodfix.vhd', fix_uuid))],
                      fix_footer=False),
              patched(h, 'goodfix.vhd', 'fixdyn.vhd', [(fixsize - 512 + 60, be32(3))]),
              patched(h, 'good.vhd', 'differencing.vhd', [(60, be32(4))]),
              patched(h, 'good.vhd', 'type-fixed-at-0.vhd', [(60, be32(2))])]
    # Creator applications and their size rules: current size differs from C*H*S here.
    for app in (b'vpc ', b'win ', b'qem2', b'd2v ', b'd2v\0', b'CTXS', b'tap\0', b'tap ', b'qemu'):
        tag = app.decode().replace('\0', '0').strip()
        images.append(patched(h, 'good.vhd', f'app-{tag}.vhd', [(28, app), (48, be64(7 * MiB))]))
    images.append(patched(h, 'good.vhd', 'maxgeom.vhd', [(56, struct.pack('>HBB', 65535, 16, 255)),
                                                         (48, be64(7 * MiB))]))
    for image in images:
        for args in (['info', '-f', 'vpc', image], ['info', image], ['convert', '-f', 'vpc', '-O', 'raw', image,
                                                                     'out.raw'],
                     ['map', '--output=json', '-f', 'vpc', image]):
            results = []
            for tool in ('ours_img', 'ref_img'):
                results.append(h.run_text(tool, args))
                digest = None
                if h.exists('out.raw'):
                    digest = content_digest(h.path('out.raw'))
                    os.unlink(h.path('out.raw'))
                results[-1] += (digest,)
            h.same(f'bad: {args}', results[0], results[1])
        if image == 'afl5.img':
            expected = "qemu-img: Could not open 'afl5.img': Max Table Entries too large (1073741825)\n"
            h.check(h.run_text('ours_img', ['info', '-f', 'vpc', image]) == (1, '', expected),
                    'bad: afl5.img does not fail as it must')
    # Small blocks (512 B: no bitmap at all; 128 KiB: a one-sector bitmap), bitmaps that are
    # not all ones, and writes into blocks another tool allocated: both qemu-io leave the
    # same bytes. The 128-entry tables fit the one BAT sector QEMU wrote for 8 MiB.
    images.append(patched(h, 'good.vhd', 'blocksize-512.vhd', [(512 + 32, be32(512)), (512 + 28, be32(128)),
                                                               (28, b'win '), (48, be64(65536))]))
    # good.vhd's one block (BAT[1]) has its bitmap at 2048 and its data at 2560.
    images.append(patched(h, 'good.vhd', 'blocksize-128k.vhd', [(512 + 32, be32(128 * 1024)),
                                                                (512 + 28, be32(128)), (2048, b'\0' * 16)]))
    images.append(patched(h, 'good.vhd', 'bitmap-zero.vhd', [(2048, b'\0' * 512)]))
    # The last write of each goes into the block that was already allocated (BAT[1]).
    into_allocated = {'blocksize-512.vhd': '512', 'blocksize-128k.vhd': '130k'}
    for image in ('blocksize-512.vhd', 'blocksize-128k.vhd', 'bitmap-zero.vhd', 'good.vhd', 'differencing.vhd',
                  'type-fixed-at-0.vhd'):
        results = []
        for tool in ('ours_io', 'ref_io'):
            copy = f'{tool}-{image}'
            shutil.copyfile(h.path(image), h.path(copy))
            code, out, err = h.run_text(tool, ['-f', 'vpc', '-c', 'write -q -P 0x61 0 8k', '-c', 'write -q -P 0x62 40k 100',
                                               '-c', 'write -q -P 0x63 20k 4k', '-c', 'write -q -P 0x64 600 700',
                                               '-c', 'read -q -P 0x64 600 700', '-c', 'read -q -P 0x62 40k 100',
                                               '-c', f'write -q -P 0x65 {into_allocated.get(image, "2M")} 100', copy])
            results.append((code, out.replace(copy, 'X'), err.replace(copy, 'X'),
                            hashlib.sha256(h.read(copy)).hexdigest()))
        h.check(results[0] == results[1] and results[0][0] == 0,
                f'bad: writes into {image}: ours {results[0]} ref {results[1]}')
    # The runtime size rule override, through --image-opts.
    for calc in ('chs', 'current_size', 'bad'):
        for image in ('app-win.vhd', 'app-vpc.vhd', 'maxgeom.vhd'):
            args = ['info', '--output=json', '--image-opts', f'driver=vpc,force_size_calc={calc},file.filename={image}']
            h.same_tools('img', args, what=f'bad: {args}', text=True)
    # Writes that allocate into a table whose blocks were not all-ones bitmaps, and qemu-io
    # on the bad images.
    for image in ('badsum.vhd', 'truncated.vhd', 'blocksize-4k.vhd'):
        h.same_tools('io', ['-f', 'vpc', '-c', 'read 0 512', image], what=f'bad: qemu-io {image}', text=True)


TOOL_CASES = [
    ['measure', '-O', 'vpc', '--size', '1G'], ['measure', '-O', 'vpc', '-o', 'foo=bar', '--size', '1M'],
    ['measure', '-O', 'vpc', '-o', 'subformat=fixed', 'src.raw'], ['measure', '-f', 'vpc', 'tool.vhd'],
    ['resize', '-f', 'vpc', 'tool.vhd', '100M'], ['amend', '-f', 'vpc', '-o', 'subformat=fixed', 'tool.vhd'],
    ['check', 'tool.vhd'], ['check', '-f', 'vpc', '--output=json', 'tool.vhd'], ['snapshot', '-l', 'tool.vhd'],
    ['create', '-f', 'vpc', '-o', 'help'], ['create', '-f', 'vpc', '-o', 'help', 'n.vhd'],
    ['create', '-f', 'vpc', '-o', 'subformat=bad', 'n.vhd', '1M'], ['create', '-f', 'vpc', '-o', 'force_size=bad',
                                                                     'n.vhd', '1M'],
    ['create', '-f', 'vpc', '-o', 'subformat=fixed,preallocation=full', 'n.vhd', '1M'],
    ['create', '-f', 'vpc', 'n.vhd', '3T'], ['create', '-f', 'vpc', '-o', 'force_size=on', 'n.vhd', '2041G'],
    ['create', '-f', 'vpc', '-o', 'size=2M,subformat=dynamic', 'n.vhd'],
    ['convert', '-c', '-O', 'vpc', 'src.raw', 'n.vhd'], ['convert', '-O', 'vpc', '-o', 'subformat=bad', 'src.raw',
                                                         'n.vhd'],
    ['info', '--output=json', 'n.vhd'],
]


def tool_outputs(h):
    """Other qemu-img commands on vpc images: same output, same exit code."""
    for case in TOOL_CASES:
        results = []
        for tool in ('ours_img', 'ref_img'):
            h.must('ref_img', ['create', '-q', '-f', 'vpc', 'tool.vhd', '8M'])
            if h.exists('n.vhd'):
                os.unlink(h.path('n.vhd'))
            code, out, err = h.run_text(tool, case)
            left = None
            if h.exists('n.vhd'):
                left = masked_vhd(h, 'n.vhd') if os.path.getsize(h.path('n.vhd')) >= 512 else os.path.getsize(
                    h.path('n.vhd'))
            results.append((code, out.replace('\r', ''), err, left))
        h.same(f'tools: {case}', results[0], results[1])
    # qemu-io's reporting commands on a dynamic and a fixed image holding data.
    for opts in ([], ['-o', 'subformat=fixed']):
        h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', 'io.vhd'])
        for cmd in ('info', 'map', 'alloc 0 4M', 'alloc 6M 1M', 'length', 'read -v 65020 32', 'truncate 100M'):
            # The timing line is the one that differs from run to run.
            h.same_tools('io', ['-r', '-f', 'vpc', '-c', cmd, 'io.vhd'], what=f'tools: qemu-io {opts} {cmd}',
                         filt=lambda r: (r[0], re.sub(r' ops; .*', ' ops; X', r[1]), r[2]), text=True)


def main():
    h = Harness('vpc', sys.argv[1:], extra=('fixtures',))
    h.fixtures = h.args['fixtures']
    if not h.fixtures or not os.path.isfile(os.path.join(h.fixtures, 'afl5.img.bz2')):
        print(f'no fixtures in {h.fixtures}: third-party images left out')
        h.fixtures = None
    else:
        h.fixtures = os.path.abspath(h.fixtures)
    return h.main([('read_compat', read_compat), ('write_compat', write_compat), ('cross_write', cross_write),
                   ('bad_input', bad_input), ('tool_outputs', tool_outputs)], setup=[('make_source', make_source)])


if __name__ == '__main__':
    sys.exit(main())
