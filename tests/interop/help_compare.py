#!/usr/bin/env python3
"""The help requests and their neighbouring errors through our qemu-system-x86_64 and
qemu-img and Debian's (QEMU 7.2). Errors must match exactly (exit status, stdout,
stderr). A list must keep QEMU's format and exit status and be QEMU's list with some
entries left out, in QEMU's order: we list only what this build has.

usage: help_compare.py OUR_SYSTEM OUR_QEMU_IMG OUR_QEMU_IO
Exits 77 (skipped) when the reference binaries are not installed."""
import os
import subprocess
import sys

SKIP = 77
COMMON = ["-nodefaults", "-display", "none", "-machine", "none"]

# Byte-for-byte the same as QEMU 7.2.
EXACT = [
    ["-drive", "format=help,cache=bogus"],
    ["-drive", "format=help,if=bogus"],
    ["-drive", "format=help,readonly=maybe"],
    ["-drive", "format=help,aio=bogus"],
    ["-drive", "format=help,media=bad"],
    ["-drive", "format=help,snapshot=bad"],
    ["-drive", "format=help,index=x"],
    ["-drive", "format=help,copy-on-read=x"],
    ["-drive", "format=help,detect-zeroes=bad"],
    ["-drive", "format=help,id=#"],
    ["-drive", "format=help,id=a", "-drive", "format=help,id=a"],
    ["-drive", "file=/nonexistent/x", "-drive", "format=help"],
    ["-drive", "format=help", "-chardev", "bogus,id=x"],
    ["-chardev", "bogus,id=x", "-chardev", "help"],
    ["-blockdev", "help"],
    ["-blockdev", "driver=null-co,help"],
    ["-blockdev", "help,driver=null-co"],
    ["-blockdev", "driver=help"],
    ["-chardev", "bogus,id=x", "-blockdev", "help"],
    ["-object", "foo,id=x"],
    ["-object", "foo,help"],
    ["-object", "id=x,help"],
    ["-device", "foo"],
    ["-device", "foo,help"],
    ["-device", "id=x"],
    ['-device', '{"driver":"help"}'],
    ["-accel", "help", "-foo"],
    ["-accel", ",x=y"],
    ["-machine", "accel=foo"],
    ["-machine", "accel=foo:bar"],
    ["-m", "foo", "-bogus"],
]

# Lists: (arguments, how the output is split into entries).
LISTS = [
    (["-drive", "format=help"], "formats"),
    (["-drive", "format=?"], "formats"),
    (["-drive", "format=help,bogus=1,rerror=bad,snapshot=on"], "formats"),
    (["-chardev", "help"], "lines"),
    (["-chardev", "null,id=x", "-chardev", "help"], "lines"),
    (["-chardev", "help", "-chardev", "bogus,id=x"], "lines"),
    (["-accel", "help"], "lines"),
    (["-accel", "help", "-m", "foo"], "lines"),
    (["-accel", "x=y"], "lines"),
    (["-object", "help"], "lines"),
    (["-object", "qom-type=help"], "lines"),
    (["-device", "help"], "sections"),
    (["-device", "virtio-blk-device,help"], "lines"),
]


def run(binary, args):
    proc = subprocess.run([binary] + args, capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    # Debian's build warns on stderr about its optional UI modules.
    err = b"".join(line for line in proc.stderr.splitlines(keepends=True) if not line.startswith(b"qemu: module "))
    return proc.returncode, proc.stdout.decode(errors="replace"), err.decode(errors="replace")


def is_subsequence(ours, theirs):
    it = iter(theirs)
    return all(any(entry == other for other in it) for entry in ours)


def entries(text, how):
    """Splits a list into (format skeleton, entries)."""
    if how == "lines":
        lines = text.splitlines()
        return lines[:1], lines[1:]
    if how == "sections":
        # -device help: QEMU prints only the categories that have models, so the headings
        # are entries too.
        return [], text.splitlines()
    # Two lines, "Supported formats: a b" and "Supported formats (read-only): a b".
    lines = text.splitlines()
    heads = [line.split(":", 1)[0] for line in lines]
    names = [line.split(":", 1)[1].split() for line in lines if ":" in line]
    if len(names) == 2 and names[0] == names[1]:
        return heads, names[0]
    return heads, names


def compare_list(label, ours, theirs, how):
    """None if ours is QEMU's list with entries left out, else the reason it is not."""
    if ours[0] != theirs[0] or ours[2] != theirs[2]:
        return f"status/stderr differ: ours {ours[0]} {ours[2]!r}, QEMU {theirs[0]} {theirs[2]!r}"
    our_skeleton, our_entries = entries(ours[1], how)
    their_skeleton, their_entries = entries(theirs[1], how)
    if our_skeleton != their_skeleton and our_entries:
        return f"format differs: ours {our_skeleton}, QEMU {their_skeleton}"
    if not our_entries and how == "lines" and ours[1] not in ("", theirs[1].splitlines(keepends=True)[0]):
        return f"empty list printed as {ours[1]!r}"
    if not is_subsequence(our_entries, their_entries):
        return f"{our_entries} is not a part of QEMU's {their_entries}"
    if how == "formats" and our_entries != sorted(our_entries):
        return f"formats not sorted: {our_entries}"
    if not ours[1].endswith("\n") and ours[1]:
        return "no final newline"
    return None


def compare_img_help(our_img, ref_img):
    """qemu-img --help: the same text but for the version line and the format list."""
    failures = 0
    for flag in ("--help", "-h"):
        ours = run(our_img, [flag])
        theirs = run(ref_img, [flag])
        our_lines = ours[1].splitlines()
        their_lines = theirs[1].splitlines()
        if ours[0] != theirs[0] or ours[0] != 0 or len(our_lines) != len(their_lines):
            print(f"qemu-img {flag}: status {ours[0]} vs {theirs[0]}, {len(our_lines)} vs {len(their_lines)} lines")
            failures += 1
            continue
        for index, (mine, ref) in enumerate(zip(our_lines, their_lines)):
            if index == 0:
                same = mine.split(" version ")[0] == ref.split(" version ")[0]
            elif ref.startswith("Supported formats:"):
                our_names, ref_names = mine.split(":", 1)[1].split(), ref.split(":", 1)[1].split()
                same = (mine.startswith("Supported formats: ") and our_names == sorted(our_names)
                        and is_subsequence(our_names, ref_names))
            else:
                same = mine == ref
            if not same:
                print(f"qemu-img {flag} line {index + 1}:\n  ours: {mine}\n  QEMU: {ref}")
                failures += 1
    return failures


# The tools' --object help: QEMU lists its types and exits 0 while reading the options.
TOOL_OBJECT_HELP = [
    ("img", ["info", "--object", "help", "x"]),
    ("img", ["info", "--object", "help,id=o", "x"]),
    ("img", ["check", "--object", "help", "x"]),
    ("img", ["create", "--object", "help", "-f", "raw", "x", "1M"]),
    ("img", ["convert", "--object", "help", "a", "b"]),
    ("img", ["compare", "--object", "help", "a", "b"]),
    ("img", ["map", "--object", "help", "x"]),
    ("img", ["measure", "--object", "help", "--size", "1M"]),
    ("img", ["dd", "--object", "help"]),
    ("io", ["--object", "help"]),
]


def compare_tool_object_help(tools):
    failures = 0
    for tool, args in TOOL_OBJECT_HELP:
        ours, theirs = run(tools[tool][0], args), run(tools[tool][1], args)
        problem = compare_list(" ".join(args), ours, theirs, "lines")
        if problem:
            failures += 1
            print(f"qemu-{tool} {' '.join(args)}: {problem}")
    return failures


def main():
    our_system, our_img, our_io = sys.argv[1], sys.argv[2], sys.argv[3]
    ref_system = "/usr/bin/qemu-system-x86_64"
    ref_img = "/usr/bin/qemu-img"
    ref_io = "/usr/bin/qemu-io"
    if not all(os.access(ref, os.X_OK) for ref in (ref_system, ref_img, ref_io)):
        print("no reference QEMU, skipped")
        return SKIP
    failures = 0
    for args in EXACT:
        ours, theirs = run(our_system, COMMON + args), run(ref_system, COMMON + args)
        if ours != theirs:
            failures += 1
            print(f"{' '.join(args)}:\n  ours: {ours}\n  QEMU: {theirs}")
    for args, how in LISTS:
        ours, theirs = run(our_system, COMMON + args), run(ref_system, COMMON + args)
        problem = compare_list(" ".join(args), ours, theirs, how)
        if problem:
            failures += 1
            print(f"{' '.join(args)}: {problem}\n  ours: {ours}\n  QEMU: {theirs[0]} {theirs[1][:300]!r}")
    failures += compare_img_help(our_img, ref_img)
    failures += compare_tool_object_help({"img": (our_img, ref_img), "io": (our_io, ref_io)})
    # The emulator and qemu-img list the same drivers.
    drive_help = run(our_system, COMMON + ["-drive", "format=help"])[1].splitlines()[0]
    img_help = next(line for line in run(our_img, ["--help"])[1].splitlines() if line.startswith("Supported formats:"))
    if drive_help != img_help:
        failures += 1
        print(f"-drive format=help and qemu-img --help differ:\n  {drive_help}\n  {img_help}")
    print(f"{len(EXACT) + len(LISTS) + len(TOOL_OBJECT_HELP) + 3} cases compared, {failures} differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
