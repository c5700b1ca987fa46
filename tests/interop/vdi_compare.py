#!/usr/bin/env python3
"""vdi interoperability with Debian's QEMU 7.2: ours reads the images the real qemu-img makes
(same raw bytes, same sizes, same info/check/map output on the same file); the real tools read
and check what ours writes; after the same create and write sequence both files are identical
except for the two random UUIDs; each tool writes into the other's images; and corrupted or
truncated images give the same messages and exit codes.

usage: vdi_compare.py OUR_QEMU_IMG OUR_QEMU_IO REF_QEMU_IMG REF_QEMU_IO   (77 = skipped)
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

MiB = 1024 * 1024
SIZE = 32 * MiB
UUIDS = slice(0x188, 0x1A8)  # uuid_image and uuid_last_snap: random in every create

# The reference write pattern of block-formats.md §9.1, scaled to 32 MiB: 0x22 crosses a
# 64 KiB boundary, 0x33 a 1 MiB vdi block, 0x44 is two whole blocks, 0x55 crosses 24 MiB,
# -z leaves a zero range, 0x66 is the last sector.
PATTERN = [('0x11', 0, '4k'), ('0x22', 65024, '1k'), ('0x33', 1048064, '1k'), ('0x44', 2 * MiB, '2M'),
           ('0x55', 24 * MiB - 512, '1k'), (None, 28 * MiB, '64k'), ('0x66', SIZE - 512, '512')]
READS = ['read -P 0x11 0 4k', 'read -P 0x22 65024 1k', 'read -P 0x33 1048064 1k', 'read -P 0x44 2M 2M',
         'read -P 0x55 25165312 1k', 'read -P 0 28M 64k', f'read -P 0x66 {SIZE - 512} 512', 'read -P 0 8M 1M']

# One write script run by each tool's qemu-io on an empty image: blocks out of order,
# partial blocks, a write across blocks, rewrites of mapped blocks, zero writes (which
# allocate on vdi), a no-op discard, vectored and aio writes.
WRITES = ['write -P 0xa1 5M 4k', 'write -P 0xa2 1M 512', 'write -P 0xa3 3145216 2k', 'write -P 0xa4 5M 512',
          'write -z 9M 64k', 'discard 5M 1M', 'writev -P 0xa5 20M 4k 8k', 'aio_write -P 0xa6 30M 1M', 'aio_flush',
          'write -P 0xa7 63M 1M', 'write 40M 1', 'flush']

failures = 0


def fail(text):
    global failures
    failures += 1
    print('FAIL ' + text)


def run(binary, args, cwd):
    proc = subprocess.run([binary] + args, cwd=cwd, capture_output=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def filter_io(out):
    """_filter_qemu_io: the timing line's numbers differ from run to run."""
    return re.sub(rb'[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\)',
                  b'X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)', out)


def io_commands(commands):
    args = []
    for c in commands:
        args += ['-c', c]
    return args


def masked(path):
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    data[UUIDS] = bytes(UUIDS.stop - UUIDS.start)
    return bytes(data)


def info_json(binary, name, cwd):
    code, out, err = run(binary, ['info', '--output=json', name], cwd)
    if code != 0:
        fail(f'{binary} info {name}: {err!r}')
        return {}
    return json.loads(out)


def same_output(what, mine, theirs):
    if mine != theirs:
        fail(what)
        for label, a, b in zip(('exit', 'stdout', 'stderr'), mine, theirs):
            if a != b:
                print(f'  {label}: ours {a!r}\n  {" " * len(label)}   ref  {b!r}')
        return False
    return True


def make_reference_images(tools, cwd):
    """The real qemu-img and qemu-io make the source and every reference image."""
    ref_img, ref_io = tools['ref_img'], tools['ref_io']
    subprocess.run([ref_img, 'create', '-q', '-f', 'raw', 'src.raw', str(SIZE)], cwd=cwd, check=True)
    script = []
    for pattern, offset, length in PATTERN:
        script.append(f'write -q -P {pattern} {offset} {length}' if pattern else f'write -q -z {offset} {length}')
    subprocess.run([ref_io, '-f', 'raw'] + io_commands(script) + ['src.raw'], cwd=cwd, check=True)
    subprocess.run([ref_img, 'convert', '-f', 'raw', '-O', 'vdi', 'src.raw', 'q-dyn.vdi'], cwd=cwd, check=True)
    subprocess.run([ref_img, 'convert', '-f', 'raw', '-O', 'vdi', '-o', 'static=on', 'src.raw', 'q-static.vdi'],
                   cwd=cwd, check=True)
    # Without sparse detection every block is written, so every block is allocated in order.
    subprocess.run([ref_img, 'convert', '-f', 'raw', '-O', 'vdi', '-S', '0', 'src.raw', 'q-full.vdi'], cwd=cwd,
                   check=True)
    empties = []
    for size in ['0', '1000', '1M', '3M', '64M', '127M', '1G']:
        name = f'e-{size}.vdi'
        subprocess.run([ref_img, 'create', '-q', '-f', 'vdi', name, size], cwd=cwd, check=True)
        empties.append(name)
    subprocess.run([ref_img, 'create', '-q', '-f', 'vdi', '-o', 'static=on', 'e-static-3M.vdi', '3M'], cwd=cwd,
                   check=True)
    return ['q-dyn.vdi', 'q-static.vdi', 'e-static-3M.vdi'] + empties


def read_compatibility(tools, cwd, images):
    for image in images:
        for tag in ('ours', 'ref'):
            subprocess.run([tools[tag + '_img'], 'convert', '-O', 'raw', image, f'{tag}.raw'], cwd=cwd, check=True)
        with open(os.path.join(cwd, 'ours.raw'), 'rb') as a, open(os.path.join(cwd, 'ref.raw'), 'rb') as b:
            if a.read() != b.read():
                fail(f'convert -O raw {image}: different raw bytes')
        # Same file, so every field of the descriptions must match, actual-size included.
        for args in (['info'], ['info', '--output=json'], ['check'], ['check', '--output=json'], ['map'],
                     ['map', '--output=json'], ['compare', image, 'ref.raw'], ['compare', '-s', image, 'ref.raw'],
                     ['measure', '-O', 'raw']):
            full = args + ([] if args[0] == 'compare' else [image])
            same_output(f'{full}', run(tools['ours_img'], full, cwd), run(tools['ref_img'], full, cwd))
        for tag in ('ours', 'ref'):
            os.unlink(os.path.join(cwd, f'{tag}.raw'))
    for image in ('q-dyn.vdi', 'q-static.vdi'):
        args = ['-r'] + io_commands(READS + ['map', 'info', 'length']) + [image]
        mine, theirs = run(tools['ours_io'], args, cwd), run(tools['ref_io'], args, cwd)
        same_output(f'qemu-io reads of {image}', (mine[0], filter_io(mine[1]), mine[2]),
                    (theirs[0], filter_io(theirs[1]), theirs[2]))
        if b'verification failed' in mine[1] + mine[2]:
            fail(f'qemu-io pattern reads of {image}: {mine[1]!r}')


def write_compatibility(tools, cwd):
    ours, ref = tools['ours_img'], tools['ref_img']
    for name, extra, reference in (('o-dyn.vdi', [], 'q-dyn.vdi'), ('o-static.vdi', ['-o', 'static=on'], 'q-static.vdi'),
                                   ('o-full.vdi', ['-S', '0'], 'q-full.vdi')):
        code, out, err = run(ours, ['convert', '-f', 'raw', '-O', 'vdi'] + extra + ['src.raw', name], cwd)
        if code != 0:
            fail(f'our convert {extra}: {err!r}')
            continue
        code, out, err = run(ref, ['check', name], cwd)
        if code != 0:
            fail(f'reference check of our {name}: {code} {out!r} {err!r}')
        code, out, err = run(ref, ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw'], cwd)
        if code != 0 or out != b'Images are identical.\n':
            fail(f'reference compare of our {name}: {code} {out!r} {err!r}')
        mine, theirs = info_json(ref, name, cwd), info_json(ref, reference, cwd)
        for key in ('filename', 'actual-size'):
            mine.pop(key, None)
            theirs.pop(key, None)
        if mine != theirs:
            fail(f'reference info of our {name}: {mine} vs {theirs}')
        if masked(os.path.join(cwd, name)) != masked(os.path.join(cwd, reference)):
            fail(f'our convert {name} differs from the reference convert outside the UUIDs')
    # Workers writing out of order allocate blocks in another order: still a clean image.
    for name, extra in (('w-dyn.vdi', []), ('w-static.vdi', ['-o', 'static=on'])):
        code, out, err = run(ours, ['convert', '-W', '-m', '16', '-f', 'raw', '-O', 'vdi'] + extra + ['src.raw', name],
                             cwd)
        checked = run(ref, ['check', name], cwd)
        compared = run(ref, ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw'], cwd)
        if code != 0 or checked[0] != 0 or compared[:2] != (0, b'Images are identical.\n'):
            fail(f'out-of-order convert {name}: {err!r} check {checked} compare {compared}')
    # create: the same Formatting lines and the same bytes outside the UUIDs.
    for args in (['1M'], ['1000'], ['64M'], ['127M'], ['0'], ['-o', 'static=on', '3M'], ['-o', 'static=off', '2M'],
                 ['-o', 'preallocation=falloc', '2M'], ['-o', 'preallocation=full', '1M'],
                 ['-o', 'static=on,preallocation=full', '2M'], ['-o', 'preallocation=metadata', '1M'],
                 ['-o', 'static=maybe', '1M'], ['513T'], ['512T'], ['562949819203585'], ['9223372036854775807'],
                 ['-o', 'size=5M']):
        results = {}
        for tag in ('ours', 'ref'):
            results[tag] = run(tools[tag + '_img'], ['create', '-f', 'vdi'] + args[:-1] + [f'{tag}.vdi', args[-1]]
                               if not args[-1].startswith('size=') else
                               ['create', '-f', 'vdi'] + args + [f'{tag}.vdi'], cwd)
        mine, theirs = results['ours'], results['ref']
        same_output(f'create {args}', (mine[0], mine[1].replace(b'ours.vdi', b'X'), mine[2].replace(b'ours.vdi', b'X')),
                    (theirs[0], theirs[1].replace(b'ref.vdi', b'X'), theirs[2].replace(b'ref.vdi', b'X')))
        paths = [os.path.join(cwd, f'{tag}.vdi') for tag in ('ours', 'ref')]
        exists = [os.path.exists(p) for p in paths]
        if exists[0] != exists[1]:
            fail(f'create {args}: file left behind by only one tool')
        elif exists[0]:
            if os.path.getsize(paths[0]) != os.path.getsize(paths[1]) or masked(paths[0]) != masked(paths[1]):
                fail(f'create {args}: files differ outside the UUIDs')
            if os.path.getsize(paths[0]) > 0 and run(ref, ['check', paths[0]], cwd)[0] != 0:
                fail(f'create {args}: reference check of ours fails')
        for p in paths:
            if os.path.exists(p):
                os.unlink(p)
    # The same writes through each tool's qemu-io into each tool's fresh image.
    for extra in ([], ['-o', 'static=on']):
        outputs = {}
        for tag in ('ours', 'ref'):
            code, out, err = run(tools[tag + '_img'], ['create', '-q', '-f', 'vdi'] + extra + [f'w-{tag}.vdi', '64M'],
                                 cwd)
            if code != 0:
                fail(f'{tag} create {extra}: {err!r}')
                break
            code, out, err = run(tools[tag + '_io'], ['-f', 'vdi'] + io_commands(WRITES) + [f'w-{tag}.vdi'], cwd)
            outputs[tag] = (code, filter_io(out), err)
        if len(outputs) != 2:
            continue
        same_output(f'qemu-io writes {extra}', outputs['ours'], outputs['ref'])
        if masked(os.path.join(cwd, 'w-ours.vdi')) != masked(os.path.join(cwd, 'w-ref.vdi')):
            fail(f'after the same writes {extra} the files differ outside the UUIDs')
        if run(ref, ['check', 'w-ours.vdi'], cwd)[0] != 0:
            fail(f'reference check after our writes {extra}')


def cross_writing(tools, cwd):
    """The real qemu-io writes into our image and ours into the real one's."""
    checks = ['read -P 0x11 0 4k', 'read -P 0xb1 7M 4k', 'read -P 0xb2 1048064 1k', 'read -P 0x55 25165312 1k',
              'read -P 0 12M 1M']
    for image, writer in (('o-dyn.vdi', 'ref_io'), ('q-dyn.vdi', 'ours_io'), ('o-static.vdi', 'ref_io'),
                          ('q-static.vdi', 'ours_io')):
        target = 'x-' + image
        if not os.path.exists(os.path.join(cwd, image)):
            fail(f'no {image} to write into')
            continue
        shutil.copyfile(os.path.join(cwd, image), os.path.join(cwd, target))
        code, out, err = run(tools[writer], ['-f', 'vdi', '-c', 'write -P 0xb1 7M 4k', '-c', 'write -P 0xb2 1048064 1k',
                                             target], cwd)
        if code != 0:
            fail(f'{writer} writing into {image}: {err!r}')
        for tag in ('ours', 'ref'):
            code, out, err = run(tools[tag + '_img'], ['check', target], cwd)
            if code != 0:
                fail(f'{tag} check after {writer} wrote into {image}: {code} {out!r} {err!r}')
            code, out, err = run(tools[tag + '_io'], ['-r', '-f', 'vdi'] + io_commands(checks) + [target], cwd)
            if code != 0 or b'failed' in out + err:
                fail(f'{tag} reading back {target}: {out!r} {err!r}')


def corrupt(cwd, source, name, patches=(), size=None):
    with open(os.path.join(cwd, source), 'rb') as f:
        data = bytearray(f.read())
    for offset, fmt, value in patches:
        struct.pack_into(fmt, data, offset, value)
    if size is not None:
        data = data[:size]
    with open(os.path.join(cwd, name), 'wb') as f:
        f.write(data)
    return name


def bad_input(tools, cwd):
    cases = {
        'signature': [(0x40, '<I', 0x12345678)],
        'version-1.0': [(0x44, '<I', 0x00010000)],
        'version-2.1': [(0x44, '<I', 0x00020001)],
        'bmap-unaligned': [(0x154, '<I', 0x201)],
        'data-unaligned': [(0x158, '<I', 0x401)],
        'sector-size': [(0x168, '<I', 4096)],
        'block-size': [(0x178, '<I', 2 * MiB)],
        'block-size-0': [(0x178, '<I', 0)],
        'disk-too-big-for-map': [(0x170, '<Q', 3 * MiB + 512)],
        'disk-over-max': [(0x170, '<Q', 0x1FFFFF8000000 + 512)],
        'disk-odd': [(0x170, '<Q', 3 * MiB - 1000)],
        'link-uuid': [(0x1A8, '<I', 1)],
        'parent-uuid': [(0x1C7, '<B', 1)],
        'too-many-blocks': [(0x180, '<I', 0x1FFFFF81)],
        'image-type-3': [(0x4C, '<I', 3)],
        'bmap-duplicate': [(0x200, '<I', 0), (0x204, '<I', 0), (0x184, '<I', 2)],
        'bmap-too-large': [(0x208, '<I', 77), (0x184, '<I', 1)],
        'bmap-mismatch': [(0x200, '<I', 0), (0x184, '<I', 5)],
        'bmap-discarded': [(0x200, '<I', 0xFFFFFFFE)],
    }
    files = [corrupt(cwd, 'e-3M.vdi', f'bad-{name}.vdi', patches) for name, patches in cases.items()]
    for size in (0, 100, 511, 512, 700, 1023):
        files.append(corrupt(cwd, 'e-3M.vdi', f'cut-{size}.vdi', size=size))
    files.append(corrupt(cwd, 'q-dyn.vdi', 'cut-data.vdi', size=1024 + MiB + 4096))
    files.append(corrupt(cwd, 'q-static.vdi', 'cut-static.vdi', size=1024 + 5 * MiB))
    for name in files:
        for args in (['info', name], ['info', '-f', 'vdi', '--output=json', name], ['check', name],
                     ['check', '-f', 'vdi', '--output=json', name], ['map', '-f', 'vdi', '--output=json', name],
                     ['convert', '-f', 'vdi', '-O', 'raw', name, 'bad.raw'],
                     ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw']):
            same_output(f'{args}', run(tools['ours_img'], args, cwd), run(tools['ref_img'], args, cwd))
        io_args = ['-f', 'vdi'] + io_commands(['read -v 0 16', 'write -P 0xc1 1M 512', 'read -P 0xc1 1M 512']) + [name]
        results = []
        for tag in ('ours', 'ref'):
            target = f'{tag}-{name}'
            shutil.copyfile(os.path.join(cwd, name), os.path.join(cwd, target))
            code, out, err = run(tools[tag + '_io'], io_args[:-1] + [target], cwd)
            results.append((code, filter_io(out), err.replace(target.encode(), b'X')))
            if os.path.getsize(os.path.join(cwd, target)) > 512:
                results[-1] += (masked(os.path.join(cwd, target)),)
        same_output(f'qemu-io on {name} (and the file after)', results[0], results[1])


def main():
    tools = dict(zip(('ours_img', 'ours_io', 'ref_img', 'ref_io'), sys.argv[1:5]))
    for key in ('ref_img', 'ref_io'):
        if not os.access(tools[key], os.X_OK):
            print(f'{tools[key]} not installed, skipping')
            return 77
    tools['ours_img'] = os.path.abspath(tools['ours_img'])
    tools['ours_io'] = os.path.abspath(tools['ours_io'])
    with tempfile.TemporaryDirectory(dir='/var/tmp') as cwd:
        images = make_reference_images(tools, cwd)
        sections = (('read compatibility', lambda: read_compatibility(tools, cwd, images)),
                    ('write compatibility', lambda: write_compatibility(tools, cwd)),
                    ('cross writing', lambda: cross_writing(tools, cwd)),
                    ('bad input', lambda: bad_input(tools, cwd)))
        for title, section in sections:
            before = failures
            section()
            print(f'{title}: {failures - before} failures')
    print(f'{failures} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
