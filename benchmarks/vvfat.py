#!/usr/bin/env python3
"""vvfat: our qemu-img next to Debian's QEMU 7.2 on a host tree of 10,000 small files, in one
run, as a Markdown table.

The tree (made once per run, from a fixed seed) is 100 folders of 100 files each, with long
names that need 8.3 aliases and sizes from 0 to 12 KiB, so it spans about 9,900 clusters of
a 504 MiB FAT16 disk (`fat:16:DIR`, the default geometry).

Rows:
  open: `qemu-img info fat:16:DIR`: walking the tree and laying out the disk, nothing read;
  open and read the whole disk: `qemu-img bench -c 504 -s 1M -d 1 fat:16:DIR`, 504 reads of
  1 MiB from offset 0 on, i.e. every sector of the disk once, in order, and nothing else
  (the issue's target: at most 0.5× QEMU's time);
  open, read and write a copy: `qemu-img convert -O raw fat:16:DIR OUT` with OUT on tmpfs,
  the same reads plus convert's zero detection and 80 MiB of writes (no target; for scale).
Each time is the whole process's wall time, the median of --runs runs, the two programs
taking turns (see block.py); the ratio is ours / QEMU, smaller is better. Peak RSS is the
largest ru_maxrss of the row's runs.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from block import DEFAULT_BUILD, find_tools

TARGET = 0.5
DISK_MIB = 504  # fat:16's hard disk: 16 heads, 63 sectors, 1024 cylinders


def make_tree(root, folders, files_per_folder, seed):
    rng = random.Random(seed)
    # A fixed date: the disk's entries then do not depend on when the tree was made.
    stamp = 1_700_000_000
    for d in range(folders):
        folder = os.path.join(root, f"Project folder {d:03d}")
        os.mkdir(folder)
        for f in range(files_per_folder):
            path = os.path.join(folder, f"document number {f:03d}.txt")
            with open(path, "wb") as out:
                out.write(bytes([65 + (d + f) % 26]) * rng.randrange(0, 12 * 1024))
            os.utime(path, (stamp, stamp))
        os.utime(folder, (stamp, stamp))


def measure(runs, contenders, prepare):
    """Median wall time per contender, and its largest peak RSS (KiB) as GNU time reports
    it (the RSS of the program itself, not of the forking Python)."""
    times = {name: [] for name in contenders}
    rss = {name: 0 for name in contenders}
    for _ in range(runs):
        for name, argv in contenders.items():
            prepare()
            start = time.perf_counter()
            result = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
            times[name].append(elapsed)
            rss[name] = max(rss[name], int(result.stderr.split()[-1]))
    return {name: statistics.median(t) for name, t in times.items()}, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=DEFAULT_BUILD, help="our build directory (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--files", type=int, default=100, help="files per folder (default: %(default)s)")
    parser.add_argument("--dir", default=None, help="where the tree goes (default: a new directory in /var/tmp)")
    parser.add_argument("--out-dir", default="/dev/shm", help="where convert writes (default: %(default)s)")
    args = parser.parse_args()

    ours, qemu = find_tools(args.build)
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("needs GNU time for the peak RSS: apt-get install time")
    started = time.perf_counter()
    work = tempfile.mkdtemp(prefix="qemu-vvfat-bench-", dir=args.dir or "/var/tmp")
    out = os.path.join(tempfile.mkdtemp(prefix="qemu-vvfat-bench-", dir=args.out_dir), "disk.raw")
    tree = os.path.join(work, "tree")
    os.mkdir(tree)
    try:
        make_tree(tree, args.folders, args.files, seed=12)
        spec = f"fat:16:{tree}"

        def remove_out():
            if os.path.exists(out):
                os.unlink(out)

        nothing = lambda: None  # noqa: E731
        # One untimed pass each: the tree's inodes are then in the cache for both alike.
        for tools in (ours, qemu):
            subprocess.run([tools["img"], "info", spec], check=True, capture_output=True)
        rows = [
            ("open (qemu-img info)", measure(
                args.runs, {who: [t["img"], "info", spec] for who, t in (("ours", ours), ("qemu", qemu))},
                nothing)),
            ("open and read the whole disk (qemu-img bench, 1 MiB reads)", measure(
                args.runs, {who: [t["img"], "bench", "-c", str(DISK_MIB), "-s", "1M", "-d", "1", spec]
                            for who, t in (("ours", ours), ("qemu", qemu))}, nothing)),
            ("open, read and copy to tmpfs (qemu-img convert -O raw)", measure(
                args.runs, {who: [t["img"], "convert", "-O", "raw", spec, out]
                            for who, t in (("ours", ours), ("qemu", qemu))}, remove_out)),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(os.path.dirname(out), ignore_errors=True)

    total = time.perf_counter() - started
    print(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"{args.folders * args.files} files, median of {args.runs}, {total:.0f} s")
    print(f"ours: {ours['img']}; QEMU: {qemu['img']}")
    print()
    print("| row | ours | QEMU 7.2 | ours / QEMU | target | met? | peak RSS ours / QEMU |")
    print("|---|---|---|---|---|---|---|")
    for name, (t, rss) in rows:
        ratio = t["ours"] / t["qemu"]
        reads_all = "bench" in name
        target = f"≤ {TARGET}×" if reads_all else "-"
        met = ("yes" if ratio <= TARGET else "**no**") if reads_all else "-"
        print(f"| {name} | {t['ours'] * 1000:.0f} ms | {t['qemu'] * 1000:.0f} ms | {ratio:.2f}× | {target} | {met} | "
              f"{rss['ours'] / 1024:.0f} / {rss['qemu'] / 1024:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
