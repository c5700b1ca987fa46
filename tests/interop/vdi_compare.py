#!/usr/bin/env python3
"""vdi interoperability with Debian's QEMU 7.2: ours reads the images the real qemu-img makes
(same raw bytes, same sizes, same info/check/map output on the same file); the real tools read
and check what ours writes; after the same create and write sequence both files are identical
except for the two random UUIDs; each tool writes into the other's images; and corrupted or
truncated images give the same messages and exit codes. The running and comparing is
image_harness.py's.

usage: vdi_compare.py OUR_QEMU_IMG OUR_QEMU_IO REF_QEMU_IMG REF_QEMU_IO   (77 = skipped)
"""
import os
import shutil
import sys

from image_harness import MiB, TAGS, Harness, filter_io, io_commands, le32, le64, masked

SIZE = 32 * MiB
UUIDS = (0x188, 0x1A8)  # uuid_image and uuid_last_snap: random in every create

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

REFERENCE_IMAGES = []


def vdi_masked(h, name):
    return masked(h.path(name), [UUIDS])


def make_reference_images(h):
    """The real qemu-img and qemu-io make the source and every reference image."""
    h.must('ref_img', ['create', '-q', '-f', 'raw', 'src.raw', str(SIZE)])
    script = []
    for pattern, offset, length in PATTERN:
        script.append(f'write -q -P {pattern} {offset} {length}' if pattern else f'write -q -z {offset} {length}')
    h.must('ref_io', ['-f', 'raw'] + io_commands(script) + ['src.raw'])
    h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vdi', 'src.raw', 'q-dyn.vdi'])
    h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vdi', '-o', 'static=on', 'src.raw', 'q-static.vdi'])
    # Without sparse detection every block is written, so every block is allocated in order.
    h.must('ref_img', ['convert', '-f', 'raw', '-O', 'vdi', '-S', '0', 'src.raw', 'q-full.vdi'])
    empties = []
    for size in ['0', '1000', '1M', '3M', '64M', '127M', '1G']:
        name = f'e-{size}.vdi'
        h.must('ref_img', ['create', '-q', '-f', 'vdi', name, size])
        empties.append(name)
    h.must('ref_img', ['create', '-q', '-f', 'vdi', '-o', 'static=on', 'e-static-3M.vdi', '3M'])
    REFERENCE_IMAGES[:] = ['q-dyn.vdi', 'q-static.vdi', 'e-static-3M.vdi'] + empties


def read_compatibility(h):
    for image in REFERENCE_IMAGES:
        for tag in TAGS:
            h.must(f'{tag}_img', ['convert', '-O', 'raw', image, f'{tag}.raw'])
        h.check(h.read('ours.raw') == h.read('ref.raw'), f'convert -O raw {image}: different raw bytes')
        # Same file, so every field of the descriptions must match, actual-size included.
        for args in (['info'], ['info', '--output=json'], ['check'], ['check', '--output=json'], ['map'],
                     ['map', '--output=json'], ['compare', image, 'ref.raw'], ['compare', '-s', image, 'ref.raw'],
                     ['measure', '-O', 'raw']):
            full = args + ([] if args[0] == 'compare' else [image])
            h.same_tools('img', full, what=f'{full}')
        for tag in TAGS:
            os.unlink(h.path(f'{tag}.raw'))
    for image in ('q-dyn.vdi', 'q-static.vdi'):
        args = ['-r'] + io_commands(READS + ['map', 'info', 'length']) + [image]
        mine, theirs = h.run('ours_io', args), h.run('ref_io', args)
        h.same(f'qemu-io reads of {image}', (mine[0], filter_io(mine[1]), mine[2]),
               (theirs[0], filter_io(theirs[1]), theirs[2]))
        h.check(b'verification failed' not in mine[1] + mine[2], f'qemu-io pattern reads of {image}: {mine[1]!r}')


def write_compatibility(h):
    for name, extra, reference in (('o-dyn.vdi', [], 'q-dyn.vdi'), ('o-static.vdi', ['-o', 'static=on'], 'q-static.vdi'),
                                   ('o-full.vdi', ['-S', '0'], 'q-full.vdi')):
        code, out, err = h.run('ours_img', ['convert', '-f', 'raw', '-O', 'vdi'] + extra + ['src.raw', name])
        if not h.check(code == 0, f'our convert {extra}: {err!r}'):
            continue
        code, out, err = h.run('ref_img', ['check', name])
        h.check(code == 0, f'reference check of our {name}: {code} {out!r} {err!r}')
        code, out, err = h.run('ref_img', ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw'])
        h.check(code == 0 and out == b'Images are identical.\n', f'reference compare of our {name}: {code} {out!r} {err!r}')
        mine, theirs = h.info_json('ref_img', name), h.info_json('ref_img', reference)
        h.check(mine == theirs, f'reference info of our {name}: {mine} vs {theirs}')
        h.check(vdi_masked(h, name) == vdi_masked(h, reference),
                f'our convert {name} differs from the reference convert outside the UUIDs')
    # Workers writing out of order allocate blocks in another order: still a clean image.
    for name, extra in (('w-dyn.vdi', []), ('w-static.vdi', ['-o', 'static=on'])):
        code, out, err = h.run('ours_img', ['convert', '-W', '-m', '16', '-f', 'raw', '-O', 'vdi'] + extra +
                               ['src.raw', name])
        checked = h.run('ref_img', ['check', name])
        compared = h.run('ref_img', ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw'])
        h.check(code == 0 and checked[0] == 0 and compared[:2] == (0, b'Images are identical.\n'),
                f'out-of-order convert {name}: {err!r} check {checked} compare {compared}')
    # create: the same Formatting lines and the same bytes outside the UUIDs.
    for args in (['1M'], ['1000'], ['64M'], ['127M'], ['0'], ['-o', 'static=on', '3M'], ['-o', 'static=off', '2M'],
                 ['-o', 'preallocation=falloc', '2M'], ['-o', 'preallocation=full', '1M'],
                 ['-o', 'static=on,preallocation=full', '2M'], ['-o', 'preallocation=metadata', '1M'],
                 ['-o', 'static=maybe', '1M'], ['513T'], ['512T'], ['562949819203585'], ['9223372036854775807'],
                 ['-o', 'size=5M']):
        results = {}
        for tag in TAGS:
            file = f'{tag}.vdi'
            command = (['create', '-f', 'vdi'] + args + [file] if args[-1].startswith('size=') else
                       ['create', '-f', 'vdi'] + args[:-1] + [file, args[-1]])
            code, out, err = h.run(f'{tag}_img', command)
            results[tag] = (code, out.replace(file.encode(), b'X'), err.replace(file.encode(), b'X'))
        h.same(f'create {args}', results['ours'], results['ref'])
        exists = [h.exists(f'{tag}.vdi') for tag in TAGS]
        if h.check(exists[0] == exists[1], f'create {args}: file left behind by only one tool') and exists[0]:
            sizes = [os.path.getsize(h.path(f'{tag}.vdi')) for tag in TAGS]
            h.check(sizes[0] == sizes[1] and vdi_masked(h, 'ours.vdi') == vdi_masked(h, 'ref.vdi'),
                    f'create {args}: files differ outside the UUIDs')
            h.check(sizes[0] == 0 or h.run('ref_img', ['check', 'ours.vdi'])[0] == 0,
                    f'create {args}: reference check of ours fails')
        for tag in TAGS:
            if h.exists(f'{tag}.vdi'):
                os.unlink(h.path(f'{tag}.vdi'))
    # The same writes through each tool's qemu-io into each tool's fresh image.
    for extra in ([], ['-o', 'static=on']):
        outputs = {}
        for tag in TAGS:
            code, out, err = h.run(f'{tag}_img', ['create', '-q', '-f', 'vdi'] + extra + [f'w-{tag}.vdi', '64M'])
            if not h.check(code == 0, f'{tag} create {extra}: {err!r}'):
                break
            code, out, err = h.run(f'{tag}_io', ['-f', 'vdi'] + io_commands(WRITES) + [f'w-{tag}.vdi'])
            outputs[tag] = (code, filter_io(out), err)
        if len(outputs) != 2:
            continue
        h.same(f'qemu-io writes {extra}', outputs['ours'], outputs['ref'])
        h.check(vdi_masked(h, 'w-ours.vdi') == vdi_masked(h, 'w-ref.vdi'),
                f'after the same writes {extra} the files differ outside the UUIDs')
        h.check(h.run('ref_img', ['check', 'w-ours.vdi'])[0] == 0, f'reference check after our writes {extra}')


def cross_writing(h):
    """The real qemu-io writes into our image and ours into the real one's."""
    checks = ['read -P 0x11 0 4k', 'read -P 0xb1 7M 4k', 'read -P 0xb2 1048064 1k', 'read -P 0x55 25165312 1k',
              'read -P 0 12M 1M']
    for image, writer in (('o-dyn.vdi', 'ref_io'), ('q-dyn.vdi', 'ours_io'), ('o-static.vdi', 'ref_io'),
                          ('q-static.vdi', 'ours_io')):
        target = 'x-' + image
        if not h.check(h.exists(image), f'no {image} to write into'):
            continue
        shutil.copyfile(h.path(image), h.path(target))
        code, out, err = h.run(writer, ['-f', 'vdi', '-c', 'write -P 0xb1 7M 4k', '-c', 'write -P 0xb2 1048064 1k',
                                        target])
        h.check(code == 0, f'{writer} writing into {image}: {err!r}')
        for tag in TAGS:
            code, out, err = h.run(f'{tag}_img', ['check', target])
            h.check(code == 0, f'{tag} check after {writer} wrote into {image}: {code} {out!r} {err!r}')
            code, out, err = h.run(f'{tag}_io', ['-r', '-f', 'vdi'] + io_commands(checks) + [target])
            h.check(code == 0 and b'failed' not in out + err, f'{tag} reading back {target}: {out!r} {err!r}')


def bad_input(h):
    cases = {
        'signature': [(0x40, le32(0x12345678))],
        'version-1.0': [(0x44, le32(0x00010000))],
        'version-2.1': [(0x44, le32(0x00020001))],
        'bmap-unaligned': [(0x154, le32(0x201))],
        'data-unaligned': [(0x158, le32(0x401))],
        'sector-size': [(0x168, le32(4096))],
        'block-size': [(0x178, le32(2 * MiB))],
        'block-size-0': [(0x178, le32(0))],
        'disk-too-big-for-map': [(0x170, le64(3 * MiB + 512))],
        'disk-over-max': [(0x170, le64(0x1FFFFF8000000 + 512))],
        'disk-odd': [(0x170, le64(3 * MiB - 1000))],
        'link-uuid': [(0x1A8, le32(1))],
        'parent-uuid': [(0x1C7, b'\x01')],
        'too-many-blocks': [(0x180, le32(0x1FFFFF81))],
        'image-type-3': [(0x4C, le32(3))],
        'bmap-duplicate': [(0x200, le32(0)), (0x204, le32(0)), (0x184, le32(2))],
        'bmap-too-large': [(0x208, le32(77)), (0x184, le32(1))],
        'bmap-mismatch': [(0x200, le32(0)), (0x184, le32(5))],
        'bmap-discarded': [(0x200, le32(0xFFFFFFFE))],
    }
    files = [h.patched('e-3M.vdi', f'bad-{name}.vdi', patches) for name, patches in cases.items()]
    for size in (0, 100, 511, 512, 700, 1023):
        files.append(h.patched('e-3M.vdi', f'cut-{size}.vdi', truncate=size))
    files.append(h.patched('q-dyn.vdi', 'cut-data.vdi', truncate=1024 + MiB + 4096))
    files.append(h.patched('q-static.vdi', 'cut-static.vdi', truncate=1024 + 5 * MiB))
    for name in files:
        for args in (['info', name], ['info', '-f', 'vdi', '--output=json', name], ['check', name],
                     ['check', '-f', 'vdi', '--output=json', name], ['map', '-f', 'vdi', '--output=json', name],
                     ['convert', '-f', 'vdi', '-O', 'raw', name, 'bad.raw'],
                     ['compare', '-f', 'vdi', '-F', 'raw', name, 'src.raw']):
            h.same_tools('img', args, what=f'{args}')
        io_args = ['-f', 'vdi'] + io_commands(['read -v 0 16', 'write -P 0xc1 1M 512', 'read -P 0xc1 1M 512'])
        results = []
        for tag in TAGS:
            target = f'{tag}-{name}'
            shutil.copyfile(h.path(name), h.path(target))
            code, out, err = h.run(f'{tag}_io', io_args + [target])
            results.append((code, filter_io(out), err.replace(target.encode(), b'X')))
            if os.path.getsize(h.path(target)) > 512:
                results[-1] += (vdi_masked(h, target),)
        h.same(f'qemu-io on {name} (and the file after)', results[0], results[1])


if __name__ == '__main__':
    sys.exit(Harness('vdi', sys.argv[1:]).main([
        ('read compatibility', read_compatibility),
        ('write compatibility', write_compatibility),
        ('cross writing', cross_writing),
        ('bad input', bad_input),
    ], setup=[('reference images', make_reference_images)]))
