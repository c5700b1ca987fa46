#!/usr/bin/env python3
"""Requests in flight together (issue 14): `qemu-img bench` of ours next to Debian's QEMU 7.2
in one run, as a Markdown table, plus fio and qemu-img convert rows.

Bench rows: raw, vdi and vpc images of --size-mib (default 1 GiB, filled with data, so every
block of vdi and vpc is allocated; vdi and vpc are made by QEMU's own convert), reads and
writes of 4 KiB and 64 KiB at depth 1, 8 and 32, with cache none (O_DIRECT) and writeback.
QEMU runs each with -i threads, io_uring and (cache none only) native, and its best mode
counts; ours runs -i io_uring. Each figure is the time `qemu-img bench` prints itself (the
requests only, not the open), the median of --runs runs taken in turns. Targets: at depth
32 ours at least 1.2x QEMU's rate, at depth 1 at least 1.0x; depth 8 is shown only.

fio row: `fio --ioengine=io_uring --direct=1 --iodepth=32` sequential 4 KiB reads of the raw
image (the better of fio's default submission and batches of 32) against ours on the same
file: ours within 15% of fio's rate. Needs Debian's fio. Also fio's 64 KiB sequential reads
and writes at depth 32, shown beside the raw 64 KiB cache-none bench rows as the disk's ceiling.

Convert rows: raw -> vdi, raw -> vpc and back, wall time (median of at least 5 runs, each
into a new target after a sync, after one untimed run; every run is listed), ours at most
0.8x QEMU's.

Files live in --dir (default a new directory under /var/tmp, on disk: tmpfs has no
O_DIRECT). The machine's disk is virtual and the host caches it, so absolute figures say
little; the ratios compare the programs on the same file in the same minutes.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BUILD = os.path.join(HERE, "..", "build-bench")
MIB = 1 << 20
RUN_LINE = re.compile(r"Run completed in ([0-9.]+) seconds")


def bench_seconds(img, args):
    result = subprocess.run([img, "bench"] + args, capture_output=True, text=True)
    found = RUN_LINE.search(result.stdout)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"{img} bench {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return float(found.group(1))


def wall_seconds(argv):
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return time.perf_counter() - start


def convert_seconds(argv, target):
    """A convert's wall time into a target that does not exist yet, with nothing left dirty
    by the previous run: otherwise one program's run pays for the other's writeback (and
    for truncating the old target), which moved the same row from 0.2 s to 0.8 s."""
    if os.path.exists(target):
        os.unlink(target)
    os.sync()
    return wall_seconds(argv)


def median_in_turns(runs, contenders, samples=None):
    """contenders maps a name to a function returning seconds; they run A B C A B C ...
    Every time taken goes to `samples` (name -> list) when it is given."""
    times = {name: [] for name in contenders}
    for _ in range(runs):
        for name, measure in contenders.items():
            times[name].append(measure())
    if samples is not None:
        samples.update(times)
    return {name: statistics.median(t) for name, t in times.items()}


def fio_iops(path, count, rw="read", size="4k"):
    """fio's better rate of two runs: its defaults (one submission per request) and
    batched submission and completion (32 at a time), which is what our loop does."""
    best = 0
    for batch in ([], ["--iodepth_batch_submit=32", "--iodepth_batch_complete_max=32"]):
        result = subprocess.run(
            ["fio", "--name=seq", f"--filename={path}", "--ioengine=io_uring", "--direct=1", f"--rw={rw}",
             f"--bs={size}", "--iodepth=32", f"--number_ios={count}", "--output-format=json"] + batch,
            capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"fio failed: {result.stderr.strip()}")
        best = max(best, json.loads(result.stdout)["jobs"][0][rw]["iops"])
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=DEFAULT_BUILD, help="our build directory (default: %(default)s)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run, fewer requests, depth 1 and 32 only")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()

    ours = os.path.join(args.build, "tools", "qemu-img", "qemu-img")
    qemu = "/usr/bin/qemu-img"
    for path in (ours, qemu):
        if not os.access(path, os.X_OK):
            sys.exit(f"not executable: {path} (ninja -C {args.build} tools/qemu-img/qemu-img; "
                     "apt-get install qemu-utils)")
    runs = 1 if args.quick else args.runs
    # A convert's time swings with the kernel's writeback more than a bench's does.
    convert_runs = 1 if args.quick else max(runs, 5)
    depths = (1, 32) if args.quick else (1, 8, 32)
    counts = {"4k": 5000 if args.quick else 20000, "64k": 1000 if args.quick else 4000}

    work = tempfile.mkdtemp(prefix="qemu-aio-bench-", dir=args.dir or "/var/tmp")
    started = time.perf_counter()
    rows = []
    try:
        raw = os.path.join(work, "img.raw")
        with open(raw, "wb") as f:
            chunk = bytes(range(256)) * (MIB // 256)
            for _ in range(args.size_mib):
                f.write(chunk)
        images = {"raw": raw}
        for fmt in ("vdi", "vpc"):
            images[fmt] = os.path.join(work, f"img.{fmt}")
            subprocess.run([qemu, "convert", "-f", "raw", "-O", fmt, raw, images[fmt]], check=True)

        for fmt, image in images.items():
            for write in (False, True):
                for cache in ("none", "writeback"):
                    for size in ("4k", "64k"):
                        for depth in depths:
                            base = (["-w"] if write else []) + ["-c", str(counts[size]), "-d", str(depth),
                                                                "-t", cache, "-f", fmt, "-s", size, image]
                            modes = ["threads", "io_uring"] + (["native"] if cache == "none" else [])
                            contenders = {f"qemu-{m}": (lambda m=m: bench_seconds(qemu, ["-i", m] + base))
                                          for m in modes}
                            contenders["ours"] = lambda: bench_seconds(ours, ["-i", "io_uring"] + base)
                            t = median_in_turns(runs, contenders)
                            best = min((v, k) for k, v in t.items() if k != "ours")
                            rows.append((fmt, "write" if write else "read", cache, size, depth, counts[size],
                                         t["ours"], best[0], best[1][len("qemu-"):]))

        fio_row = None
        ceiling_rows = []
        if shutil.which("fio"):
            count = counts["4k"] * 5
            t = median_in_turns(runs, {
                "ours": lambda: bench_seconds(ours, ["-c", str(count), "-d", "32", "-t", "none", "-i", "io_uring",
                                                     "-f", "raw", "-s", "4k", raw]),
                "fio": lambda: count / fio_iops(raw, count),
            })
            fio_row = (count, t["ours"], t["fio"])
            # What the disk gives at 64 KiB and depth 32 with O_DIRECT: a ceiling for the
            # bench rows of that size (shown, no target).
            count = counts["64k"]
            for rw in ("read", "write"):
                t = median_in_turns(runs, {"fio": lambda rw=rw: count / fio_iops(raw, count, rw, "64k")})
                ceiling_rows.append((rw, count, t["fio"]))

        convert_rows = []
        for fmt in ("vdi", "vpc"):
            out = os.path.join(work, f"out.{fmt}")
            back = os.path.join(work, "back.raw")
            for label, src, src_fmt, dst, dst_fmt in ((f"raw → {fmt}", raw, "raw", out, fmt),
                                                     (f"{fmt} → raw", images[fmt], fmt, back, "raw")):
                # One untimed run first: the first convert into a new place took 2-3 s
                # whichever program ran it (the file system's first allocation of those
                # blocks), and the program that goes first would always pay for it.
                convert_seconds([qemu, "convert", "-f", src_fmt, "-O", dst_fmt, src, dst], dst)
                samples = {}
                t = median_in_turns(convert_runs, {
                    who: (lambda tool=tool, src=src, src_fmt=src_fmt, dst=dst, dst_fmt=dst_fmt:
                          convert_seconds([tool, "convert", "-f", src_fmt, "-O", dst_fmt, src, dst], dst))
                    for who, tool in (("ours", ours), ("qemu", qemu))}, samples)
                convert_rows.append((label, t["ours"], t["qemu"], samples))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Run {time.strftime('%Y-%m-%d %H:%M')}, {time.perf_counter() - started:.0f} s, runs={runs}, "
          f"image {args.size_mib} MiB in {args.dir or '/var/tmp'}; ours: {ours} (-i io_uring); QEMU: {qemu}, best of "
          "threads/io_uring/native per row")
    print()
    print("| format | op | cache | size | depth | ours IOPS | QEMU best IOPS (mode) | ours vs QEMU | target | met? |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fmt, op, cache, size, depth, count, ours_t, qemu_t, mode in rows:
        ratio = qemu_t / ours_t
        target = {1: 1.0, 32: 1.2}.get(depth)
        met = "—" if target is None else ("yes" if ratio >= target else "**no**")
        print(f"| {fmt} | {op} | {cache} | {size} | {depth} | {count / ours_t:.0f} | {count / qemu_t:.0f} ({mode}) | "
              f"{ratio:.2f}× | {'≥ %.1f×' % target if target else '—'} | {met} |")
    print()
    if fio_row:
        count, ours_t, fio_t = fio_row
        ratio = fio_t / ours_t
        print("| raw read 4 KiB, depth 32, O_DIRECT | ours IOPS | fio io_uring IOPS | ours vs fio | target | met? |")
        print("|---|---|---|---|---|---|")
        print(f"| {count} requests | {count / ours_t:.0f} | {count / fio_t:.0f} | {ratio:.2f}× | ≥ 0.85× | "
              f"{'yes' if ratio >= 0.85 else '**no**'} |")
        print()
        print("| raw, 64 KiB, depth 32, O_DIRECT | fio io_uring IOPS | ours IOPS (bench row) | QEMU best IOPS (bench row) |")
        print("|---|---|---|---|")
        bench = {(r[0], r[1], r[2], r[3], r[4]): r for r in rows}
        for rw, count, fio_t in ceiling_rows:
            row = bench.get(("raw", rw, "none", "64k", 32))
            ours_iops = f"{row[5] / row[6]:.0f}" if row else "—"
            qemu_iops = f"{row[5] / row[7]:.0f}" if row else "—"
            print(f"| {rw} | {count / fio_t:.0f} | {ours_iops} | {qemu_iops} |")
    else:
        print("fio row: n/a (apt-get install fio)")
    print()
    print("| qemu-img convert | ours | QEMU 7.2 | ours / QEMU time | target | met? |")
    print("|---|---|---|---|---|---|")
    for label, ours_t, qemu_t, _ in convert_rows:
        ratio = ours_t / qemu_t
        print(f"| {label} | {ours_t:.2f} s | {qemu_t:.2f} s | {ratio:.2f}× | ≤ 0.8× | {'yes' if ratio <= 0.8 else '**no**'} |")
    print()
    print("Every convert run, in the order taken (seconds):")
    print()
    for label, _, _, samples in convert_rows:
        runs_text = "; ".join(f"{who} " + " ".join(f"{x:.2f}" for x in samples[who]) for who in ("ours", "qemu"))
        print(f"- {label}: {runs_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
