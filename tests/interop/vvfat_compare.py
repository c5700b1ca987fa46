#!/usr/bin/env python3
"""The vvfat driver (issue 12) through our qemu-img/qemu-io and Debian's (QEMU 7.2): for the
same host directory, `qemu-img convert -O raw` of every mode (hard disk FAT12/16/32, floppy
1.44 and 2.88 MB) must give the same bytes; info, map, check, qemu-io reads, the errors for
bad directories and options, and the refused writes of rw mode must print the same.

Timestamps: the disk shows each entry's ctime (to 2 seconds), mtime and atime (the date).
ctime cannot be set, and re-touching a tree sets it to "now", so the tree is stamped ONCE:
mtime fixed in the past, atime fixed in the future. Reading then never moves atime (relatime
moves it only when it is not newer than mtime and ctime, or a day old), so both tools see
identical stamps with no re-touch, even across midnight.

rw mode: here only writes that QEMU does not commit are compared (refused ones, the FAT,
clusters no file owns), and the runs must leave the directory unchanged; committed changes
are vvfat_rw_test.py's.

usage: vvfat_compare.py OUR_QEMU_IMG OUR_QEMU_IO REFERENCE_QEMU_IMG REFERENCE_QEMU_IO"""
import hashlib
import os
import random
import shutil
import subprocess
import sys

from image_harness import Harness, filter_io, io_commands, parse_dump

# QEMU's cluster buffer is g_malloc'ed and never cleared: the bytes past a file's end that
# no earlier read covered are the heap's. A fresh heap gives zeros, which is what ours
# shows; meson's MALLOC_PERTURB_ would fill them with a pattern, so the tools run without it.
os.environ.pop('MALLOC_PERTURB_', None)

MODES = ['fat', 'fat:12', 'fat:16', 'fat:32', 'fat:floppy', 'fat:floppy:12', 'fat:floppy:16']
CLUSTER = 8192  # 16 sectors in every mode (QEMU overrides the floppy's 1 or 2)
FIXED_MTIME = 1577934245  # 2020-01-02 03:04:05 UTC
FIXED_ATIME = 2082888000  # 2036-01-02 04:00:00 UTC: later than any run, so relatime never moves it


def write_file(path, size, rng):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(size)))


def stamp(root):
    """mtime fixed, atime fixed in the future, for every entry (symlinks themselves included)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (FIXED_ATIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(root, (FIXED_ATIME, FIXED_MTIME))


def make_tree(root, seed):
    """Nested folders, long and short names, aliases that collide (~1, ~2 ... ~10), names 8.3
    cannot hold, empty, 1-byte, one-cluster, cluster+1 and multi-cluster files."""
    rng = random.Random(seed)
    sizes = {'HELLO.TXT': 6, 'empty': 0, 'one': 1, 'cluster.bin': CLUSTER, 'cluster1.bin': CLUSTER + 1,
             'three.bin': 3 * CLUSTER - 7, 'a long file name.txt': 2, '.hidden': 5, 'a.b.c': 3,
             'x+y=z;1,2[3].dat': 4, 'Ünïcödé.txt': 7, '日本語.txt': 9, 'UPPER.lower': 10,
             'sub/big.bin': 300000, 'sub/Readme.md': 11, 'sub/readme.markdown': 12, 'sub/README.MDX': 13,
             'sub/deeper/leaf': 1, 'sub/deeper/empty-dir/.keep': 0, 'spaces in dir/file one': 100,
             'exactly13char': 13, 'twelve_chars': 12}
    for i in range(1, 12):
        sizes[f'collide {i}.txt'] = i
    # 30 names with one alias base, and literal names that look like its aliases: whatever
    # order readdir gives, the tails must come out as QEMU's.
    for i in range(30):
        sizes[f'many/file number {i}.txt'] = i % 3
    sizes['many/FILENU~3.TXT'] = 1
    sizes['many/filenu~12.txt'] = 1
    sizes['many/FILENUMB.TXT'] = 1
    for name, size in sizes.items():
        write_file(os.path.join(root, name), size, rng)
    os.makedirs(os.path.join(root, 'emptydir'), exist_ok=True)
    os.symlink('HELLO.TXT', os.path.join(root, 'link-inside'))
    os.symlink('missing', os.path.join(root, 'link-dangling'))
    stamp(root)


def tree_listing(root):
    """Names, sizes, modes and contents of everything under root: what a run must not change."""
    out = []
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = b''
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as f:
                    data = f.read()
            out.append((os.path.relpath(path, root), st.st_mode, st.st_size, int(st.st_mtime), data))
    return out


def setup_tree(h):
    make_tree(h.path('tree'), 1234)


def byte_identical_images(h):
    for mode in MODES:
        for tag in ('ours', 'ref'):
            out = f'{tag}-{mode.replace(":", "-")}.raw'
            h.must(f'{tag}_img', ['convert', '-f', 'vvfat', '-O', 'raw', f'{mode}:tree', out])
        ours, ref = (h.read(f'{tag}-{mode.replace(":", "-")}.raw') for tag in ('ours', 'ref'))
        h.check(len(ours) == len(ref) and ours == ref, f'convert -O raw {mode}:tree is byte-identical')
        if mode in ('fat', 'fat:floppy'):
            # Without -f the protocol node is wrapped in a probed raw node: the same bytes.
            h.must('ours_img', ['convert', '-O', 'raw', f'{mode}:tree', 'probed.raw'])
            h.check(h.read('probed.raw') == ref, f'convert -O raw {mode}:tree (probed raw) is byte-identical')
        if mode == 'fat':
            read_order_does_not_matter(h, ref)
        for name in (f'{tag}-{mode.replace(":", "-")}.raw' for tag in ('ours', 'ref')):
            os.unlink(h.path(name))


def read_order_does_not_matter(h, ref):
    """A file's short last cluster shows what QEMU's cluster buffer held from the reads before
    it in disk order. Ours reads a cluster's bytes the same whatever came before: here every
    cluster holding data is read last to first, each in its own request, and must match
    QEMU's image read in order."""
    root = (64 + 2 * 252) * 512
    clusters = [root + i * CLUSTER for i in range(2, (len(ref) - root) // CLUSTER)
                if any(ref[root + i * CLUSTER:root + (i + 1) * CLUSTER])]
    clusters.reverse()
    code, out, err = h.run_text('ours_io', ['-r'] + io_commands([f'read -v {c} {CLUSTER}' for c in clusters]) + ['fat:tree'])
    want = b''.join(ref[c:c + CLUSTER] for c in clusters)
    h.check(code == 0 and len(clusters) > 20 and parse_dump(out) == want,
            f'{len(clusters)} data clusters read last to first are the bytes QEMU shows read in order')


def host_file_placement(h):
    """A file's bytes are at the cluster its directory entry names (FAT16 hard disk: the root
    starts at sector 64 + 2 * 252, cluster 2 right after the 2-cluster root)."""
    root = h.path('place')
    write_file(os.path.join(root, 'first.bin'), 3, random.Random(7))
    with open(os.path.join(root, 'first.bin'), 'wb') as f:
        f.write(b'abc')
    stamp(root)
    first_cluster_offset = (64 + 2 * 252) * 512 + 2 * CLUSTER
    h.same_tools('io', ['-r', '-f', 'vvfat', '-c', f'read -P 0x61 {first_cluster_offset} 1',
                        '-c', f'read -v {first_cluster_offset} 16', 'fat:place'], filt=filt_io)


def symlink_out_is_skipped(h):
    """Ours never follows a symlink out of the directory: the disk is the one QEMU makes for
    the same directory without the link (QEMU itself would show /etc/hostname there)."""
    root = h.path('escape')
    write_file(os.path.join(root, 'inside.txt'), 10, random.Random(11))
    os.symlink('/etc/hostname', os.path.join(root, 'link-outside'))
    os.symlink('../tree/HELLO.TXT', os.path.join(root, 'link-up'))
    stamp(root)
    h.must('ours_img', ['convert', '-f', 'vvfat', '-O', 'raw', 'fat:escape', 'escape-ours.raw'])
    # The root directory's own times are nowhere on the disk, so removing the links from it
    # changes nothing else QEMU shows.
    os.unlink(os.path.join(root, 'link-outside'))
    os.unlink(os.path.join(root, 'link-up'))
    h.must('ref_img', ['convert', '-f', 'vvfat', '-O', 'raw', 'fat:escape', 'escape-ref.raw'])
    h.check(h.read('escape-ours.raw') == h.read('escape-ref.raw'), 'symlinks leading outside are skipped')


def filt_io(result):
    code, out, err = result
    return code, filter_io(out), err


def tool_outputs(h):
    tree = 'tree'
    cases = []
    for mode in ['fat', 'fat:32', 'fat:floppy', 'fat:floppy:12', 'fat:16:floppy:', 'fat:7', 'fat:c:tree2']:
        name = mode if mode.endswith(':tree2') else f'{mode}:{tree}'
        cases += [['info', name], ['info', '-f', 'vvfat', name], ['info', '--output=json', name],
                  ['info', '--output=json', '-f', 'vvfat', name]]
    cases += [
        ['info', '-f', 'vvfat', 'fat:tree/'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,label=MY DISK'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,floppy=on,fat-type=16'],
        ['map', '-f', 'vvfat', 'fat:tree'],
        ['map', 'fat:tree'],
        ['map', '--output=json', '-f', 'vvfat', 'fat:tree'],
        ['map', '--output=json', 'fat:floppy:tree'],
        ['check', '-f', 'vvfat', 'fat:tree'],
        ['check', 'fat:tree'],
        # No `compare` of two vvfat nodes: the second node's cluster buffer in QEMU is often
        # recycled heap, so QEMU's answer for a tree against itself depends on its malloc.
    ]
    for args in cases:
        h.same_tools('img', args)
    label_tree = h.path('labelled')
    write_file(os.path.join(label_tree, 'f'), 1, random.Random(3))
    stamp(label_tree)
    for tag in ('ours', 'ref'):
        h.must(f'{tag}_img', ['convert', '--image-opts', '-O', 'raw', 'driver=vvfat,dir=labelled,label=MY DISK',
                              f'{tag}-label.raw'])
    h.check(h.read('ours-label.raw') == h.read('ref-label.raw'), 'label=MY DISK image is byte-identical')
    for commands in (['read -v 0 512'], ['read -v 32256 512'], ['info'], ['length'], ['map'], ['alloc 0 4096'],
                     ['read 528482304 512'], ['read -P 0 528481792 512'], ['read -v 290816 8192'],
                     ['readv -v 290816 100 412'], ['read -v 290917 3']):
        h.same_tools('io', ['-r', '-f', 'vvfat'] + io_commands(commands) + ['fat:tree'], filt=filt_io)
        h.same_tools('io', ['-r'] + io_commands(commands) + ['fat:tree'], filt=filt_io)


def bad_input(h):
    rng = random.Random(99)
    # 255 entries of a long name (3 entries each) do not fit the 512 of the root.
    crowded = h.path('crowded')
    for i in range(200):
        write_file(os.path.join(crowded, f'a rather long file name number {i:03d}'), 0, rng)
    stamp(crowded)
    # 2 MB of data cannot fit a 1.44 MB floppy; 3 GiB (sparse) is over vvfat's 2 GB.
    full = h.path('full')
    write_file(os.path.join(full, 'two-megs.bin'), 2 * 1024 * 1024, rng)
    stamp(full)
    huge = h.path('huge')
    os.makedirs(os.path.join(huge, 'sub'))
    with open(os.path.join(huge, 'sub', 'three-gig'), 'wb') as f:
        f.truncate(3 << 30)
    stamp(huge)
    # Names that are not UTF-8: QEMU prints a message and gives the entry an 8.3 name only.
    badname = h.path('badname')
    os.makedirs(badname)
    for raw in (b'ab\xffcd.txt', b'\xc3x.bin', b'ok.txt', b'\xe5lead'):
        with open(os.path.join(os.fsencode(badname), raw), 'wb') as f:
            f.write(b'z')
    stamp(badname)
    cases = [
        ['info', 'fat:crowded'], ['info', 'fat:floppy:12:full'], ['info', 'fat:floppy:full'], ['info', 'fat:huge'],
        ['info', 'fat:nonexistent'], ['info', 'fat:'], ['info', 'fat:/dev/fdset/3'], ['info', '-f', 'vvfat', 'tree'], ['info', 'vvfat:tree'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,fat-type=7'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,fat-type=x'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,label=TWELVE CHARS'],
        ['info', '--image-opts', 'driver=vvfat'],
        ['info', '-f', 'vvfat', 'fat:rw:tree'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,rw=on'],
        ['info', '--image-opts', 'driver=vvfat,dir=tree,floppy=maybe'],
        ['create', '-f', 'vvfat', 'x.img', '1M'],
        ['convert', '-f', 'vvfat', '-O', 'raw', 'fat:badname', 'OUT'],
    ]
    for args in cases:
        if 'OUT' in args:
            results = []
            for tag in ('ours', 'ref'):
                out = f'{tag}-bad.raw'
                code, o, e = h.run(f'{tag}_img', [out if a == 'OUT' else a for a in args])
                image = h.read(out) if os.path.exists(h.path(out)) else b''
                results.append((code, o, e, hashlib.sha256(image).hexdigest()))
            h.same(f'img {args}', results[0], results[1])
        else:
            h.same_tools('img', args)
    for args in (['-c', 'quit', '-f', 'vvfat', 'fat:tree'], ['-r', '-c', 'quit', '-f', 'vvfat', 'fat:rw:tree'],
                 ['-c', 'quit', 'fat:tree']):
        h.same_tools('io', args)


def rw_overlay(h):
    """Writes QEMU refuses, and writes it keeps in its overlay without committing (the FAT,
    clusters no file owns), through both qemu-io on two copies of one tree."""
    src = h.path('rwsrc')
    rng = random.Random(5)
    # One read-only file, clusters 2 and 3: writes to writable files are committed, which
    # vvfat_rw_test.py covers, so none is here.
    write_file(os.path.join(src, 'ro.bin'), 9000, rng)
    os.chmod(os.path.join(src, 'ro.bin'), 0o444)
    boot = 63 * 512
    data = (64 + 2 * 252) * 512  # cluster 0: the root directory
    scripts = [
        [f'read -v {boot + 32} 16'],
        [f'write -P 0x11 {boot + 37} 1', f'read -v {boot + 32} 16'],
        [f'write -P 0x11 {boot + 36} 1'],
        [f'write -P 0x11 {boot} 1024'],
        ['write -P 0x11 0 512'],
        ['write -P 0x11 512 512'],
        [f'write -P 0x22 {data + 3 * CLUSTER} 512'],
        [f'write -P 0x22 {data + 4 * CLUSTER - 512} 1024'],
        [f'write -P 0x33 {64 * 512} 512', f'read -P 0x33 {64 * 512} 512'],
        [f'write -P 0x33 {1000 * 512 + 7} 100', f'read -v {1000 * 512} 128'],
        [f'write -z {data + 40 * CLUSTER} {CLUSTER}', f'read -P 0 {data + 40 * CLUSTER} {CLUSTER}'],
        [f'write -P 0x44 {data + 50 * CLUSTER + 100} 10', f'read -v {data + 50 * CLUSTER + 96} 16'],
        ['write -P 0x55 528481792 512', 'read -P 0x55 528481792 512'],
        ['write 528482304 512'],
        ['flush', 'discard 0 512'],
    ]
    for i, commands in enumerate(scripts):
        results = []
        for tag in ('ours', 'ref'):
            copy = h.path(f'rw-{tag}')
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(src, copy, symlinks=True)
            before = tree_listing(copy)
            code, out, err = h.run_text(f'{tag}_io', ['-f', 'vvfat'] + io_commands(commands) + [f'fat:rw:rw-{tag}'])
            err = err.replace(f'rw-{tag}', 'rw-X')
            results.append((code, filter_io(out), err))
            if tag == 'ours':
                h.check(tree_listing(copy) == before, f'ours {commands} leaves the host directory unchanged')
        h.same(f'qemu-io rw {commands}', results[0], results[1])
    for tag in ('ours', 'ref'):
        os.chmod(h.path(f'rw-{tag}/ro.bin'), 0o644)


if __name__ == '__main__':
    sys.exit(Harness('vvfat', sys.argv[1:]).main(setup=[('test tree', setup_tree)], sections=[
        ('byte-identical images', byte_identical_images),
        ('file placement', host_file_placement),
        ('symlinks out', symlink_out_is_skipped),
        ('tool outputs', tool_outputs),
        ('bad input', bad_input),
        ('rw overlay', rw_overlay),
    ]))
