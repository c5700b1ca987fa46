#!/usr/bin/env python3
"""The vpc (VHD) driver against Debian's QEMU 7.2: reads of QEMU-made and third-party images,
writes that QEMU reads back and that are byte-identical to QEMU's own (outside the footer's
timestamp, checksum and UUID), writes crossing between the two tools, and bad images failing
with QEMU's exact messages.

usage: vpc_compare.py OUR_IMG OUR_IO REF_IMG REF_IO FIXTURE_DIR   (exit 77 = skipped)
"""
import bz2
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

MiB = 1024 * 1024
FAILURES = []

# The §9.1 write pattern scaled to an 80 MiB disk: 0x22 crosses a 64 KiB boundary, 0x33 a
# 1 MiB one, 0x44 is exactly one 2 MiB VHD block, 0x55 crosses a VHD block boundary, the
# zero write leaves a zero range inside data, 0x66 is the last sector.
SRC_SIZE = 80 * MiB
SRC_WRITES = ['write -q -P 0x11 0 4k', 'write -q -P 0x22 65024 1k', 'write -q -P 0x33 1048064 1k',
              'write -q -P 0x44 2097152 2M', f'write -q -P 0x55 {6 * MiB - 512} 1k',
              f'write -q -P 0x77 {40 * MiB} 1M', f'write -q -z {40 * MiB + 4096} 64k',
              f'write -q -P 0x66 {SRC_SIZE - 512} 512']

# Variable bytes of a VHD footer: timestamp, checksum and UUID.
FOOTER_MASK = list(range(24, 28)) + list(range(64, 84))


def fail(what):
    FAILURES.append(what)
    print('FAIL ' + what)


def run(args, cwd):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, timeout=120)
    return proc.returncode, proc.stdout.decode(errors='replace'), proc.stderr.decode(errors='replace')


def must(args, cwd):
    code, out, err = run(args, cwd)
    if code != 0:
        raise RuntimeError(f'{args} failed ({code}): {out}{err}')
    return out


def content_digest(path):
    """Hash of the non-zero 4 KiB blocks with their offsets, plus the size: equal for equal
    content whatever the allocation, and cheap for 127 GiB sparse files."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        digest.update(size.to_bytes(8, 'little'))
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
                block = f.read(min(1 << 20, end - at))
                for i in range(0, len(block), 4096):
                    part = block[i:i + 4096]
                    if part.strip(b'\0'):
                        digest.update((at + i).to_bytes(8, 'little') + part)
                at += len(block)
            offset = end
    return digest.hexdigest()


def masked_vhd(path):
    """The file's bytes with the variable footer bytes zeroed in the copy at offset 0 (if the
    image starts with one) and in the trailing footer."""
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    starts = [len(data) - 512]
    if data[:8] == b'conectix':
        starts.append(0)
    for start in starts:
        for i in FOOTER_MASK:
            data[start + i] = 0
    return bytes(data)


def info_json(tool, name, cwd, fmt=None):
    args = [tool, 'info', '--output=json'] + (['-f', fmt] if fmt else []) + [name]
    info = json.loads(must(args, cwd))
    info.pop('filename', None)
    info.pop('actual-size', None)
    return info


def make_source(t, cwd):
    must([t['ref_img'], 'create', '-q', '-f', 'raw', 'src.raw', str(SRC_SIZE)], cwd)
    args = [t['ref_io'], '-f', 'raw']
    for w in SRC_WRITES:
        args += ['-c', w]
    must(args + ['src.raw'], cwd)


VARIANTS = {
    'dyn': [],
    'fixed': ['-o', 'subformat=fixed'],
    'dyn-force': ['-o', 'force_size=on'],
    'fixed-force': ['-o', 'subformat=fixed,force_size=on'],
}


def read_compat(t, cwd):
    """Ours reads QEMU-made images (and third-party ones) exactly as QEMU does."""
    images = []
    for name, opts in VARIANTS.items():
        must([t['ref_img'], 'convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', f'ref-{name}.vhd'], cwd)
        images.append(f'ref-{name}.vhd')
    for size in ['1M', '64M', '127M', '1G', '32G', '127G', '1000']:
        must([t['ref_img'], 'create', '-q', '-f', 'vpc', f'e-{size}.vhd', size], cwd)
        images.append(f'e-{size}.vhd')
    must([t['ref_img'], 'create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'e-fixed-10M.vhd', '10M'], cwd)
    images.append('e-fixed-10M.vhd')
    for fixture in ('virtualpc-dynamic.vhd', 'hyperv2012r2-dynamic.vhd'):
        if not t['fixtures']:
            continue
        with bz2.open(os.path.join(t['fixtures'], fixture + '.bz2')) as src, open(os.path.join(cwd, fixture),
                                                                                   'wb') as dst:
            shutil.copyfileobj(src, dst)
        images.append(fixture)
    for image in images:
        digests = []
        for tool in ('our_img', 'ref_img'):
            out = f'{image}.{tool}.raw'
            must([t[tool], 'convert', '-f', 'vpc', '-O', 'raw', image, out], cwd)
            digests.append(content_digest(os.path.join(cwd, out)))
            os.unlink(os.path.join(cwd, out))
        if digests[0] != digests[1]:
            fail(f'read: {image} converts to different raw bytes')
        ours, ref = info_json(t['our_img'], image, cwd, 'vpc'), info_json(t['ref_img'], image, cwd, 'vpc')
        if ours != ref:
            fail(f'read: info of {image}: ours {ours} ref {ref}')
        for args in (['map', '--output=json', '-f', 'vpc', image], ['map', '-f', 'vpc', image],
                     ['info', image], ['compare', '-f', 'vpc', '-F', 'raw', image, 'src.raw']):
            if 'e-' in image and args[0] == 'compare':
                continue
            ours, ref = run([t['our_img']] + args, cwd), run([t['ref_img']] + args, cwd)
            if ours != ref:
                fail(f'read: {args}: ours {ours} ref {ref}')
    # Pattern reads through qemu-io, as §9.3 has them.
    reads = ['read -P 0x22 65024 1k', f'read -P 0x55 {6 * MiB - 512} 1k', f'read -P 0 {40 * MiB + 4096} 64k',
             f'read -P 0x66 {SRC_SIZE - 512} 512', 'read -P 0 5M 4k', 'read -P 0x44 3M 4k']
    for name in VARIANTS:
        outs = []
        for tool in ('our_io', 'ref_io'):
            args = [t[tool], '-r', '-f', 'vpc']
            for r in reads:
                args += ['-c', r]
            code, out, err = run(args + [f'ref-{name}.vhd'], cwd)
            outs.append((code, [line for line in out.splitlines() if 'ops;' not in line], err))
        if outs[0] != outs[1] or outs[0][0] != 0:
            fail(f'read: qemu-io reads of ref-{name}.vhd: ours {outs[0]} ref {outs[1]}')


def write_compat(t, cwd):
    """QEMU reads what ours writes, and ours writes the same bytes QEMU does."""
    for name, opts in VARIANTS.items():
        files = {}
        for tool in ('our_img', 'ref_img'):
            out = f'w-{name}-{tool}.vhd'
            files[tool] = out
            must([t[tool], 'convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', out], cwd)
        ours = files['our_img']
        code, out, err = run([t['ref_img'], 'check', '-f', 'vpc', ours], cwd)
        if code != 63 or err != 'qemu-img: This image format does not support checks\n':
            fail(f'write: check of {ours}: {code} {out} {err}')
        expected = run([t['ref_img'], 'compare', '-f', 'vpc', '-F', 'raw', files['ref_img'], 'src.raw'], cwd)
        got = run([t['ref_img'], 'compare', '-f', 'vpc', '-F', 'raw', ours, 'src.raw'], cwd)
        if got != expected or got[0] != 0:
            fail(f'write: compare {ours} src.raw: {got}, QEMU\'s own image gives {expected}')
        if 'force' not in name and 'Warning: Image size mismatch!' not in got[1]:
            fail(f'write: compare {ours}: CHS rounding should show a size mismatch: {got}')
        if info_json(t['ref_img'], ours, cwd, 'vpc') != info_json(t['ref_img'], files['ref_img'], cwd, 'vpc'):
            fail(f'write: info of {ours} differs from QEMU\'s image')
        if masked_vhd(os.path.join(cwd, ours)) != masked_vhd(os.path.join(cwd, files['ref_img'])):
            fail(f'write: {ours} is not byte-identical to QEMU\'s convert')
    # Workers writing out of order allocate blocks in another order: still a clean image.
    for name, opts in VARIANTS.items():
        ours = f'w-{name}-unordered.vhd'
        must([t['our_img'], 'convert', '-W', '-m', '16', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', ours], cwd)
        got = run([t['ref_img'], 'compare', '-f', 'vpc', '-F', 'raw', ours, 'src.raw'], cwd)
        if got[0] != 0:
            fail(f'write: compare {ours} src.raw: {got}')
    # Empty images and the Formatting lines of create.
    for size in ['0', '1000', '1M', '64M', '127M', '1G', '32G', '127G', '127.5G']:
        for opts in ([], ['-o', 'subformat=dynamic,force_size=off'], ['-o', 'force_size=yes']):
            results = {}
            for tool in ('our_img', 'ref_img'):
                name = f'c-{size}-{len(opts)}-{tool}.vhd'
                code, out, err = run([t[tool], 'create', '-f', 'vpc'] + opts + [name, size], cwd)
                results[tool] = (code, out.replace(name, 'X'), err.replace(name, 'X'), masked_vhd(
                    os.path.join(cwd, name)) if code == 0 else None)
            if results['our_img'] != results['ref_img']:
                fail(f'write: create -f vpc {opts} {size}: ours {results["our_img"][:3]} ref '
                     f'{results["ref_img"][:3]}, same bytes: {results["our_img"][3] == results["ref_img"][3]}')
    # The same write sequence by each tool's qemu-io into each tool's fresh image.
    script = ['write -P 0x11 2M 4k', 'write -P 0x22 0 1k', 'write -P 0x33 3M 2M', 'write -P 0x44 60M 100',
              'writev -P 0x55 100k 512 1k', 'write -z 3M 64k', 'aio_write -P 0x66 8M 64k', 'aio_flush',
              'discard 0 64k']
    for opts in ([], ['-o', 'subformat=fixed']):
        files = {}
        for tool, io in (('our_img', 'our_io'), ('ref_img', 'ref_io')):
            name = f'seq-{len(opts)}-{tool}.vhd'
            must([t[tool], 'create', '-q', '-f', 'vpc'] + opts + [name, '64M'], cwd)
            args = [t[io], '-f', 'vpc']
            for cmd in script:
                args += ['-c', cmd]
            must(args + [name], cwd)
            files[tool] = masked_vhd(os.path.join(cwd, name))
        if files['our_img'] != files['ref_img']:
            fail(f'write: the qemu-io sequence leaves different files ({opts})')


def cross_write(t, cwd):
    """QEMU writes into our image and ours into QEMU's; both tools read both back."""
    writes = [('0x5a', 1536 * 1024, 1 * MiB), ('0x5b', 30 * MiB + 7 * 512, 4096), ('0x5c', 0, 512)]
    for maker, writer in (('our_img', 'ref_io'), ('ref_img', 'our_io')):
        name = f'x-{maker}.vhd'
        must([t[maker], 'create', '-q', '-f', 'vpc', name, '32M'], cwd)
        args = [t[writer], '-f', 'vpc']
        for pattern, offset, length in writes:
            args += ['-c', f'write -q -P {pattern} {offset} {length}']
        must(args + [name], cwd)
        for reader in ('our_io', 'ref_io'):
            args = [t[reader], '-r', '-f', 'vpc']
            for pattern, offset, length in writes:
                args += ['-c', f'read -q -P {pattern} {offset} {length}']
            args += ['-c', f'read -q -P 0 {20 * MiB} 1M']
            code, out, err = run(args + [name], cwd)
            if code != 0 or out or err:
                fail(f'cross: {reader} reading {name} written by {writer}: {code} {out} {err}')
        code, _, _ = run([t['ref_img'], 'check', name], cwd)
        if code != 63:
            fail(f'cross: check of {name} gave {code}')


def patched(cwd, source, name, edits, fix_footer=True, truncate=None):
    """A copy of source with bytes replaced; footers' checksums made right again if asked."""
    with open(os.path.join(cwd, source), 'rb') as f:
        data = bytearray(f.read())
    for offset, value in edits:
        data[offset:offset + len(value)] = value
    if truncate is not None:
        data = data[:truncate]
    if fix_footer:
        for start in (0, len(data) - 512):
            if data[start:start + 8] == b'conectix':
                data[start + 64:start + 68] = b'\0\0\0\0'
                data[start + 64:start + 68] = struct.pack('>I', ~sum(data[start:start + 512]) & 0xffffffff)
    with open(os.path.join(cwd, name), 'wb') as f:
        f.write(data)
    return name


def flipped(cwd, source, offset):
    """The byte at offset inverted. A fixed replacement for a byte of the random UUID would
    equal it in 1 run out of 256 and leave the checksum right."""
    with open(os.path.join(cwd, source), 'rb') as f:
        f.seek(offset)
        return bytes([f.read(1)[0] ^ 0xff])


def bad_input(t, cwd):
    """Broken and unusual images: both tools say the same, in the same words, with the same code."""
    if t['fixtures']:
        with bz2.open(os.path.join(t['fixtures'], 'afl5.img.bz2')) as src:
            with open(os.path.join(cwd, 'afl5.img'), 'wb') as dst:
                shutil.copyfileobj(src, dst)
    must([t['ref_img'], 'create', '-q', '-f', 'vpc', 'good.vhd', '8M'], cwd)
    must([t['ref_io'], '-f', 'vpc', '-c', 'write -q -P 0x42 2M 4k', 'good.vhd'], cwd)
    must([t['ref_img'], 'create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'goodfix.vhd', '1M'], cwd)
    size = os.path.getsize(os.path.join(cwd, 'good.vhd'))
    fixsize = os.path.getsize(os.path.join(cwd, 'goodfix.vhd'))
    be32 = lambda v: struct.pack('>I', v)
    be64 = lambda v: struct.pack('>Q', v)
    images = (['afl5.img'] if t['fixtures'] else []) + ['good.vhd', 'goodfix.vhd',
              patched(cwd, 'good.vhd', 'badsum.vhd', [(70, flipped(cwd, 'good.vhd', 70))], fix_footer=False),
              patched(cwd, 'good.vhd', 'badmagic.vhd', [(512, b'cxsparsX')]),
              patched(cwd, 'good.vhd', 'blocksize-1000.vhd', [(512 + 32, be32(1000))]),
              patched(cwd, 'good.vhd', 'blocksize-256.vhd', [(512 + 32, be32(256))]),
              patched(cwd, 'good.vhd', 'blocksize-4k.vhd', [(512 + 32, be32(4096)), (512 + 28, be32(4096))]),
              patched(cwd, 'good.vhd', 'table-small.vhd', [(512 + 28, be32(2))]),
              patched(cwd, 'good.vhd', 'table-large.vhd', [(512 + 28, be32(0x20000000))]),
              patched(cwd, 'good.vhd', 'table-past-eof.vhd', [(512 + 28, be32(100000))]),
              patched(cwd, 'good.vhd', 'bat-past-eof.vhd', [(1536 + 8, be32(0x100000))]),
              patched(cwd, 'good.vhd', 'bat-offset-huge.vhd', [(512 + 16, be64(0x8000000000000000))]),
              patched(cwd, 'good.vhd', 'hdr-offset-huge.vhd', [(16, be64(0xfffffffffffffe00))]),
              patched(cwd, 'good.vhd', 'truncated.vhd', [], truncate=size - 512 - 4096),
              patched(cwd, 'good.vhd', 'too-large.vhd', [(28, b'win '), (48, be64(0xff000001 * 512))]),
              patched(cwd, 'good.vhd', 'not-vhd.vhd', [(0, b'xonectix')], fix_footer=False, truncate=size - 512),
              patched(cwd, 'good.vhd', 'tiny.vhd', [(0, b'x')], fix_footer=False, truncate=300),
              patched(cwd, 'goodfix.vhd', 'fixbadsum.vhd', [(fixsize - 512 + 70, flipped(cwd, 'goodfix.vhd', fixsize - 512 + 70))],
                      fix_footer=False),
              patched(cwd, 'goodfix.vhd', 'fixdyn.vhd', [(fixsize - 512 + 60, be32(3))]),
              patched(cwd, 'good.vhd', 'differencing.vhd', [(60, be32(4))]),
              patched(cwd, 'good.vhd', 'type-fixed-at-0.vhd', [(60, be32(2))])]
    # Creator applications and their size rules: current size differs from C*H*S here.
    for app in (b'vpc ', b'win ', b'qem2', b'd2v ', b'd2v\0', b'CTXS', b'tap\0', b'tap ', b'qemu'):
        tag = app.decode().replace('\0', '0').strip()
        images.append(patched(cwd, 'good.vhd', f'app-{tag}.vhd', [(28, app), (48, be64(7 * MiB))]))
    images.append(patched(cwd, 'good.vhd', 'maxgeom.vhd', [(56, struct.pack('>HBB', 65535, 16, 255)),
                                                           (48, be64(7 * MiB))]))
    for image in images:
        for args in (['info', '-f', 'vpc', image], ['info', image], ['convert', '-f', 'vpc', '-O', 'raw', image,
                                                                     'out.raw'],
                     ['map', '--output=json', '-f', 'vpc', image]):
            results = []
            for tool in ('our_img', 'ref_img'):
                results.append(run([t[tool]] + args, cwd))
                digest = None
                if os.path.exists(os.path.join(cwd, 'out.raw')):
                    digest = content_digest(os.path.join(cwd, 'out.raw'))
                    os.unlink(os.path.join(cwd, 'out.raw'))
                results[-1] += (digest,)
            if results[0] != results[1]:
                fail(f'bad: {args}: ours {results[0]} ref {results[1]}')
        if image == 'afl5.img':
            expected = "qemu-img: Could not open 'afl5.img': Max Table Entries too large (1073741825)\n"
            if run([t['our_img'], 'info', '-f', 'vpc', image], cwd) != (1, '', expected):
                fail('bad: afl5.img does not fail as it must')
    # Small blocks (512 B: no bitmap at all; 128 KiB: a one-sector bitmap), bitmaps that are
    # not all ones, and writes into blocks another tool allocated: both qemu-io leave the
    # same bytes. The 128-entry tables fit the one BAT sector QEMU wrote for 8 MiB.
    images.append(patched(cwd, 'good.vhd', 'blocksize-512.vhd', [(512 + 32, be32(512)), (512 + 28, be32(128)),
                                                                 (28, b'win '), (48, be64(65536))]))
    # good.vhd's one block (BAT[1]) has its bitmap at 2048 and its data at 2560.
    images.append(patched(cwd, 'good.vhd', 'blocksize-128k.vhd', [(512 + 32, be32(128 * 1024)),
                                                                  (512 + 28, be32(128)), (2048, b'\0' * 16)]))
    images.append(patched(cwd, 'good.vhd', 'bitmap-zero.vhd', [(2048, b'\0' * 512)]))
    # The last write of each goes into the block that was already allocated (BAT[1]).
    into_allocated = {'blocksize-512.vhd': '512', 'blocksize-128k.vhd': '130k'}
    for image in ('blocksize-512.vhd', 'blocksize-128k.vhd', 'bitmap-zero.vhd', 'good.vhd', 'differencing.vhd',
                  'type-fixed-at-0.vhd'):
        results = []
        for tool in ('our_io', 'ref_io'):
            copy = f'{tool}-{image}'
            shutil.copyfile(os.path.join(cwd, image), os.path.join(cwd, copy))
            code, out, err = run([t[tool], '-f', 'vpc', '-c', 'write -q -P 0x61 0 8k', '-c', 'write -q -P 0x62 40k 100',
                                  '-c', 'write -q -P 0x63 20k 4k', '-c', 'write -q -P 0x64 600 700',
                                  '-c', 'read -q -P 0x64 600 700', '-c', 'read -q -P 0x62 40k 100',
                                  '-c', f'write -q -P 0x65 {into_allocated.get(image, "2M")} 100', copy], cwd)
            with open(os.path.join(cwd, copy), 'rb') as f:
                results.append((code, out.replace(copy, 'X'), err.replace(copy, 'X'), hashlib.sha256(f.read()).hexdigest()))
        if results[0] != results[1] or results[0][0] != 0:
            fail(f'bad: writes into {image}: ours {results[0]} ref {results[1]}')
    # The runtime size rule override, through --image-opts.
    for calc in ('chs', 'current_size', 'bad'):
        for image in ('app-win.vhd', 'app-vpc.vhd', 'maxgeom.vhd'):
            args = ['info', '--output=json', '--image-opts', f'driver=vpc,force_size_calc={calc},file.filename={image}']
            ours, ref = run([t['our_img']] + args, cwd), run([t['ref_img']] + args, cwd)
            if ours != ref:
                fail(f'bad: {args}: ours {ours} ref {ref}')
    # Writes that allocate into a table whose blocks were not all-ones bitmaps, and qemu-io
    # on the bad images.
    for image in ('badsum.vhd', 'truncated.vhd', 'blocksize-4k.vhd'):
        ours = run([t['our_io'], '-f', 'vpc', '-c', 'read 0 512', image], cwd)
        ref = run([t['ref_io'], '-f', 'vpc', '-c', 'read 0 512', image], cwd)
        if ours != ref:
            fail(f'bad: qemu-io {image}: ours {ours} ref {ref}')


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


def tool_outputs(t, cwd):
    """Other qemu-img commands on vpc images: same output, same exit code."""
    for case in TOOL_CASES:
        results = []
        for tool in ('our_img', 'ref_img'):
            must([t['ref_img'], 'create', '-q', '-f', 'vpc', 'tool.vhd', '8M'], cwd)
            if os.path.exists(os.path.join(cwd, 'n.vhd')):
                os.unlink(os.path.join(cwd, 'n.vhd'))
            code, out, err = run([t[tool]] + case, cwd)
            made = os.path.join(cwd, 'n.vhd')
            left = None
            if os.path.exists(made):
                left = masked_vhd(made) if os.path.getsize(made) >= 512 else os.path.getsize(made)
            results.append((code, out.replace('\r', ''), err, left))
        if results[0] != results[1]:
            fail(f'tools: {case}: ours {results[0][:3]} ref {results[1][:3]}')
    # qemu-io's reporting commands on a dynamic and a fixed image holding data.
    for opts in ([], ['-o', 'subformat=fixed']):
        must([t['ref_img'], 'convert', '-f', 'raw', '-O', 'vpc'] + opts + ['src.raw', 'io.vhd'], cwd)
        for cmd in ('info', 'map', 'alloc 0 4M', 'alloc 6M 1M', 'length', 'read -v 65020 32', 'truncate 100M'):
            # The timing line is the one that differs from run to run.
            untimed = lambda r: (r[0], re.sub(r' ops; .*', ' ops; X', r[1]), r[2])
            ours = untimed(run([t['our_io'], '-r', '-f', 'vpc', '-c', cmd, 'io.vhd'], cwd))
            ref = untimed(run([t['ref_io'], '-r', '-f', 'vpc', '-c', cmd, 'io.vhd'], cwd))
            if ours != ref:
                fail(f'tools: qemu-io {opts} {cmd}: ours {ours} ref {ref}')


def main():
    t = dict(zip(['our_img', 'our_io', 'ref_img', 'ref_io', 'fixtures'], sys.argv[1:6]))
    if not os.access(t['ref_img'], os.X_OK) or not os.access(t['ref_io'], os.X_OK):
        print(f'{t["ref_img"]} or {t["ref_io"]} not installed, skipping')
        return 77
    t['our_img'], t['our_io'] = os.path.abspath(t['our_img']), os.path.abspath(t['our_io'])
    if not os.path.isfile(os.path.join(t['fixtures'], 'afl5.img.bz2')):
        print(f'no fixtures in {t["fixtures"]}: third-party images left out')
        t['fixtures'] = None
    else:
        t['fixtures'] = os.path.abspath(t['fixtures'])
    only = os.environ.get('VPC_CASE')
    with tempfile.TemporaryDirectory(dir='/var/tmp') as cwd:
        make_source(t, cwd)
        for step in (read_compat, write_compat, cross_write, bad_input, tool_outputs):
            if only and step.__name__ != only:
                continue
            print(f'== {step.__name__}')
            step(t, cwd)
    print(f'{len(FAILURES)} failures')
    return 1 if FAILURES else 0


if __name__ == '__main__':
    sys.exit(main())
