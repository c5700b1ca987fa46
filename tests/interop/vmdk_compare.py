#!/usr/bin/env python3
"""The vmdk driver against Debian's QEMU 7.2 (issue 11): images ours creates in every
subformat and with every create option are byte-identical to QEMU's and pass its check and
compare; QEMU-made images (and VMware's iotest-version3.vmdk) read the same through ours;
writes by either tool read back in the other; info/map/check/measure/amend/resize print the
same bytes; broken images fail with QEMU's words and exit codes, never a crash or a hang.

Each tool works in its own subdirectory (ours/, ref/) under the same file names, so names
in outputs and in descriptors need no rewriting. The CID is random in every create and
every first write after an open: it lives in the descriptor text (`CID=` and `parentCID=`
lines, lower-case hex without padding), embedded in sectors 1..20 of a monolithicSparse or
streamOptimized file or as the separate descriptor file of the other subformats. vmdk_view
replaces both values by X in both files before comparing; the embedded area keeps its
length, a descriptor file is compared as text (its length changes with the number of
digits of the CID). Everything else, header, grain directories and tables, zlib streams,
must be equal byte for byte.

usage: vmdk_compare.py OUR_IMG OUR_IO REF_IMG REF_IO FIXTURE_DIR   (exit 77 = skipped)
"""
import bz2
import os
import re
import shutil
import struct
import sys

from image_harness import MiB, Harness, HarnessError, content_digest, filter_io, io_commands, le32, le64

GiB = 1024 * MiB
GRAIN = 64 * 1024
# Two extents when split (the 0x55 write crosses the 2 GiB boundary), small enough to be quick.
SRC_SIZE = 2 * GiB + 64 * MiB
SRC_WRITES = ['write -q -P 0x11 0 4k', 'write -q -P 0x22 65024 1k', 'write -q -P 0x33 1048064 1k',
              'write -q -P 0x44 2097152 2M', f'write -q -P 0x55 {2 * GiB - 512} 1k', 'write -q -P 0x77 1G 1M',
              f'write -q -z {GiB + 4096} 64k', f'write -q -P 0x66 {SRC_SIZE - 512} 512']
SRC_READS = ['read -P 0x11 0 4k', 'read -P 0x22 65024 1k', 'read -P 0x33 1048064 1k', 'read -P 0x44 2M 2M',
             f'read -P 0x55 {2 * GiB - 512} 1k', 'read -P 0x77 1G 4k', f'read -P 0 {GiB + 4096} 64k',
             f'read -P 0x77 {GiB + 4096 + GRAIN} 4k', f'read -P 0x66 {SRC_SIZE - 512} 512', 'read -P 0 1500M 64k']
TIMEOUT = 30
TOOLS = ('ours', 'ref')

SUBFORMATS = {
    'ms': 'monolithicSparse', 'mf': 'monolithicFlat', 'ts': 'twoGbMaxExtentSparse', 'tf': 'twoGbMaxExtentFlat',
    'so': 'streamOptimized',
}
FLAT = ('mf', 'tf')

CID_LINE = re.compile(rb'(parentCID|CID)=[0-9a-fA-F]+')


def normalise_descriptor(text):
    return CID_LINE.sub(rb'\1=X', text)


def descriptor_area(area):
    """The descriptor text of an area, CIDs masked. The text ends at the first NUL: when QEMU
    rewrites the CID with fewer hex digits it moves the text up in its buffer and writes the
    whole buffer back, so the last bytes of the old text stay behind the new NUL (residue
    that depends on two random numbers). Anything longer than such a residue still counts."""
    text, _, rest = area.partition(b'\0')
    residue = rest.strip(b'\0')
    return normalise_descriptor(text), residue if len(residue) > 8 else b''


def vmdk_view(h, path):
    """What must be equal between ours and QEMU's copy of one file: see the module comment."""
    with open(h.path(path), 'rb') as f:
        head = f.read(512)
        size = os.fstat(f.fileno()).st_size
    if head[:4] == b'KDMV':
        data = h.read(path)
        desc_start, desc_len = struct.unpack_from('<QQ', data, 28)
        # QEMU reads and rewrites at most 20 sectors of descriptor whatever the header's size
        # says; past them is ordinary file data (a hostile size would otherwise sweep the
        # random CID residue into the compared bytes).
        start, stop = desc_start * 512, (desc_start + min(desc_len, 20)) * 512
        area = data[start:stop]
        # QEMU rewrites the CID at 0x200 whatever the header's descriptor offset says.
        if start >= 0x2a00:
            head = (data[:512], descriptor_area(data[512:0x2a00]), data[0x2a00:start])
        else:
            head = normalise_descriptor(data[:start])
        tail = data[stop:]
        if stop < 0x2a00:
            tail = normalise_descriptor(tail[:0x2a00 - stop]) + tail[0x2a00 - stop:]
        return ('sparse', size, head, stop - start, descriptor_area(area),
                tail)
    if size < 1 * MiB and (b'createType' in head or b'# Disk DescriptorFile' in head):
        data = h.read(path)
        padded = b'\0' in data
        return ('descriptor', descriptor_area(data), 'padded' if padded else 'unpadded',
                size % 512 == 0 if padded else None)
    return ('data', size, content_digest(h.path(path)))


def descriptor_text(h, path):
    data = h.read(path)
    if data[:4] == b'KDMV':
        start = struct.unpack_from('<Q', data, 28)[0] * 512
        data = data[start:start + 20 * 512]
    return data.partition(b'\0')[0].decode(errors='replace')


def cid_of(text, name):
    m = re.search(rf'(?m)^{name}=([0-9a-fA-F]+)', text)
    return m.group(1).lower() if m else None


def files_of(h, subdir):
    return sorted(os.listdir(h.path(subdir)))


def fresh_dirs(h, case):
    """ours-CASE and ref-CASE, empty: each tool's own directory for one case."""
    dirs = {}
    for tag in TOOLS:
        d = f'{tag}-{case}'
        shutil.rmtree(h.path(d), ignore_errors=True)
        os.mkdir(h.path(d))
        dirs[tag] = d
    return dirs


def tree_view(h, subdir):
    return {name: vmdk_view(h, os.path.join(subdir, name)) for name in files_of(h, subdir)}


def untimed(result):
    code, out, err = result
    return code, filter_io(out), err


def mask_info(text):
    """Variable fields of info (both formats): the CIDs and the allocation on disk."""
    text = re.sub(r'(cid|parent-cid|"cid"|"parent-cid"): \d+', r'\1: X', text)
    text = re.sub(r'disk size: .*', 'disk size: X', text)
    return re.sub(r'"actual-size": \d+', '"actual-size": X', text)


def make_source(h):
    h.must('ref_img', ['create', '-q', '-f', 'raw', 'src.raw', str(SRC_SIZE)])
    h.must('ref_io', ['-f', 'raw'] + io_commands(SRC_WRITES) + ['src.raw'])


# -- 1. images ours creates

CREATE_CASES = [
    ('ms', [], '64M'), ('ms-odd', [], '100000'), ('ms-5g', [], '5G'), ('ms-0', [], '0'),
    ('mf', ['-o', 'subformat=monolithicFlat'], '64M'), ('ts', ['-o', 'subformat=twoGbMaxExtentSparse'], '5G'),
    ('ts-exact', ['-o', 'subformat=twoGbMaxExtentSparse'], '4G'),
    ('tf', ['-o', 'subformat=twoGbMaxExtentFlat'], '5G'), ('so', ['-o', 'subformat=streamOptimized'], '64M'),
    ('zg', ['-o', 'zeroed_grain=on'], '64M'), ('ts-zg', ['-o', 'subformat=twoGbMaxExtentSparse,zeroed_grain=on'], '3G'),
    ('so-zg', ['-o', 'subformat=streamOptimized,zeroed_grain=on'], '64M'),
    ('c6', ['-o', 'compat6=on'], '64M'), ('hw', ['-o', 'hwversion=7'], '64M'),
    ('lsi', ['-o', 'adapter_type=lsilogic'], '64M'), ('bus', ['-o', 'adapter_type=buslogic'], '64M'),
    ('legacy', ['-o', 'adapter_type=legacyESX'], '64M'), ('tools', ['-o', 'toolsversion=12345'], '64M'),
    ('combo', ['-o', 'subformat=monolithicFlat,compat6=on,adapter_type=lsilogic,toolsversion=9'], '3G'),
    # Refused option combinations: same error, no file left behind by either.
    ('e-c6hw', ['-o', 'compat6=on,hwversion=6'], '64M'),
    ('e-flatzg', ['-o', 'subformat=monolithicFlat,zeroed_grain=on'], '64M'),
    ('e-sub', ['-o', 'subformat=custom'], '64M'), ('e-adapter', ['-o', 'adapter_type=scsi'], '64M'),
    ('e-size', [], '-1'), ('e-zgval', ['-o', 'zeroed_grain=maybe'], '64M'),
]
BACKING_CASES = [
    ('b-ms', []), ('b-ts', ['-o', 'subformat=twoGbMaxExtentSparse']), ('b-so', ['-o', 'subformat=streamOptimized']),
    ('b-zg', ['-o', 'zeroed_grain=on']), ('b-flat', ['-o', 'subformat=monolithicFlat']), ('b-raw', ['-F', 'raw']),
    ('b-nofmt', None), ('b-missing', ['-F', 'vmdk', '-b', 'nothere.vmdk']),
    ('b-bigger', ['-F', 'vmdk', '-b', 'base.vmdk', '-o', 'size=128M']),
]


def create_compat(h):
    """Ours creates the same files as QEMU, which QEMU checks clean."""
    for case, opts, size in CREATE_CASES:
        dirs = fresh_dirs(h, f'c-{case}')
        results = {}
        for tag in TOOLS:
            code, out, err = h.run_text(f'{tag}_img', ['create', '-f', 'vmdk'] + opts + ['d.vmdk', size], dirs[tag])
            results[tag] = (code, out, err, tree_view(h, dirs[tag]))
        h.same(f'create {opts} {size}', results['ours'], results['ref'])
        if results['ours'][0] == 0:
            check_by_qemu(h, dirs['ours'], 'd.vmdk', f'create {case}', dirs['ref'])
    for case, opts in BACKING_CASES:
        dirs = fresh_dirs(h, f'c-{case}')
        results = {}
        for tag in TOOLS:
            h.must(f'{tag}_img', ['create', '-q', '-f', 'vmdk', 'base.vmdk', '64M'], dirs[tag])
            h.must(f'{tag}_io', ['-f', 'vmdk', '-c', 'write -q -P 0xb0 1M 128k', 'base.vmdk'], dirs[tag])
            args = ['create', '-f', 'vmdk']
            if opts is None:
                args += ['-b', 'base.vmdk']
            elif '-b' in opts:
                args += opts
            else:
                args += ['-b', 'base.vmdk'] + (opts if '-F' in opts else ['-F', 'vmdk'] + opts)
            code, out, err = h.run_text(f'{tag}_img', args + ['ov.vmdk'], dirs[tag])
            results[tag] = (code, out, err, tree_view(h, dirs[tag]))
            if code == 0:
                # The overlay's parentCID is the base's CID.
                ov, base = descriptor_text(h, f'{dirs[tag]}/ov.vmdk'), descriptor_text(h, f'{dirs[tag]}/base.vmdk')
                h.check(cid_of(ov, 'parentCID') == cid_of(base, 'CID'),
                        f'create {case} by {tag}: parentCID {cid_of(ov, "parentCID")} is not the base CID '
                        f'{cid_of(base, "CID")}')
        h.same(f'create backing {case} {opts}', results['ours'], results['ref'])
        if results['ours'][0] == 0:
            check_by_qemu(h, dirs['ours'], 'ov.vmdk', f'create {case}')
            reads = ['-c', 'read -P 0xb0 1M 128k', '-c', 'read -P 0 0 1M']
            code, out, err = h.run_text('ref_io', ['-r'] + reads + ['ov.vmdk'], dirs['ours'])
            h.check(code == 0 and 'verification failed' not in out,
                    f'create {case}: QEMU does not read the base through our overlay: {code} {out} {err}')


def check_by_qemu(h, subdir, name, what, ref_subdir=None):
    """QEMU's check of our image: clean, or (given QEMU's own image of the same case in
    ref_subdir) whatever QEMU says of its own image (a 0-byte monolithicSparse does not even
    open in 7.2: capacity 0 makes it a descriptor container)."""
    got = h.run_text('ref_img', ['check', name], subdir)
    expected = (0, 'No errors were found on the image.\n', '')
    if ref_subdir is not None:
        expected = h.run_text('ref_img', ['check', name], ref_subdir)
    h.check(got == expected, f'{what}: QEMU\'s check of our {name}: {got}, expected {expected}')


CONVERT_CASES = [
    ('ms', []), ('mf', ['-o', 'subformat=monolithicFlat']), ('ts', ['-o', 'subformat=twoGbMaxExtentSparse']),
    ('tf', ['-o', 'subformat=twoGbMaxExtentFlat']), ('so', ['-o', 'subformat=streamOptimized']),
    ('so-c', ['-c', '-o', 'subformat=streamOptimized']), ('ms-c', ['-c']), ('zg', ['-o', 'zeroed_grain=on']),
    ('c6', ['-o', 'compat6=on,adapter_type=lsilogic']),
    ('ts-zg', ['-o', 'subformat=twoGbMaxExtentSparse,zeroed_grain=on']),
]


def convert_compat(h):
    """convert from raw by ours writes QEMU's bytes; QEMU's check and compare accept it."""
    for case, opts in CONVERT_CASES:
        dirs = fresh_dirs(h, f'v-{case}')
        results = {}
        for tag in TOOLS:
            code, out, err = h.run_text(f'{tag}_img', ['convert', '-f', 'raw', '-O', 'vmdk'] + opts +
                                        ['../src.raw', 'd.vmdk'], dirs[tag])
            results[tag] = (code, out, err, tree_view(h, dirs[tag]))
        h.same(f'convert {opts}', results['ours'], results['ref'])
        if results['ours'][0] != 0:
            continue
        check_by_qemu(h, dirs['ours'], 'd.vmdk', f'convert {case}')
        for args in (['compare', '-f', 'vmdk', '-F', 'raw', 'd.vmdk', '../src.raw'],
                     ['compare', '-f', 'raw', '-F', 'vmdk', '../src.raw', 'd.vmdk']):
            got = h.run_text('ref_img', args, dirs['ours'])
            h.check(got == (0, 'Images are identical.\n', ''), f'convert {case}: QEMU\'s {args}: {got}')


# -- 2. images QEMU creates, read by ours

def make_ref_images(h):
    """QEMU's images of every kind in refimg/: converted from src.raw, and a backing chain
    whose overlay QEMU wrote into."""
    os.mkdir(h.path('refimg'))
    for case, opts in CONVERT_CASES:
        h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vmdk'] + opts + ['../src.raw', f'{case}.vmdk'], 'refimg')
    for case, opts in (('ov', []), ('ov-ts', ['-o', 'subformat=twoGbMaxExtentSparse']),
                       ('ov-so', ['-o', 'subformat=streamOptimized'])):
        base = 'ts.vmdk' if case == 'ov-ts' else 'ms.vmdk'
        h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', base, '-F', 'vmdk'] + opts + [f'{case}.vmdk'], 'refimg')
        writes = ['write -q -P 0xa1 64k 64k', 'write -q -P 0xa2 1M 100', f'write -q -P 0xa3 {2 * GiB - 4096} 8k']
        if case == 'ov-so':
            writes = ['write -q -P 0xa1 64k 64k', f'write -q -P 0xa3 {2 * GiB - GRAIN} 128k']
        h.must('ref_io', ['-f', 'vmdk'] + io_commands(writes) + [f'{case}.vmdk'], 'refimg')
    # A chain of three: ov2 over ov over ms.
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-b', 'ov.vmdk', '-F', 'vmdk', 'ov2.vmdk'], 'refimg')
    h.must('ref_io', ['-f', 'vmdk', '-c', 'write -q -P 0xa4 2M 4k', 'ov2.vmdk'], 'refimg')


OVERLAY_READS = {
    'ov': ['read -P 0x11 0 4k', 'read -P 0xa1 64k 64k', 'read -P 0xa2 1M 100', 'read -P 0x33 1048676 412',
           f'read -P 0xa3 {2 * GiB - 4096} 8k', 'read -P 0x44 2M 2M', f'read -P 0x66 {SRC_SIZE - 512} 512'],
    'ov-so': ['read -P 0x11 0 4k', 'read -P 0xa1 64k 64k', f'read -P 0xa3 {2 * GiB - GRAIN} 128k',
              'read -P 0x44 2M 2M'],
    'ov2': ['read -P 0xa4 2M 4k', 'read -P 0xa1 64k 64k', 'read -P 0x44 3M 1M', 'read -P 0x11 0 4k'],
}
OVERLAY_READS['ov-ts'] = OVERLAY_READS['ov']


def read_compat(h):
    """Ours reads every QEMU-made image as QEMU does."""
    for case, _ in CONVERT_CASES:
        image = f'{case}.vmdk'
        digests = []
        for tool in ('ours_img', 'ref_img'):
            out = f'{case}.{tool}.raw'
            code, o, e = h.run_text(tool, ['convert', '-O', 'raw', image, f'../{out}'], 'refimg')
            digests.append(content_digest(h.path(out)) if code == 0 else (code, o, e))
            if h.exists(out):
                os.unlink(h.path(out))
        h.check(digests[0] == digests[1] == content_digest(h.path('src.raw')),
                f'read: {image} converts to other raw bytes: ours {digests[0]} ref {digests[1]}')
        for args in (['compare', image, '../src.raw'], ['compare', '../src.raw', image],
                     ['compare', '-f', 'vmdk', '-F', 'raw', '-s', image, '../src.raw']):
            h.same(f'read: {args}', h.run_text('ours_img', args, 'refimg'), h.run_text('ref_img', args, 'refimg'))
        results = [untimed(h.run_text(t, ['-r'] + io_commands(SRC_READS) + [image], 'refimg'))
                   for t in ('ours_io', 'ref_io')]
        h.same(f'read: qemu-io pattern reads of {image}', results[0], results[1])
        h.check(results[1][0] == 0 and 'failed' not in results[1][1], f'read: QEMU itself fails {image}: {results[1]}')
    for case, reads in OVERLAY_READS.items():
        image = f'{case}.vmdk'
        results = [untimed(h.run_text(t, ['-r'] + io_commands(reads) + [image], 'refimg'))
                   for t in ('ours_io', 'ref_io')]
        h.same(f'read: qemu-io reads through the backing chain of {image}', results[0], results[1])
        h.check(results[1][0] == 0 and 'failed' not in results[1][1], f'read: QEMU itself fails {image}: {results[1]}')
        digests = []
        for tool in ('ours_img', 'ref_img'):
            code, o, e = h.run_text(tool, ['convert', '-O', 'raw', image, '../chain.raw'], 'refimg')
            digests.append(content_digest(h.path('chain.raw')) if code == 0 else (code, o, e))
            os.unlink(h.path('chain.raw')) if h.exists('chain.raw') else None
        h.check(digests[0] == digests[1], f'read: {image} with its backing converts differently: {digests}')
        for args in (['compare', image, '../src.raw'], ['compare', '-F', 'vmdk', 'ms.vmdk', image]):
            h.same(f'read: {args}', h.run_text('ours_img', args, 'refimg'), h.run_text('ref_img', args, 'refimg'))


# -- 3. writes crossing between the tools

# Grain-aligned, unaligned, crossing grains and (on 2 GiB + 64 MiB images) the extent
# boundary, zeroes inside data and on whole grains.
CROSS_WRITES = ['write -q -P 0x5a 0 64k', 'write -q -P 0x5b 70000 1000', 'write -q -P 0x5c 130560 1024',
                'write -q -P 0x5d 1M 192k', f'write -q -P 0x5e {2 * GiB - 1536} 3k', 'write -q -z 1M 64k',
                'write -q -z 1200000 1000', f'write -q -P 0x5f {2 * GiB + 32 * MiB} 512']
CROSS_READS = ['read -q -P 0x5a 0 64k', 'read -q -P 0x5b 70000 1000', 'read -q -P 0 71000 59560',
               'read -q -P 0x5c 130560 1024', 'read -q -P 0 1M 64k', 'read -q -P 0x5d 1114112 85888',
               'read -q -P 0 1200000 1000', 'read -q -P 0x5d 1201000 44184', f'read -q -P 0x5e {2 * GiB - 1536} 3k',
               f'read -q -P 0x5f {2 * GiB + 32 * MiB} 512', 'read -q -P 0 1G 64k']
STREAM_WRITES = ['write -q -P 0x5a 0 64k', 'write -q -P 0x5b 128k 128k', f'write -q -P 0x5f {2 * GiB} 64k']
STREAM_READS = ['read -q -P 0x5a 0 64k', 'read -q -P 0 64k 64k', 'read -q -P 0x5b 128k 128k',
                f'read -q -P 0x5f {2 * GiB} 64k']


def cross_write(h):
    """QEMU writes into images ours made and ours into QEMU's; both read both back; the same
    write script through each qemu-io leaves the same bytes."""
    size = str(2 * GiB + 64 * MiB)
    for case, sub in SUBFORMATS.items():
        for extra in ([], ['zeroed_grain=on']) if case in ('ms', 'ts') else ([],):
            opts = ['-o', ','.join([f'subformat={sub}'] + extra)]
            label = case + ('-zg' if extra else '')
            writes, reads = (STREAM_WRITES, STREAM_READS) if case == 'so' else (CROSS_WRITES, CROSS_READS)
            for maker, writer in (('ours', 'ref'), ('ref', 'ours')):
                d = f'x-{label}-{maker}'
                shutil.rmtree(h.path(d), ignore_errors=True)
                os.mkdir(h.path(d))
                h.must(f'{maker}_img', ['create', '-q', '-f', 'vmdk'] + opts + ['d.vmdk', size], d)
                got = h.run_text(f'{writer}_io', ['-f', 'vmdk'] + io_commands(writes) + ['d.vmdk'], d)
                h.check(got == (0, '', ''), f'cross {label}: {writer} writing into {maker}\'s image: {got}')
                for reader in TOOLS:
                    got = h.run_text(f'{reader}_io', ['-r'] + io_commands(reads) + ['d.vmdk'], d)
                    h.check(got == (0, '', ''),
                            f'cross {label}: {reader} reading {maker}\'s image written by {writer}: {got}')
                if case not in FLAT:
                    check_by_qemu(h, d, 'd.vmdk', f'cross {label} made by {maker}, written by {writer}')
            # One empty QEMU image, the same script through both qemu-io: the same files.
            dirs = fresh_dirs(h, f'w-{label}')
            results = {}
            for tag in TOOLS:
                h.must('ref_img', ['create', '-q', '-f', 'vmdk'] + opts + ['d.vmdk', size], dirs[tag])
            for tag in TOOLS:
                got = h.run_text(f'{tag}_io', ['-f', 'vmdk'] + io_commands(writes) + ['d.vmdk'], dirs[tag])
                results[tag] = got + (tree_view(h, dirs[tag]),)
            h.same(f'write {label}: the same qemu-io script leaves the same files', results['ours'], results['ref'])
    # streamOptimized: only whole-grain appends (the last grain of the disk may be short).
    for case, cmds in (('partial', ['write -P 1 0 512']), ('unaligned', ['write -P 1 512 64k']),
                       ('rewrite', ['write -P 1 0 64k', 'write -P 2 0 64k']),
                       ('below', ['write -P 1 128k 64k', 'write -P 2 0 64k']), ('zero', ['write -z 0 64k']),
                       ('zero-partial', ['write -z 0 4k']), ('tail', ['write -P 3 65472k 64k', 'read -P 3 65472k 64k']),
                       ('short-tail', ['write -P 3 66000000 1108864']), ('discard', ['discard 0 64k']),
                       ('compressed', ['write -c -P 4 0 64k', 'read -P 4 0 64k'])):
        dirs = fresh_dirs(h, f's-{case}')
        results = {}
        for tag in TOOLS:
            h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'd.vmdk', '66000000' if
                               case == 'short-tail' else '64M'], dirs[tag])
            results[tag] = untimed(h.run_text(f'{tag}_io', ['-f', 'vmdk'] + io_commands(cmds) + ['d.vmdk'], dirs[tag]))
            results[tag] += (tree_view(h, dirs[tag]),)
        if case in ('partial', 'unaligned', 'zero-partial'):
            # Known difference: QEMU 7.2 grows the file by a grain for a write it then refuses;
            # ours refuses with the same messages and leaves the file as it was.
            h.same(f'stream {case}: {cmds} (messages)', results['ours'][:-1], results['ref'][:-1])
            h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'fresh.vmdk', '64M'],
                   dirs['ours'])
            fresh = h.read(f"{dirs['ours']}/fresh.vmdk")
            os.unlink(h.path(f"{dirs['ours']}/fresh.vmdk"))
            mine = h.read(f"{dirs['ours']}/d.vmdk")
            h.check(len(mine) == len(fresh) and mine[:512] == fresh[:512],
                    f'stream {case}: ours changed the image on a refused write')
            continue
        h.same(f'stream {case}: {cmds}', results['ours'], results['ref'])


# -- 4. tool outputs

def tool_outputs(h):
    """info, map, check, measure, amend, resize, on QEMU's images through both tools: the
    same bytes (the same file, so nothing to mask); and on each tool's own image, equal
    after masking the CIDs and the disk size, which is then compared on its own."""
    images = [f'{case}.vmdk' for case, _ in CONVERT_CASES] + ['ov.vmdk', 'ov-ts.vmdk', 'ov-so.vmdk', 'ov2.vmdk']
    # ext4 allocates a freshly written file's blocks (and its extent tree) at writeback, so
    # its st_blocks, info's actual-size, can grow between the two tools' runs: settle it.
    os.sync()
    for image in images:
        for args in (['info', image], ['info', '--output=json', image], ['info', '-f', 'vmdk', image],
                     ['info', '--backing-chain', image], ['info', '--backing-chain', '--output=json', image],
                     ['map', image], ['map', '--output=json', image], ['check', image],
                     ['check', '--output=json', image], ['check', '-r', 'all', image], ['check', '-r', 'leaks', image],
                     ['measure', image], ['measure', '-O', 'vmdk', image], ['snapshot', '-l', image]):
            h.same(f'tools: {args}', h.run_text('ours_img', args, 'refimg'), h.run_text('ref_img', args, 'refimg'))
        for cmd in ('info', 'map', 'alloc 0 4M', f'alloc {2 * GiB - 64 * 1024} 1M', 'length'):
            h.same(f'tools: qemu-io {cmd} {image}', untimed(h.run_text('ours_io', ['-r', '-c', cmd, image], 'refimg')),
                   untimed(h.run_text('ref_io', ['-r', '-c', cmd, image], 'refimg')))
    # Extents given as options (--image-opts): 7.2 takes a node reference only; a file dict
    # with a filename is refused (bdrv_fill_options), a missing extent file named in one too.
    for opts in ('driver=vmdk,file.filename=ts.vmdk,extents.0.driver=file,extents.0.filename=ts-s001.vmdk',
                 'driver=vmdk,file.filename=ts.vmdk,extents.1.driver=file',
                 'driver=vmdk,file.filename=ts.vmdk,extents.0.driver=file,extents.0.filename=nothere.vmdk'):
        for args in (['info', '--image-opts', opts], ['-r', '-c', 'read -P 0x55 2147483136 1k', '--image-opts', opts]):
            kind = 'img' if args[0] == 'info' else 'io'
            h.same(f'tools: {args}', untimed(h.run_text(f'ours_{kind}', args, 'refimg')),
                   untimed(h.run_text(f'ref_{kind}', args, 'refimg')))
    # Commands 7.2's vmdk refuses, on copies (each may change the file if it does not refuse).
    for args in (['resize', 'x.vmdk', '128M'], ['resize', '-f', 'vmdk', 'x.vmdk', '+1M'],
                 ['resize', '--shrink', 'x.vmdk', '1M'], ['amend', '-o', 'compat6=on', 'x.vmdk'],
                 ['amend', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'x.vmdk'],
                 ['check', '-r', 'all', 'x.vmdk'], ['check', '-r', 'leaks', '--output=json', 'x.vmdk'],
                 ['measure', '-O', 'vmdk', '--size', '1G'],
                 ['measure', '-O', 'vmdk', '-o', 'subformat=streamOptimized', '../src.raw'],
                 ['measure', '-f', 'vmdk', '-O', 'raw', 'x.vmdk'], ['create', '-f', 'vmdk', '-o', 'help'],
                 ['create', '-f', 'vmdk', '-o', 'help', 'n.vmdk'],
                 ['convert', '-O', 'vmdk', '-o', 'help', '../src.raw', 'n.vmdk']):
        dirs = fresh_dirs(h, 't-refuse')
        results = {}
        for tag in TOOLS:
            shutil.copyfile(h.path('refimg/ms.vmdk'), h.path(f'{dirs[tag]}/x.vmdk'))
            results[tag] = h.run_text(f'{tag}_img', args, dirs[tag]) + (tree_view(h, dirs[tag]),)
        h.same(f'tools: {args}', results['ours'], results['ref'])
    # Each tool's own images and chains.
    for case, opts in (('ms', []), ('ts', ['-o', 'subformat=twoGbMaxExtentSparse']),
                       ('tf', ['-o', 'subformat=twoGbMaxExtentFlat']), ('so', ['-o', 'subformat=streamOptimized']),
                       ('mf', ['-o', 'subformat=monolithicFlat,adapter_type=buslogic'])):
        dirs = fresh_dirs(h, f'o-{case}')
        try:
            for tag in TOOLS:
                h.must(f'{tag}_img', ['convert', '-O', 'vmdk'] + opts + ['../src.raw', 'base.vmdk'], dirs[tag])
                if case not in FLAT:
                    h.must(f'{tag}_img', ['create', '-q', '-f', 'vmdk', '-b', 'base.vmdk', '-F', 'vmdk'] + opts +
                           ['ov.vmdk'], dirs[tag])
                    h.must(f'{tag}_io', ['-f', 'vmdk', '-c', 'write -q -P 0xc1 3M 64k', 'ov.vmdk'], dirs[tag])
        except HarnessError as e:
            h.fail(f'tools: own {case}: cannot make the images: {e}')
            continue
        for image in ('base.vmdk', 'ov.vmdk') if case not in FLAT else ('base.vmdk',):
            for args in (['info', image], ['info', '--output=json', image], ['info', '--backing-chain', image],
                         ['info', '--backing-chain', '--output=json', image], ['map', image],
                         ['map', '--output=json', image], ['check', image], ['check', '--output=json', image]):
                results = [h.run_text(f'{tag}_img', args, dirs[tag]) for tag in TOOLS]
                masked = [tuple(mask_info(x) if isinstance(x, str) else x for x in r) for r in results]
                h.same(f'tools: own {case} {args}', masked[0], masked[1])
                if args == ['info', image]:
                    sizes = [re.findall(r'disk size: .*', r[1]) for r in results]
                    h.check(sizes[0] == sizes[1],
                            f'tools: own {case} {image}: disk size ours {sizes[0]} ref {sizes[1]}')


# -- 5. broken images

def same_or_no_crash(h, what, ours, ref):
    """Equal results; except where QEMU 7.2 itself dies of a signal (an assertion, a division
    by zero): there ours must end with an error of its own instead, and the difference is
    reported, since no output of QEMU's can be matched."""
    if isinstance(ref[0], int) and ref[0] < 0:
        print(f'  note: QEMU 7.2 dies of signal {-ref[0]} on {what[5:]}')
        h.check(ours[0] == 0 or (ours[0] == 1 and ours[2].startswith(('qemu-img: ', 'qemu-io: '))),
                f'{what}: QEMU 7.2 dies of signal {-ref[0]}; ours must not, and gave {ours[:3]}')
        return
    h.same(what, ours, ref)
    h.check(not isinstance(ours[0], int) or ours[0] >= 0, f'{what}: ours died of signal {ours[0]}')
    h.check(ours[0] != 'timeout', f'{what}: ours hung (killed after {TIMEOUT} s)')


# Where ours answers a broken image differently from QEMU 7.2 on purpose or by a known gap
# (each listed in the README's vmdk section): (image, first argument) -> why. Ours must
# still end cleanly (an error of its own or success), never crash or hang.
KNOWN_DIFFERENCES = {
    ('cowd-magic.vmdk', 'info'): 'a COWD header with granularity 0 opens in QEMU, whose every '
                                 'lookup then divides by zero; ours refuses it at open',
    ('grain-7.vmdk', '-f'): 'with a grain that is not a power of two QEMU writes the last grain '
                            'of a request short; ours writes it whole',
}


def known_difference(h, what, image, args, ours):
    why = KNOWN_DIFFERENCES.get((image, args[0]))
    if why is None:
        return False
    print(f'  note: known difference on {image} {args}: {why}')
    h.check(isinstance(ours[0], int) and ours[0] >= 0 and ours[0] != 'timeout',
            f'{what}: ours must end cleanly, gave {ours[:3]}')
    return True


def bad_images(h):
    """Broken images fail through both tools with the same words and exit codes, in time."""
    d = 'bad'
    os.mkdir(h.path(d))
    h.must('ref_img', ['create', '-q', '-f', 'vmdk', 'good.vmdk', '64M'], d)
    h.must('ref_io', ['-f', 'vmdk', '-c', 'write -q -P 0x42 1M 64k', 'good.vmdk'], d)
    h.must('ref_img', ['convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized', 'good.vmdk', 'stream.vmdk'], d)
    good = h.read(f'{d}/good.vmdk')
    size = len(good)
    # The GT entry of the grain at 1 MiB (grain 16) in the primary table: GD at sector 30 (64 MiB).
    gd_offset = struct.unpack_from('<Q', good, 56)[0]
    gt0 = struct.unpack_from('<I', good, gd_offset * 512)[0]
    gte16 = gt0 * 512 + 16 * 4
    stream = h.read(f'{d}/stream.vmdk')
    s_gd = struct.unpack_from('<Q', stream, 56)[0]
    s_gt0 = struct.unpack_from('<I', stream, s_gd * 512)[0]
    s_grain = struct.unpack_from('<I', stream, s_gt0 * 512 + 16 * 4)[0] * 512

    def patch(name, edits=(), truncate=None, source='good.vmdk'):
        return os.path.basename(h.patched(f'{d}/{source}', f'{d}/{name}', edits, truncate=truncate))

    def text(name, body):
        with open(h.path(f'{d}/{name}'), 'w') as f:
            f.write(body)
        return name

    def descriptor(create_type='twoGbMaxExtentSparse', extents='RW 131072 SPARSE "ext.vmdk"', cid='CID=fffffffe\n',
                   extra=''):
        return ('# Disk DescriptorFile\nversion=1\n' + cid + 'parentCID=ffffffff\n' +
                (f'createType="{create_type}"\n' if create_type is not None else '') + extra +
                '\n# Extent description\n' + extents + '\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = "4"\n')

    h.must('ref_img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', 'split.vmdk', '64M'], d)
    shutil.copyfile(h.path(f'{d}/split-s001.vmdk'), h.path(f'{d}/ext.vmdk'))
    with open(h.path(f'{d}/flat.bin'), 'wb') as f:
        f.truncate(64 * MiB)
    images = [
        patch('truncated-header.vmdk', truncate=100), patch('truncated-0.vmdk', truncate=0),
        patch('truncated-desc.vmdk', truncate=1024), patch('short.vmdk', truncate=size - 512),
        patch('short-grain.vmdk', truncate=size - 32768), patch('below-overhead.vmdk', truncate=32768),
        patch('below-gd.vmdk', truncate=gd_offset * 512 + 100),
        patch('bad-magic.vmdk', [(0, b'KDMX')]), patch('cowd-magic.vmdk', [(0, b'COWD')]),
        patch('version-0.vmdk', [(4, le32(0))]), patch('version-2.vmdk', [(4, le32(2))]),
        patch('version-3.vmdk', [(4, le32(3))]), patch('version-4.vmdk', [(4, le32(4))]),
        patch('version-huge.vmdk', [(4, le32(0xffffffff))]),
        patch('gt-size-huge.vmdk', [(44, le32(0x10000))]), patch('gt-size-0.vmdk', [(44, le32(0))]),
        patch('gt-size-1.vmdk', [(44, le32(1))]),
        patch('grain-huge.vmdk', [(20, le64(0x400000))]), patch('grain-0.vmdk', [(20, le64(0))]),
        patch('grain-7.vmdk', [(20, le64(7))]),
        patch('capacity-huge.vmdk', [(12, le64(1 << 50))]), patch('capacity-max.vmdk', [(12, le64((1 << 64) - 1))]),
        patch('capacity-0.vmdk', [(12, le64(0))]),
        patch('gd-offset-huge.vmdk', [(56, le64(1 << 40))]), patch('gd-offset-max.vmdk', [(56, le64((1 << 64) - 1))]),
        patch('rgd-offset-huge.vmdk', [(48, le64(1 << 40))]),
        patch('overhead-past-eof.vmdk', [(64, le64(1 << 20))]), patch('overhead-huge.vmdk', [(64, le64(1 << 62))]),
        patch('desc-offset-huge.vmdk', [(28, le64(1 << 40))]), patch('desc-size-huge.vmdk', [(36, le64(1 << 40))]),
        patch('gte-past-eof.vmdk', [(gte16, le32(0x100000))]), patch('gte-1-no-flag.vmdk', [(gte16, le32(1))]),
        patch('gd-zero.vmdk', [(gd_offset * 512, le32(0))]),
        patch('compress-9.vmdk', [(77, struct.pack('<H', 9))]),
        patch('stream-bad-zlib.vmdk', [(s_grain + 12, b'\x00\x01\x02\x03')], source='stream.vmdk'),
        patch('stream-len-0.vmdk', [(s_grain + 8, le32(0))], source='stream.vmdk'),
        patch('stream-len-huge.vmdk', [(s_grain + 8, le32(0x7fffffff))], source='stream.vmdk'),
        patch('stream-gd-end.vmdk', [(56, le64((1 << 64) - 1))], source='stream.vmdk'),
        text('type-custom.vmdk', descriptor('custom')), text('type-fulldevice.vmdk', descriptor('fullDevice')),
        text('type-monolithicsparse.vmdk', descriptor('monolithicSparse')), text('type-missing.vmdk', descriptor(None)),
        text('type-unterminated.vmdk', descriptor().replace('"twoGbMaxExtentSparse"', '"twoGbMaxExtentSparse')),
        text('extent-flat-no-offset.vmdk', descriptor('monolithicFlat', 'RW 131072 FLAT "flat.bin"')),
        text('extent-vmfs-offset.vmdk', descriptor('vmfs', 'RW 131072 VMFS "flat.bin" 0')),
        text('extent-sparse-offset.vmdk', descriptor(extents='RW 131072 SPARSE "ext.vmdk" 7')),
        text('extent-missing.vmdk', descriptor(extents='RW 131072 SPARSE "nothere.vmdk"')),
        text('extent-missing-second.vmdk',
             descriptor(extents='RW 131072 SPARSE "ext.vmdk"\nRW 131072 SPARSE "gone.vmdk"')),
        text('extent-rdonly.vmdk', descriptor(extents='RDONLY 131072 SPARSE "ext.vmdk"')),
        text('extent-none.vmdk', descriptor(extents='')),
        text('extent-zero-sectors.vmdk', descriptor(extents='RW 0 SPARSE "ext.vmdk"')),
        text('extent-unknown-type.vmdk', descriptor(extents='RW 131072 WEIRD "ext.vmdk"')),
        text('extent-garbage.vmdk', descriptor(extents='RW lots SPARSE ext.vmdk')),
        text('extent-name-unquoted.vmdk', descriptor(extents='RW 131072 SPARSE ext.vmdk')),
        text('extent-too-big.vmdk', descriptor(extents='RW 999999999 SPARSE "ext.vmdk"')),
        text('extent-flat-beyond.vmdk', descriptor('monolithicFlat', 'RW 131072 FLAT "flat.bin" 999999999')),
        text('no-cid.vmdk', descriptor(cid='')),
        text('parent-missing.vmdk', descriptor(extra='parentFileNameHint="nobase.vmdk"\n')),
        text('not-vmdk.vmdk', 'hello, this is not a disk\n'),
        text('version-line.vmdk', 'version=1\n'),
    ]
    for image in images:
        for args in (['info', image], ['info', '-f', 'vmdk', '--output=json', image],
                     ['convert', '-f', 'vmdk', '-O', 'raw', image, 'out.raw'], ['check', '-f', 'vmdk', image],
                     ['map', '--output=json', '-f', 'vmdk', image]):
            results = []
            for tool in ('ours_img', 'ref_img'):
                results.append(h.run_text(tool, args, d, timeout=TIMEOUT))
                digest = None
                if h.exists(f'{d}/out.raw'):
                    digest = content_digest(h.path(f'{d}/out.raw'))
                    os.unlink(h.path(f'{d}/out.raw'))
                results[-1] += (digest,)
            if known_difference(h, f'bad: {args}', image, args, results[0]):
                continue
            same_or_no_crash(h, f'bad: {args}', results[0], results[1])
        for args in (['-f', 'vmdk', '-r', '-c', 'read 0 64k', '-c', 'read 1M 64k', image],
                     ['-f', 'vmdk', '-c', 'write -P 0x99 2M 64k', '-c', 'read -P 0x99 2M 64k', image]):
            results = []
            headers = []
            for tool in ('ours_io', 'ref_io'):
                copy = f'{d}/w-{image}'
                shutil.copyfile(h.path(f'{d}/{image}'), h.path(copy))
                got = untimed(h.run_text(tool, args[:-1] + [f'w-{image}'], d, timeout=TIMEOUT))
                results.append(got + (vmdk_view(h, copy),))
                headers.append(h.read(copy)[:512])
                os.unlink(h.path(copy))
            original = h.read(f'{d}/{image}')[:512]
            if headers[1] != original and original[:4] == b'KDMV':
                # QEMU 7.2 wrote guest data or a table entry over its own header (a GD entry of
                # 0, a redundant GD past the end: it takes sector 0 for the table). Ours must
                # leave the header alone; the messages must still be QEMU's.
                print(f'  note: QEMU 7.2 overwrites the header of {image} on {args[1:-1]}')
                h.check(headers[0] == original, f'bad: qemu-io {args}: ours changed the header of {image} too')
                same_or_no_crash(h, f'bad: qemu-io {args}', results[0][:3], results[1][:3])
                continue
            if 'write -P 0x99 2M 64k' in args and known_difference(h, f'bad: qemu-io {args}', image, args, results[0]):
                continue
            same_or_no_crash(h, f'bad: qemu-io {args}', results[0], results[1])


# -- 6. VMware's image

def vmware_fixture(h):
    """iotest-version3.vmdk (VMware, stream-optimized, GD in the footer) reads the same."""
    if not h.fixtures:
        h.fail('fixture: no fixture directory given')
        return
    d = 'fixture'
    os.mkdir(h.path(d))
    image = 'iotest-version3.vmdk'
    with bz2.open(os.path.join(h.fixtures, image + '.bz2')) as src, open(h.path(f'{d}/{image}'), 'wb') as dst:
        shutil.copyfileobj(src, dst)
    for args in (['info', image], ['info', '--output=json', image], ['map', '--output=json', image], ['map', image],
                 ['check', image], ['compare', image, image]):
        h.same(f'fixture: {args}', h.run_text('ours_img', args, d), h.run_text('ref_img', args, d))
    digests = {}
    for tool in ('ours_img', 'ref_img'):
        got = h.run_text(tool, ['convert', '-O', 'raw', image, f'{tool}.raw'], d)
        h.check(got == (0, '', ''), f'fixture: {tool} convert: {got}')
        digests[tool] = content_digest(h.path(f'{d}/{tool}.raw')) if got[0] == 0 else None
    h.check(digests['ours_img'] == digests['ref_img'], f'fixture: converts to other raw bytes {digests}')
    # Each allocated grain QEMU reads holds one byte value: read it back with -P in both.
    raw = h.path(f'{d}/ref_img.raw')
    reads = []
    with open(raw, 'rb') as f:
        fd = f.fileno()
        at, end = 0, os.fstat(fd).st_size
        while at < end and len(reads) < 40:
            try:
                at = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:
                break
            grain = os.pread(fd, GRAIN, at - at % GRAIN)
            start = at - at % GRAIN
            if grain == bytes([grain[0]]) * GRAIN:
                reads.append(f'read -P {grain[0]:#x} {start} 64k')
            else:
                reads.append(f'read -v {start} 64')
            reads.append(f'read -P 0 {start + GRAIN} 64k')
            at = start + GRAIN
    h.check(len(reads) >= 10, f'fixture: too few allocated grains found: {reads}')
    for tool in ('ours_img', 'ref_img'):
        os.unlink(h.path(f'{d}/{tool}.raw'))
    results = [untimed(h.run_text(t, ['-r'] + io_commands(reads) + [image], d)) for t in ('ours_io', 'ref_io')]
    h.same('fixture: qemu-io reads', results[0], results[1])
    h.check(results[1][0] == 0 and 'failed' not in results[1][1], f'fixture: QEMU fails its reads: {results[1]}')


def main():
    h = Harness('vmdk', sys.argv[1:], extra=('fixtures',))
    h.fixtures = h.args['fixtures']
    if not h.fixtures or not os.path.isfile(os.path.join(h.fixtures, 'iotest-version3.vmdk.bz2')):
        print(f'no fixtures in {h.fixtures}: the VMware image is left out')
        h.fixtures = None
    else:
        h.fixtures = os.path.abspath(h.fixtures)
    return h.main([('create_compat', create_compat), ('convert_compat', convert_compat), ('read_compat', read_compat),
                   ('cross_write', cross_write), ('tool_outputs', tool_outputs), ('bad_images', bad_images),
                   ('vmware_fixture', vmware_fixture)],
                  setup=[('make_source', make_source), ('make_ref_images', make_ref_images)])


if __name__ == '__main__':
    sys.exit(main())
