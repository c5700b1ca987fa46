#!/usr/bin/env python3
"""Block-layer throughput: our qemu-img and qemu-io next to Debian's QEMU 7.2 and next to
cp/dd on the same file (the physical limit), in one run, as a Markdown table.

Rows:
  qemu-img convert raw -> raw of an image with holes (half data, half holes), beside
  `cp --sparse=always`; qemu-io sequential 64 KiB writes and reads over the image, beside
  dd with bs=64k; qemu-io random 4 KiB reads. qemu-io gets its requests as one command per
  line on stdin (`write -q OFF 64k`), so the per-command cost of qemu-io itself is part of
  the figure, for both binaries alike.

Each figure is the median of --runs runs (default 3), the contenders of a row taking turns
run by run so that noise from neighbours hits them alike. Files live in --dir (default a new
directory under /var/tmp, i.e. on disk rather than tmpfs). Reads are served from the page
cache after the first pass for every program alike; the table is a comparison of the
programs' own overhead, not of the disk.
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

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BUILD = os.path.join(HERE, "..", "build-bench")
MIB = 1 << 20


def timed(argv, stdin_text=None):
    start = time.perf_counter()
    result = subprocess.run(argv, input=stdin_text, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def interleaved(runs, contenders):
    """Median times of several commands run in turn (A B C A B C ...), so that a noisy
    neighbour or a slow disk moment hits every contender alike. contenders maps a name to
    (prepare, argv, stdin_text)."""
    times = {name: [] for name in contenders}
    for _ in range(runs):
        for name, (prepare, argv, stdin_text) in contenders.items():
            prepare()
            times[name].append(timed(argv, stdin_text))
    return {name: statistics.median(t) for name, t in times.items()}


def find_tools(build):
    """Our qemu-img/qemu-io from the build directory and Debian's, all checked runnable."""
    ours = {"img": os.path.join(build, "tools", "qemu-img", "qemu-img"),
            "io": os.path.join(build, "tools", "qemu-io", "qemu-io")}
    qemu = {"img": "/usr/bin/qemu-img", "io": "/usr/bin/qemu-io"}
    for path in list(ours.values()) + list(qemu.values()):
        if not os.access(path, os.X_OK):
            sys.exit(f"not executable: {path} (build with: ninja -C {build} tools/qemu-img/qemu-img "
                     "tools/qemu-io/qemu-io; apt-get install qemu-utils)")
    return ours, qemu


def print_run_header(started, args, ours, qemu):
    total = time.perf_counter() - started
    print(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"image {args.size_mib} MiB, median of {args.runs}, {total:.0f} s")
    print(f"ours: {ours['img']}, {ours['io']}; QEMU: {qemu['img']}, {qemu['io']}")
    print()


def make_holey_image(path, size):
    """Alternating 1 MiB of data and 1 MiB of hole."""
    chunk = bytes(random.Random(1).getrandbits(8) for _ in range(4096)) * (MIB // 4096)
    with open(path, "wb") as f:
        f.truncate(size)
        for offset in range(0, size, 2 * MIB):
            f.seek(offset)
            f.write(chunk)


def remove(path):
    def run():
        if os.path.exists(path):
            os.unlink(path)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=DEFAULT_BUILD, help="our build directory (default: %(default)s)")
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (default: %(default)s)")
    parser.add_argument("--random-reads", type=int, default=20000, help="4 KiB random reads (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()

    ours, qemu = find_tools(args.build)

    size = args.size_mib * MIB
    work = tempfile.mkdtemp(prefix="qemu-block-bench-", dir=args.dir or "/var/tmp")
    src = os.path.join(work, "src.raw")
    dst = os.path.join(work, "dst.raw")
    image = os.path.join(work, "io.raw")
    started = time.perf_counter()
    rows = []
    try:
        make_holey_image(src, size)
        mib = size / MIB

        convert = interleaved(args.runs, {
            who: (remove(dst), [tools["img"], "convert", "-f", "raw", "-O", "raw", src, dst], None)
            for who, tools in (("ours", ours), ("qemu", qemu))} | {
            "cp": (remove(dst), ["cp", "--sparse=always", src, dst], None)})
        rows.append(("qemu-img convert raw→raw, half holes", convert, mib))

        with open(image, "wb") as f:
            f.truncate(size)
        step = 64 * 1024
        writes = "".join(f"write -q {off} 64k\n" for off in range(0, size, step)) + "quit\n"
        reads = writes.replace("write", "read")
        count = size // step
        nothing = lambda: None  # noqa: E731
        seq_w = interleaved(args.runs, {
            who: (nothing, [tools["io"], "-f", "raw", image], writes) for who, tools in (("ours", ours), ("qemu", qemu))
        } | {"cp": (nothing, ["dd", "if=/dev/zero", f"of={image}", "bs=64k", f"count={count}", "conv=notrunc",
                              "status=none"], None)})
        seq_r = interleaved(args.runs, {
            who: (nothing, [tools["io"], "-f", "raw", image], reads) for who, tools in (("ours", ours), ("qemu", qemu))
        } | {"cp": (nothing, ["dd", f"if={image}", "of=/dev/null", "bs=64k", "status=none"], None)})
        rows.append(("qemu-io sequential write, 64 KiB", seq_w, mib))
        rows.append(("qemu-io sequential read, 64 KiB", seq_r, mib))

        rng = random.Random(2)
        blocks = size // 4096
        rand = "".join(f"read -q {rng.randrange(blocks) * 4096} 4k\n" for _ in range(args.random_reads)) + "quit\n"
        rand_r = interleaved(args.runs, {
            who: (nothing, [tools["io"], "-f", "raw", image], rand) for who, tools in (("ours", ours), ("qemu", qemu))})
        rows.append((f"qemu-io random read, 4 KiB × {args.random_reads}", rand_r, args.random_reads * 4096 / MIB))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_run_header(started, args, ours, qemu)
    print("| row | ours | QEMU 7.2 | cp/dd | ours vs QEMU | ours vs cp/dd | target | met? |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t, mib in rows:
        rate = {who: mib / secs for who, secs in t.items()}
        vs_qemu = rate["ours"] / rate["qemu"]
        cp_cell = f"{rate['cp']:.0f} MiB/s" if "cp" in rate else "—"
        vs_cp = f"{t['ours'] / t['cp']:.2f}× time" if "cp" in t else "—"
        if name.startswith("qemu-img convert"):
            target, met = "≥ QEMU, ≤ 1.5× cp time", vs_qemu >= 1 and t["ours"] <= 1.5 * t["cp"]
        else:
            target, met = "≥ QEMU", vs_qemu >= 1
        print(f"| {name} | {rate['ours']:.0f} MiB/s | {rate['qemu']:.0f} MiB/s | {cp_cell} | {vs_qemu:.2f}× | "
              f"{vs_cp} | {target} | {'yes' if met else '**no**'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
