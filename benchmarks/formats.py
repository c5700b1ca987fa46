#!/usr/bin/env python3
"""Format-driver throughput (vdi, vpc, vmdk): our qemu-img and qemu-io next to Debian's QEMU 7.2
in one run, as a Markdown table.

Rows per format:
  qemu-img convert of a half-sparse raw image (alternating MiB of data and hole) to the
  format, and of QEMU's image of that format back to raw; qemu-io sequential 64 KiB
  writes into a fresh empty image of the format (allocating, write-through as qemu-io
  defaults), sequential 64 KiB reads and random 4 KiB reads of the converted image.

--formats takes driver names and these variants: `vmdk` is a monolithicSparse vmdk,
`vmdk-stream` a streamOptimized one (-o subformat=streamOptimized for create and convert;
its 64 KiB writes are whole grains, appended compressed).

Every contender starts from the same files (the fresh images are made by QEMU's qemu-img
before each run), and the contenders of a row take turns run by run (see block.py).
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from block import DEFAULT_BUILD, MIB, find_tools, interleaved, make_holey_image, print_run_header, remove


# --formats name -> (driver, create/convert options, file suffix).
VARIANTS = {
    "vmdk": ("vmdk", ["-o", "subformat=monolithicSparse"], "vmdk"),
    "vmdk-stream": ("vmdk", ["-o", "subformat=streamOptimized"], "stream.vmdk"),
}

# The targets for vmdk (ratios of rates, ours / QEMU): convert in at most 0.7× QEMU's
# time, sequential writes at twice its rate, reads at 1.5×. Other formats: at least QEMU's.
VMDK_TARGETS = {"convert": (1 / 0.7, "≤ 0.7× QEMU time"), "write": (2.0, "≥ 2× QEMU"), "read": (1.5, "≥ 1.5× QEMU")}


def target_for(name, kind):
    if name.startswith("vmdk"):
        return VMDK_TARGETS[kind]
    return (1.0, "≥ QEMU")


def supported_formats(qemu_img):
    out = subprocess.run([qemu_img, "--help"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Supported formats:"):
            return line.split(":", 1)[1].split()
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=DEFAULT_BUILD, help="our build directory (default: %(default)s)")
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (default: %(default)s)")
    parser.add_argument("--write-mib", type=int, default=256,
                        help="how much the sequential write row writes (default: %(default)s)")
    parser.add_argument("--random-reads", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="vdi,vpc,vmdk,vmdk-stream",
                        help="comma-separated; vmdk and vmdk-stream are vmdk subformats (default: %(default)s)")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()

    ours, qemu = find_tools(args.build)
    have = supported_formats(ours["img"])
    formats = [f for f in args.formats.split(",") if VARIANTS.get(f, (f,))[0] in have]
    if not formats:
        sys.exit(f"our qemu-img supports none of {args.formats}")
    contenders = (("ours", ours), ("qemu", qemu))

    size = args.size_mib * MIB
    work = tempfile.mkdtemp(prefix="qemu-format-bench-", dir=args.dir or "/var/tmp")
    src = os.path.join(work, "src.raw")
    started = time.perf_counter()
    rows = []
    try:
        make_holey_image(src, size)
        step = 64 * 1024
        nothing = lambda: None  # noqa: E731
        for name in formats:
            fmt, opts, suffix = VARIANTS.get(name, (name, [], name))
            out = os.path.join(work, "out." + suffix)
            ref = os.path.join(work, "ref." + suffix)
            back = os.path.join(work, "back.raw")
            rows.append((f"{name}: qemu-img convert raw→{name}", "convert", interleaved(args.runs, {
                who: (remove(out), [tools["img"], "convert", "-f", "raw", "-O", fmt] + opts + [src, out], None)
                for who, tools in contenders}), args.size_mib))
            subprocess.run([qemu["img"], "convert", "-f", "raw", "-O", fmt] + opts + [src, ref], check=True)
            rows.append((f"{name}: qemu-img convert {name}→raw", "convert", interleaved(args.runs, {
                who: (remove(back), [tools["img"], "convert", "-f", fmt, "-O", "raw", ref, back], None)
                for who, tools in contenders}), args.size_mib))

            fresh = os.path.join(work, "fresh." + suffix)
            write_size = args.write_mib * MIB

            def recreate():
                if os.path.exists(fresh):
                    os.unlink(fresh)
                subprocess.run([qemu["img"], "create", "-q", "-f", fmt] + opts + [fresh, str(size)], check=True)

            writes = "".join(f"write -q {off} 64k\n" for off in range(0, write_size, step)) + "quit\n"
            rows.append((f"{name}: qemu-io sequential allocating write, 64 KiB", "write", interleaved(args.runs, {
                who: (recreate, [tools["io"], "-f", fmt, fresh], writes) for who, tools in contenders}),
                args.write_mib))
            reads = "".join(f"read -q {off} 64k\n" for off in range(0, size, step)) + "quit\n"
            rows.append((f"{name}: qemu-io sequential read, 64 KiB", "read", interleaved(args.runs, {
                who: (nothing, [tools["io"], "-r", "-f", fmt, ref], reads) for who, tools in contenders}),
                args.size_mib))
            rng = random.Random(2)
            rand = "".join(f"read -q {rng.randrange(size // 4096) * 4096} 4k\n"
                           for _ in range(args.random_reads)) + "quit\n"
            rows.append((f"{name}: qemu-io random read, 4 KiB × {args.random_reads}", "read", interleaved(args.runs, {
                who: (nothing, [tools["io"], "-r", "-f", fmt, ref], rand) for who, tools in contenders}),
                args.random_reads * 4096 / MIB))
            for path in (out, ref, back, fresh):
                if os.path.exists(path):
                    os.unlink(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_run_header(started, args, ours, qemu)
    print("| row | ours | QEMU 7.2 | ours vs QEMU | target | met? |")
    print("|---|---|---|---|---|---|")
    for name, kind, t, mib in rows:
        rate = {who: mib / secs for who, secs in t.items()}
        vs_qemu = rate["ours"] / rate["qemu"]
        want, label = target_for(name, kind)
        print(f"| {name} | {rate['ours']:.0f} MiB/s | {rate['qemu']:.0f} MiB/s | {vs_qemu:.2f}× | {label} | "
              f"{'yes' if vs_qemu >= want else '**no**'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
