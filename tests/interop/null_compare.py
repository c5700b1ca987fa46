#!/usr/bin/env python3
"""The null-co and null-aio protocols through our qemu-img/qemu-io and Debian's (QEMU 7.2):
the same command lines, with null block devices named by json: filenames, by their own
"null-co://" name, and as the file child of raw, must give the same stdout, stderr and exit
code once qemu-io's timing numbers are masked; qemu-img convert must write the same bytes.

usage: null_compare.py OUR_QEMU_IMG OUR_QEMU_IO [REFERENCE_QEMU_IMG REFERENCE_QEMU_IO]
Exits 77 (skipped) when the reference binaries are not installed."""
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77

# _filter_qemu_io's timing mask: everything after "SIZE, " differs run to run.
TIMING = re.compile(r"[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\)")

ZEROES_1M = 'json:{"driver":"null-co","size":1048576,"read-zeroes":true}'
AIO_ZEROES = 'json:{"driver":"null-aio","size":2097152,"read-zeroes":true,"latency-ns":0}'
PLAIN_64K = 'json:{"driver":"null-co","size":65536}'
RAW_OVER_NULL = 'json:{"driver":"raw","offset":512,"file":{"driver":"null-co","size":4096,"read-zeroes":true}}'

# (tool, arguments); OUT is replaced by a per-run output path.
CASES = [
    ("io", ["-c", "read -P 0 0 64k", ZEROES_1M]),
    ("io", ["-c", "write -P 1 0 4k", "-c", "read -P 0 0 4k", "-c", "map", "-c", "alloc 0 1M", "-c", "length",
            "-c", "info", "-c", "flush", AIO_ZEROES]),
    ("io", ["-c", "read 0 512", "-c", "map", "-c", "length", PLAIN_64K]),
    ("io", ["-c", "read -P 0 0 3584", "-c", "read 3584 512", "-c", "length", RAW_OVER_NULL]),
    ("io", ["-r", "-c", "length", "null-co://"]),
    ("io", ["-c", "length", "null-co://foo"]),
    ("io", ["-c", "length", 'json:{"driver":"null-co","filename":"x"}']),
    ("io", ["-c", "length", 'json:{"driver":"null-co","latency-ns":-1}']),
    ("img", ["info", ZEROES_1M]),
    ("img", ["info", "--output=json", ZEROES_1M]),
    ("img", ["info", "null-co://"]),
    ("img", ["info", "-f", "null-aio", "null-aio://"]),
    ("img", ["info", 'json:{"driver":"null-co","latency-ns":5}']),
    ("img", ["info", RAW_OVER_NULL]),
    ("img", ["info", "--output=json", RAW_OVER_NULL]),
    ("img", ["map", ZEROES_1M]),
    ("img", ["map", "--output=json", ZEROES_1M]),
    ("img", ["map", "--output=json", PLAIN_64K]),
    ("img", ["map", "--output=json", RAW_OVER_NULL]),
    ("img", ["map", "null-aio://"]),
    ("img", ["convert", "-O", "raw", ZEROES_1M, "OUT"]),
    ("img", ["convert", "-O", "raw", RAW_OVER_NULL, "OUT"]),
    ("img", ["measure", "-O", "raw", ZEROES_1M]),
    ("img", ["compare", ZEROES_1M, 'json:{"driver":"null-aio","size":1048576,"read-zeroes":true}']),
    ("img", ["check", ZEROES_1M]),
]


def run(binary, args, out_path):
    args = [out_path if a == "OUT" else a for a in args]
    proc = subprocess.run([binary] + args, capture_output=True, timeout=60)
    stdout = TIMING.sub("X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)", proc.stdout.decode(errors="replace"))
    # The tools name themselves in their errors.
    stderr = proc.stderr.decode(errors="replace").replace(binary + ":", "TOOL:")
    result = {"stdout": stdout, "stderr": stderr, "exit": proc.returncode}
    if "OUT" in args or out_path in args:
        with open(out_path, "rb") as f:
            result["output bytes"] = f.read()
        os.unlink(out_path)
    return result


def main():
    ours = {"img": sys.argv[1], "io": sys.argv[2]}
    reference = {"img": sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/qemu-img",
                 "io": sys.argv[4] if len(sys.argv) > 4 else "/usr/bin/qemu-io"}
    if not all(os.access(path, os.X_OK) for path in reference.values()):
        print("reference qemu-img/qemu-io not installed; skipping")
        return SKIP
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (tool, args) in enumerate(CASES):
            name = "%s %s" % ("qemu-img" if tool == "img" else "qemu-io", " ".join(args))
            got = run(ours[tool], args, os.path.join(tmp, "ours-%d.raw" % index))
            want = run(reference[tool], args, os.path.join(tmp, "ref-%d.raw" % index))
            diffs = [key for key in want if got.get(key) != want[key]]
            if diffs:
                failures += 1
                print("FAIL %s" % name)
                for key in diffs:
                    shown_got = got.get(key) if key != "output bytes" else len(got.get(key) or b"")
                    shown_want = want[key] if key != "output bytes" else len(want[key])
                    print("  %s:\n    ours: %r\n    qemu: %r" % (key, shown_got, shown_want))
            else:
                print("ok   %s" % name)
    print("%d of %d cases differ" % (failures, len(CASES)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
