#!/usr/bin/env python3
"""Runs the same qemu-io command lists through our qemu-io and Debian's (QEMU 7.2) on
identical fresh images, and checks that stdout, stderr, the exit code and the image bytes
afterwards are the same once the timing numbers are masked the way QEMU's iotests do.
Also checks that our open image blocks a real qemu-img that wants it exclusively.

usage: qemu_io_compare.py OUR_QEMU_IO [REFERENCE_QEMU_IO]
Exits 77 (skipped) when the reference binary is not installed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
MIB = 1 << 20

# _filter_qemu_io's timing mask: everything after "SIZE, " differs run to run.
TIMING = re.compile(r"[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\)")
# -C lines: "bytes,ops,H:MM:SS.ss,bytes/sec,ops/sec"
MACHINE = re.compile(r"^(\d+),(\d+),\d+:\d\d:\d\d\.\d\d,[0-9.inf]+,[0-9.inf]+$", re.M)


# Generated node names count every node the process made, so they differ by design.
NODE_NAME = re.compile(r"#block[0-9]+")


def mask(text):
    text = TIMING.sub("X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)", text)
    text = NODE_NAME.sub("#blockN", text)
    return MACHINE.sub(r"\1,\2,T,B,O", text)


def data(pattern_writes, size):
    """Image content: zeros with (offset, length, byte) runs."""
    buf = bytearray(size)
    for offset, length, byte in pattern_writes:
        buf[offset:offset + length] = bytes([byte]) * length
    return bytes(buf)


# (name, image bytes or None for no image, qemu-io arguments with IMG for the image path,
#  stdin for interactive cases)
CASES = [
    ("write-read-verify", data([], MIB), ["-f", "raw", "-c", "write -P 0x11 0 4k", "-c", "read -P 0x11 0 4k",
                                         "-c", "read -P 0x12 0 512", "-c", "read -v 0 32", "-c", "read -C 0 4k",
                                         "-c", "read -q -P 0x11 512 512", "IMG"], None),
    ("unaligned-and-vectored", data([(0, 4096, 0x5a)], MIB),
     ["-f", "raw", "-c", "write -P 7 1 3", "-c", "read -v 0 16", "-c", "writev -P 3 4k 512 1k 100",
      "-c", "readv -P 3 4k 512 1k 100", "-c", "readv -v 4095 3 2", "-c", "writev -C 8k 1k", "IMG"], None),
    ("pattern-ranges", data([(0, 512, 1)], MIB),
     ["-f", "raw", "-c", "read -P 1 -l 512 0 1k", "-c", "read -P 0 -s 512 0 1k", "-c", "read -P 1 -s 100 -l 10 0 1k",
      "-c", "read -l 600 -P 1 0 512", "-c", "read -l 5 0 512", "-c", "read -P 300 0 1", "-c", "read -P x 0 1", "IMG"],
     None),
    ("zeroes-discard-map", data([(0, MIB, 0x77)], MIB),
     ["-f", "raw", "-c", "write -z 8k 4k", "-c", "write -z -u 64k 64k", "-c", "discard 128k 64k",
      "-c", "read -P 0 8k 4k", "-c", "read -P 0 64k 64k", "-c", "map", "-c", "alloc 0 1M", "-c", "alloc 4k",
      "-c", "alloc 1 2", "IMG"], None),
    ("aio", data([], MIB),
     ["-f", "raw", "-c", "aio_write -P 9 64k 4k 4k", "-c", "aio_flush", "-c", "aio_read -P 9 64k 8k", "-c", "aio_flush",
      "-c", "aio_read -v 64k 16", "-c", "aio_flush", "-c", "aio_read -P 8 64k 512", "-c", "aio_flush",
      "-c", "aio_write -q 0 512", "-c", "aio_flush", "-c", "flush", "-c", "aio_read 2M 512", "-c", "aio_flush",
      "IMG"], None),
    # readv fails where aio_read only reports: a pattern mismatch and a read past the end;
    # aio -i announces an invalid request at once, whatever follows it.
    ("readv-vs-aio-read-failures", data([], MIB),
     ["-f", "raw", "-c", "aio_read -i 0 512", "-c", "aio_read -i 0", "-c", "aio_write -i 0 512", "-c", "aio_flush", "-c", "aio_read -q -P 7 0 512", "-c", "aio_flush",
      "-c", "readv -q -P 7 0 512", "-c", "readv 2M 512", "-c", "readv -i 0 512", "IMG"], None),
    ("length-info-truncate", data([], 1000),
     ["-f", "raw", "-c", "length", "-c", "read -P 0 512 512", "-c", "info", "-c", "truncate 3M", "-c", "length",
      "-c", "truncate -m falloc 4M", "-c", "truncate -m full 5M", "-c", "truncate -m bad 1M", "-c", "truncate -m falloc 1M",
      "-c", "truncate 512", "-c", "length", "-c", "map", "IMG"], None),
    ("protocol-info", data([], 4096), ["-f", "file", "-c", "info", "-c", "length", "IMG"], None),
    # reopen: access mode and cache changes, and what may not change; blkdebug's commands
    # on an image without blkdebug.
    ("reopen", data([], MIB),
     ["-f", "raw", "-r", "-c", "write 0 512", "-c", "reopen -w", "-c", "write -P 1 0 512", "-c", "reopen -r",
      "-c", "write 0 512", "-c", "reopen -c none -w", "-c", "write -P 2 512 512", "-c", "read -P 2 512 512",
      "-c", "reopen -o read-only=on", "-c", "reopen -c bad", "-c", "reopen -r -w", "-c", "reopen x", "-c", "reopen -q",
      "-c", "reopen -r -o read-only=off", "-c", "reopen -c none -o cache.direct=off", "-c", "reopen -o file.locking=off",
      "-c", "reopen -o file.aio=native", "-c", "reopen -o force-share=on", "-c", "reopen -o read-only=maybe",
      "-c", "reopen -o driver=file", "-c", "reopen -o node-name=x", "-c", "reopen -o size=1024", "-c", "length",
      "-c", "reopen -o offset=512", "-c", "read -P 2 0 512", "-c", "length", "-c", "help reopen", "IMG"], None),
    ("reopen-no-file", None, ["-c", "reopen -r"], None),
    ("blkdebug-commands", data([], MIB),
     ["-f", "raw", "-c", "break write_aio A", "-c", "break", "-c", "remove_break A", "-c", "resume A",
      "-c", "resume", "-c", "wait_break", "-c", "help break", "-c", "help wait_break", "IMG"], None),
    ("past-end", data([], MIB),
     ["-f", "raw", "-c", "read 1M 512", "-c", "write 1M 1", "-c", "discard 2M 512", "-c", "read 1048575 2",
      "-c", "readv 1M 512", "-c", "writev 1M 512", "IMG"], None),
    ("bad-arguments", data([], MIB),
     ["-f", "raw", "-c", "bogus", "-c", "read", "-c", "read x 1", "-c", "read 0 2G", "-c", "write -z 0 3G",
      "-c", "write -n 0 512", "-c", "write -u 0 512", "-c", "write -z -P 1 0 512", "-c", "write -b -z 0 512",
      "-c", "write -q", "-c", "length x", "-c", "discard 0 2G", "-c", "readv 0", "-c", "writev 1 x", "-c", "read -Q 0 1",
      "-c", "alloc", "-c", "alloc 0 1 2", "-c", "truncate", "-c", "read 1.5k 1", "-c", "read 0x200 0x10",
      "-c", "read 1.5 1", "-c", "read 99999999999999999999 1", "-c", "read 8E 1", "-c", "sleep x", "-c", "help nope",
      "-c", "help read", "-c", "help map", "-c", "help close", "IMG"], None),
    ("read-only", data([(0, 512, 3)], MIB),
     ["-r", "-f", "raw", "-c", "write 0 512", "-c", "truncate 2M", "-c", "discard 0 512", "-c", "aio_write 0 512",
      "-c", "writev 0 512", "-c", "read -P 3 0 512", "IMG"], None),
    ("probed-raw", data([(0, 512, 0x41)], MIB), ["-c", "write -P 0x42 0 512", "-c", "read -P 0x42 0 512", "IMG"], None),
    ("probed-raw-read-only", data([], MIB), ["-r", "-c", "read 0 512", "IMG"], None),
    ("image-opts", data([(0, 4096, 1), (4096, 4096, 2)], 64 * 1024),
     ["--image-opts", "-c", "read -P 2 0 4k", "-c", "length", "-c", "write -P 5 0 512", "-c", "write 4k 1",
      "driver=raw,offset=4096,size=8192,file.filename=IMG"], None),
    ("image-opts-errors-offset", data([], MIB), ["--image-opts", "driver=raw,file.filename=IMG,offset=2M"], None),
    ("image-opts-errors-sum", data([], MIB), ["--image-opts", "driver=raw,file.filename=IMG,offset=512,size=1M"], None),
    ("image-opts-errors-size", data([], MIB), ["--image-opts", "driver=raw,file.filename=IMG,size=1000"], None),
    ("image-opts-errors-format", data([], MIB), ["--image-opts", "driver=raw,file.filename=IMG,bogus=1"], None),
    ("image-opts-errors-protocol", data([], MIB), ["--image-opts", "driver=file,filename=IMG,bogus=1"], None),
    ("image-opts-and-f", data([], MIB), ["--image-opts", "-f", "raw", "driver=raw"], None),
    ("json-filename", data([(512, 512, 9)], MIB),
     ["-c", "length", "-c", "read -P 9 0 512", "-c", "write -P 1 0 512",
      'json:{"driver": "raw", "file": {"driver": "file", "filename": "IMG", "locking": "off"}, "offset": 512, '
      '"size": 4096}'], None),
    ("json-filename-flat-keys", data([], MIB), ["-c", "length", 'json:{"driver": "raw", "file.filename": "IMG"}'], None),
    ("json-filename-bad", data([], MIB), ["-c", "length", "json:{bad"], None),
    ("json-filename-not-object", data([], MIB), ["-c", "length", "json:[1]"], None),
    # Neither a driver nor a file to probe.
    ("json-filename-no-driver-no-file", data([], MIB), ["-c", "length", 'json:{"node-name": "x"}'], None),
    ("image-opts-no-driver-no-file", data([], MIB), ["--image-opts", "-c", "length", "node-name=x"], None),
    ("json-filename-read-only-node", data([], MIB),
     ["-c", "length", 'json:{"file": {"filename": "IMG"}, "read-only": true}'], None),
    ("write-from-file-misaligned-machine", data([], MIB),
     ["-m", "-f", "raw", "-c", "write -s IMG 4k 1k", "-c", "read -C -v 4k 32", "-c", "write -s /nonexistent 0 512",
      "-c", "write -C -P 0x61 0 512", "-c", "read -v 0 64", "IMG"], None),
    # A pattern file that is empty or a directory is refused; a short one repeats.
    ("write-from-file-refusals", data([], MIB),
     ["-f", "raw", "-c", "write -s /dev/null 0 512", "-c", "write -s / 0 512", "-c", "write -s /dev/zero 0 4k",
      "-c", "read -P 0 0 4k", "IMG"], None),
    ("unknown-driver", data([], MIB), ["-f", "foo", "IMG"], None),
    ("missing-file", None, ["-f", "raw", "-c", "length", "/nonexistent/img"], None),
    ("directory", None, ["-f", "raw", "-c", "length", "/"], None),
    ("bad-cache", data([], MIB), ["-t", "bogus", "IMG"], None),
    ("bad-discard", data([], MIB), ["-d", "bogus", "IMG"], None),
    ("bad-aio", data([], MIB), ["-i", "bogus", "IMG"], None),
    ("native-without-direct", data([], MIB), ["-f", "raw", "-i", "native", "IMG"], None),
    ("two-files", data([], MIB), ["IMG", "IMG"], None),
    ("options-after-the-file", data([], MIB), ["-f", "raw", "IMG", "-c", "length", "-c", "read 0 1"], None),
    ("force-share-read-write", data([], MIB), ["-U", "-f", "raw", "-c", "length", "IMG"], None),
    ("force-share-read-only", data([], MIB), ["-U", "-r", "-f", "raw", "-c", "read 0 512", "IMG"], None),
    ("bad-option", data([], MIB), ["-Z", "IMG"], None),
    ("o-direct", data([(0, 8192, 0x33)], MIB),
     ["-n", "-f", "raw", "-c", "write -P 4 1 3", "-c", "read -v 0 16", "-c", "write -P 6 4000 200",
      "-c", "read -P 6 4000 200", "-c", "read -P 0x33 4200 100", "-c", "readv -P 6 4096 104", "IMG"], None),
    ("cache-modes", data([], MIB),
     ["-t", "unsafe", "-f", "raw", "-c", "write 0 4k", "-c", "flush", "-c", "read -P 0xcd 0 4k", "IMG"], None),
    ("discard-ignore", data([(0, 8192, 1)], MIB),
     ["-d", "ignore", "-f", "raw", "-c", "discard 0 4k", "-c", "read -P 1 0 4k", "IMG"], None),
    ("open-close", data([(0, 512, 2)], MIB),
     ["-c", "length", "-c", "open", "-c", "open -r -o driver=raw IMG", "-c", "read -P 2 0 512", "-c", "write 0 512",
      "-c", "open IMG", "-c", "close", "-c", "close", "-c", "length", "-c", "open -f raw IMG", "-c", "open -n -t bad IMG",
      "-c", "open -d bad IMG", "-c", "open -o driver=raw IMG", "-c", "write -P 8 0 512", "-c", "quit",
      "-c", "read 0 512"], None),
    ("interactive", data([], MIB), ["-f", "raw", "IMG"],
     "length\nread 0 512\nbogus\n\nwrite -P 1   0  512\nclose\nlength\nopen -f raw IMG\nopen -o driver=raw IMG\n"
     "read -P 1 0 512\nquit\nlength\n"),
    ("interactive-eof", data([], MIB), ["-f", "raw", "IMG"], "length\n"),
]


def run(binary, args, stdin):
    # argv[0] is "qemu-io" for both, so usage and getopt messages name the same program.
    proc = subprocess.run(["qemu-io"] + args, executable=binary, input=stdin, capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, mask(proc.stdout), mask(proc.stderr)


def compare_case(ours, reference, workdir, case):
    name, content, args, stdin = case
    results = []
    for label, binary in (("ours", ours), ("qemu", reference)):
        path = os.path.join(workdir, f"{name}-{label}.img")
        if content is not None:
            with open(path, "wb") as f:
                f.write(content)
        real_args = [a.replace("IMG", path) for a in args]
        real_stdin = stdin.replace("IMG", path) if stdin else None
        rc, out, err = run(binary, real_args, real_stdin)
        out = out.replace(path, "IMG")
        err = err.replace(path, "IMG")
        image = None
        if content is not None:
            with open(path, "rb") as f:
                image = f.read()
        results.append((rc, out, err, image))
    problems = []
    for what, index in (("exit code", 0), ("stdout", 1), ("stderr", 2), ("image bytes", 3)):
        if results[0][index] != results[1][index]:
            if what == "image bytes":
                problems.append(f"{what} differ")
            else:
                problems.append(f"{what} differs:\n--- ours\n{results[0][index]}\n--- qemu\n{results[1][index]}")
    return problems


def check_lock_conflict(ours, workdir):
    """Our qemu-io holds the image read-write (bytes 100, 101); qemu-img convert wants
    nobody else writing, so the real one must refuse with QEMU's message."""
    qemu_img = shutil.which("qemu-img", path="/usr/bin")
    if not qemu_img:
        return []
    path = os.path.join(workdir, "locked.img")
    with open(path, "wb") as f:
        f.write(bytes(MIB))
    holder = subprocess.Popen(["qemu-io", "-f", "raw", path], executable=ours, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The prompt means the image is open and locked.
        prompt = holder.stdout.read(len("qemu-io> "))
        if prompt != b"qemu-io> ":
            return [f"our qemu-io did not open the image: {prompt!r}"]
        proc = subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "raw", path, path + ".out"],
                              capture_output=True, text=True, timeout=60)
        expected = (f"qemu-img: Could not open '{path}': Failed to get shared \"write\" lock\n"
                    f"Is another process using the image [{path}]?\n")
        if proc.returncode != 1 or proc.stderr != expected:
            return [f"qemu-img convert against our lock: rc={proc.returncode} stderr={proc.stderr!r}"]
        # With the lock released, the same convert works.
        holder.communicate(b"quit\n", timeout=30)
        proc = subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "raw", path, path + ".out"],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            return [f"qemu-img convert after our qemu-io quit: rc={proc.returncode} {proc.stderr!r}"]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    return []


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    ours = sys.argv[1]
    reference = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/qemu-io"
    if not os.access(reference, os.X_OK):
        print(f"SKIP: {reference} is not installed")
        return SKIP
    failures = 0
    with tempfile.TemporaryDirectory(prefix="qemu-io-compare-", dir=os.environ.get("TMPDIR", "/var/tmp")) as workdir:
        for case in CASES:
            problems = compare_case(ours, reference, workdir, case)
            status = "ok" if not problems else "FAIL"
            print(f"{status}: {case[0]}")
            for problem in problems:
                print("  " + problem.replace("\n", "\n  "))
            failures += bool(problems)
        problems = check_lock_conflict(ours, workdir)
        print(f"{'ok' if not problems else 'FAIL'}: lock-conflict-with-qemu-img")
        for problem in problems:
            print("  " + problem)
        failures += bool(problems)
    print(f"{len(CASES) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
