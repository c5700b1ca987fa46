#!/usr/bin/env python3
"""rw vvfat: a guest's FAT changes reach the host directory.

The guest is mtools (Debian's, no mkfs): each operation (new file, long name, extend,
delete, delete a folder, rename, move, new folder) is made on a raw copy of the disk our
qemu-img presents, and the sectors it changed are written back, operation by operation in
disk order, through `qemu-io fat:rw:DIR` or through the emulator's HMP qemu-io on a node
whose directory came as an fd in a set. Then the host directory must hold exactly the
tree the guest made, and in the same qemu-io session every file must read back, cluster
by cluster (mshowfat), as the guest wrote it, now served from the committed host files.

For the operations QEMU 7.2 handles reliably (a new file, a rename), Debian's qemu-io given
the same writes must leave the same host tree. The others are checked against the guest's
tree only: QEMU 7.2 aborts on the extend (commit_one_file: Assertion `offset < size'),
leaves deleted files on the host, and its new folder depends on uninitialised heap memory
(with meson's MALLOC_PERTURB_ it fails `commit_direntries: Assertion `mapping'' or drops
the folder's file, for most values).

Usage: vvfat_rw_test.py OUR_QEMU_IMG OUR_QEMU_IO OUR_EMULATOR REF_QEMU_IO
Skips (77) without mtools; the QEMU cross-check is skipped without REF_QEMU_IO.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

from image_harness import parse_dump

MTOOLS_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1", MTOOLS_NO_VFAT="0", LC_ALL="C", SOURCE_DATE_EPOCH="1600000000")
FIXED_TIME = 1600000000  # 2020-09-13, so no test run sees a different date
FAILURES = []
CHECKS = 0


def check(ok, what):
    global CHECKS
    CHECKS += 1
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what)


def pattern(seed, size):
    return bytes((seed * 7 + i * 13 + (i >> 9)) & 0xFF for i in range(size))


# The tree every case starts from: path -> bytes, or None for a directory.
INITIAL = {
    "a.txt": b"hello\n",
    "big.bin": pattern(1, 20000),
    "del.txt": b"gone\n",
    "ren.txt": b"renamed\n",
    "Long Name File.txt": pattern(2, 8192),
    "old": None,
    "old/x.txt": b"in a folder that goes\n",
    "keep": None,
    "keep/inner.bin": pattern(3, 9000),
}

NEW_FILE = b"newfile\n"
LONG_FILE = pattern(4, 3000)
EXTENDED = pattern(5, 41000)
IN_FOLDER = pattern(6, 16385)  # one byte into a third cluster

# (name, mtools command with @NAME for a file of SOURCES, whether QEMU 7.2 takes it,
#  what it does to the tree)
OPERATIONS = [
    ("new 8.3 file", ["mcopy", "@new.txt", "::NEW.TXT"], True,
     lambda t: t.update({"new.txt": NEW_FILE})),
    ("rename to a long name", ["mren", "::ren.txt", "::renamed file.txt"], True,
     lambda t: t.update({"renamed file.txt": t.pop("ren.txt")})),
    ("new folder with a file", ["mmd", "::newdir"], False, lambda t: t.update({"newdir": None})),
    ("file in the new folder", ["mcopy", "@infolder.bin", "::newdir/data.bin"], False,
     lambda t: t.update({"newdir/data.bin": IN_FOLDER})),
    ("new long-named file", ["mcopy", "@long.bin", "::A new long name.bin"], False,
     lambda t: t.update({"A new long name.bin": LONG_FILE})),
    ("extend a file", ["mcopy", "-o", "@extended.bin", "::big.bin"], False,
     lambda t: t.update({"big.bin": EXTENDED})),
    ("delete a file", ["mdel", "::del.txt"], False, lambda t: t.pop("del.txt")),
    ("delete a folder", ["mdeltree", "::old"], False, lambda t: (t.pop("old/x.txt"), t.pop("old"))),
    ("move into another folder", ["mmove", "::keep/inner.bin", "::newdir/moved.bin"], False,
     lambda t: t.update({"newdir/moved.bin": t.pop("keep/inner.bin")})),
]

SOURCES = {"new.txt": NEW_FILE, "long.bin": LONG_FILE, "extended.bin": EXTENDED, "infolder.bin": IN_FOLDER}

# mode prefix, partition offset in the raw disk (mtools' @@offset)
# (a FAT16 floppy and a FAT12 hard disk have cluster counts that make any other reader,
# mtools included, take them for the other FAT type)
MODES = [("", 63 * 512), ("floppy:", 0)]


def make_tree(root, tree):
    os.makedirs(root)
    for path in sorted(tree):
        full = os.path.join(root, path)
        if tree[path] is None:
            os.mkdir(full)
        else:
            with open(full, "wb") as f:
                f.write(tree[path])
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (FIXED_TIME, FIXED_TIME))
    os.utime(root, (FIXED_TIME, FIXED_TIME))


def host_tree(root):
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames:
            tree[os.path.normpath(os.path.join(rel, name))] = None
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                tree[os.path.normpath(os.path.join(rel, name))] = f.read()
    return tree


def describe(tree):
    return sorted((path, "DIR" if data is None else f"{len(data)} bytes") for path, data in tree.items())


def changed_runs(before, after):
    """(first sector, bytes) for each run of changed 512-byte sectors, in disk order."""
    runs = []
    count = len(before) // 512
    i = 0
    while i < count:
        if before[i * 512:(i + 1) * 512] == after[i * 512:(i + 1) * 512]:
            i += 1
            continue
        j = i
        while j < count and before[j * 512:(j + 1) * 512] != after[j * 512:(j + 1) * 512]:
            j += 1
        runs.append((i, after[i * 512:j * 512]))
        i = j
    return runs


def guest_session(work, qemu_img, mode, offset, host_dir, operations=OPERATIONS):
    """Runs every operation on a raw copy of the disk; returns per operation its writes
    (chunk file, disk offset, length), and the final raw copy's path."""
    raw = os.path.join(work, "guest.raw")
    subprocess.run([qemu_img, "convert", "-O", "raw", f"fat:{mode}{host_dir}", raw], check=True)
    for name, data in SOURCES.items():
        with open(os.path.join(work, name), "wb") as f:
            f.write(data)
    image = raw + (f"@@{offset}" if offset else "")
    writes = []
    for index, (name, command, _, _) in enumerate(operations):
        with open(raw, "rb") as f:
            before = f.read()
        args = [os.path.join(work, a[1:]) if a.startswith("@") else a for a in command]
        subprocess.run([args[0], "-i", image] + args[1:], check=True, env=MTOOLS_ENV,
                       stdout=subprocess.DEVNULL)
        with open(raw, "rb") as f:
            after = f.read()
        op_writes = []
        for k, (sector, data) in enumerate(changed_runs(before, after)):
            chunk = os.path.join(work, f"op{index}-{k}.bin")
            with open(chunk, "wb") as f:
                f.write(data)
            op_writes.append((chunk, sector * 512, len(data)))
        check(op_writes, f"{mode or 'hd:'} {name}: mtools changed no sector")
        writes.append(op_writes)
    return writes, image


def qemu_io_writes(writes):
    return [f"write -q -s {chunk} {offset} {length}" for op in writes for (chunk, offset, length) in op]


def file_clusters(image, path):
    """The clusters of a file in the guest's raw copy, from mshowfat."""
    out = subprocess.run(["mshowfat", "-i", image, "::" + path], check=True, env=MTOOLS_ENV,
                         capture_output=True, text=True).stdout
    clusters = []
    for first, last in re.findall(r"<(\d+)(?:-(\d+))?>", out):
        clusters.extend(range(int(first), int(last or first) + 1))
    return clusters


def cluster_reads(image, tree, data_start, cluster_size):
    """qemu-io reads of every file's bytes, cluster by cluster, and what each must show."""
    reads = []
    for path, data in sorted(tree.items()):
        if not data:
            continue
        for index, cluster in enumerate(file_clusters(image, path)):
            piece = data[index * cluster_size:(index + 1) * cluster_size]
            if piece:
                reads.append((path, data_start + (cluster - 2) * cluster_size, piece))
    return reads


def geometry(raw_path, offset):
    """(disk offset of cluster 2, cluster size) from the boot sector QEMU's layout wrote."""
    with open(raw_path, "rb") as f:
        f.seek(offset)
        boot = f.read(512)
    per_cluster = boot[13]
    reserved = int.from_bytes(boot[14:16], "little")
    fats = boot[16]
    root_entries = int.from_bytes(boot[17:19], "little")
    per_fat = int.from_bytes(boot[22:24], "little") or int.from_bytes(boot[36:40], "little")
    first_data = reserved + fats * per_fat + root_entries * 32 // 512
    return offset + first_data * 512, per_cluster * 512


def expected_tree(operations):
    tree = dict(INITIAL)
    for _, _, _, change in operations:
        change(tree)
    return tree


def through_qemu_io(qemu_img, qemu_io, work, mode, offset):
    label = mode or "hd:"
    host = os.path.join(work, "host")
    make_tree(host, INITIAL)
    writes, image = guest_session(work, qemu_img, mode, offset, host)
    want = expected_tree(OPERATIONS)
    data_start, cluster_size = geometry(image.split("@@")[0], offset)
    reads = cluster_reads(image, want, data_start, cluster_size)
    commands = qemu_io_writes(writes) + [f"read -v {at} {len(piece)}" for (_, at, piece) in reads]
    args = [qemu_io, "-f", "vvfat"]
    for command in commands:
        args += ["-c", command]
    run = subprocess.run(args + [f"fat:{mode}rw:{host}"], capture_output=True, text=True)
    check(run.returncode == 0, f"{label} qemu-io exited {run.returncode}: {run.stderr[-500:]}")
    got = host_tree(host)
    check(describe(got) == describe(want), f"{label} host tree after the writes:\n  {describe(got)}\n  want {describe(want)}")
    for path, data in want.items():
        if data is not None and got.get(path) != data:
            check(False, f"{label} host file {path} differs from what the guest wrote")
    # The dumps come in the order of the reads.
    dumps = re.split(r"^read \d+/\d+ bytes at offset \d+\n.*\n", run.stdout, flags=re.M)
    for (path, at, piece), text in zip(reads, dumps):
        check(parse_dump(text) == piece, f"{label} {path} at disk offset {at} does not read back as written")
    check(len(dumps) >= len(reads), f"{label} qemu-io printed {len(dumps)} dumps for {len(reads)} reads")
    # A fresh open of the directory shows the committed tree (the guest's view, again).
    fresh = os.path.join(work, "fresh.raw")
    subprocess.run([qemu_img, "convert", "-O", "raw", f"fat:{mode}{host}", fresh], check=True)
    listing = subprocess.run(["mdir", "-/", "-b", "-i", fresh + (f"@@{offset}" if offset else ""), "::"],
                             capture_output=True, text=True, env=MTOOLS_ENV).stdout
    shown = sorted(line[len("::/"):].rstrip("/").lower() for line in listing.splitlines() if line.startswith("::/"))
    check(shown == sorted(p.lower() for p in want),
          f"{label} the reopened disk lists {shown}")
    return writes


def fat32_refused(qemu_io, work):
    """QEMU's FAT32 disk holds file data inside the root directory (cluster 1), so no
    guest change could be committed: rw is refused with a clear error instead."""
    host = os.path.join(work, "fat32")
    make_tree(host, {"a.txt": b"a"})
    run = subprocess.run([qemu_io, "-f", "vvfat", "-c", "quit", f"fat:32:rw:{host}"], capture_output=True, text=True)
    check(run.returncode == 1 and "'rw' is not supported with FAT32" in run.stderr,
          f"fat:32:rw: exited {run.returncode}: {run.stderr}")


def qemu_cross_check(qemu_img, our_io, ref_io, work):
    """The operations QEMU 7.2 takes, through both qemu-io: the same host tree."""
    taken = [op for op in OPERATIONS if op[2]]
    trees = []
    for who in ("ours", "ref"):
        sub = os.path.join(work, who)
        os.makedirs(sub)
        host = os.path.join(sub, "host")
        make_tree(host, INITIAL)
        writes, _ = guest_session(sub, qemu_img, "", 63 * 512, host, taken)
        binary = ref_io if who == "ref" else our_io
        args = [binary, "-f", "vvfat"]
        for command in qemu_io_writes(writes):
            args += ["-c", command]
        run = subprocess.run(args + [f"fat:rw:{host}"], capture_output=True, text=True)
        check(run.returncode == 0, f"{who} qemu-io on QEMU's subset exited {run.returncode}: {run.stderr[-300:]}")
        trees.append(host_tree(host))
    check(trees[0] == trees[1], f"host trees differ from QEMU 7.2's:\n  ours {describe(trees[0])}\n  "
          f"QEMU {describe(trees[1])}")
    check(trees[0] == expected_tree(taken), "QEMU's subset did not give the guest's tree")


class Monitor:
    """QMP over one end of a socketpair; the emulator has the other as its monitor."""

    def __init__(self, emulator, extra_fds):
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.proc = subprocess.Popen(
            [emulator, "-machine", "none", "-nodefaults", "-display", "none",
             "-chardev", f"socket,id=mon,fd={theirs.fileno()}", "-mon", "chardev=mon,mode=control"],
            pass_fds=[theirs.fileno()] + extra_fds, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        theirs.close()
        self.sock.settimeout(60)
        self.reader = self.sock.makefile("rb")
        json.loads(self.reader.readline())
        self.execute("qmp_capabilities")

    def execute(self, name, arguments=None, fd=None):
        message = {"execute": name}
        if arguments is not None:
            message["arguments"] = arguments
        data = json.dumps(message).encode()
        if fd is None:
            self.sock.sendall(data)
        else:
            socket.send_fds(self.sock, [data], [fd])
        while True:
            reply = json.loads(self.reader.readline())
            if "event" not in reply:
                return reply

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def close(self):
        self.execute("quit")
        self.sock.close()
        out, err = self.proc.communicate(timeout=60)
        return out.decode(errors="replace"), err.decode(errors="replace")


def through_emulator(qemu_img, emulator, work):
    """The same guest session on a node whose directory is an fd in a set, and whose
    written sectors come from pattern files passed as fds too: the emulator is given no
    path at all, and the directory is renamed once passed, so no path could reach it."""
    host = os.path.join(work, "host")
    make_tree(host, INITIAL)
    writes, _ = guest_session(work, qemu_img, "", 63 * 512, host)
    mon = Monitor(emulator, [])
    baseline = mon.fd_count()
    dir_fd = os.open(host, os.O_RDONLY | os.O_DIRECTORY)
    reply = mon.execute("add-fd", {"fdset-id": 1, "opaque": "share"}, fd=dir_fd)
    os.close(dir_fd)
    check("return" in reply, f"add-fd of the directory: {reply}")
    moved = os.path.join(work, "host-moved")
    os.rename(host, moved)
    reply = mon.execute("blockdev-add", {"driver": "vvfat", "node-name": "v0", "dir": "/dev/fdset/1",
                                         "rw": True, "read-only": False})
    check("return" in reply, f"blockdev-add vvfat rw on the fd set: {reply}")
    for op_index, op in enumerate(writes):
        for k, (chunk, offset, length) in enumerate(op):
            fd = os.open(chunk, os.O_RDONLY)
            name = f"w{op_index}-{k}"
            added = mon.execute("add-fd", {"fdset-id": 2, "opaque": name}, fd=fd)
            os.close(fd)
            check("return" in added, f"add-fd of {name}: {added}")
            reply = mon.execute("human-monitor-command", {
                "command-line": f'qemu-io v0 "write -q -s /dev/fdset/2/{name} {offset} {length}"'})
            check(reply.get("return") == "", f"HMP qemu-io write {name}: {reply}")
            mon.execute("remove-fd", {"fdset-id": 2, "fd": added.get("return", {}).get("fd", -1)})
    got = host_tree(moved)
    want = expected_tree(OPERATIONS)
    check(describe(got) == describe(want), f"emulator: host tree after the writes:\n  {describe(got)}\n  "
          f"want {describe(want)}")
    check(got == want, "emulator: host file contents differ from what the guest wrote")
    reply = mon.execute("blockdev-del", {"node-name": "v0"})
    check("return" in reply, f"blockdev-del: {reply}")
    mon.execute("remove-fd", {"fdset-id": 1})
    check(mon.execute("query-fdsets").get("return") == [], "fd sets left behind")
    check(mon.fd_count() == baseline, f"emulator holds {mon.fd_count()} fds, {baseline} before")
    out, err = mon.close()
    check("write failed" not in out, f"emulator printed: {out[-500:]}")


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    qemu_img, qemu_io, emulator, ref_io = sys.argv[1:5]
    if not all(shutil.which(tool) for tool in ("mcopy", "mshowfat", "mdir", "mren", "mmove", "mdeltree")):
        print("mtools is not installed: skipped")
        return 77
    work = tempfile.mkdtemp(prefix="vvfat-rw-")
    try:
        for mode, offset in MODES:
            case = os.path.join(work, "io-" + (mode.strip(":").replace(":", "-") or "hd"))
            os.makedirs(case)
            through_qemu_io(qemu_img, qemu_io, case, mode, offset)
        fat32_refused(qemu_io, work)
        case = os.path.join(work, "emulator")
        os.makedirs(case)
        through_emulator(qemu_img, emulator, case)
        if os.path.exists(ref_io):
            case = os.path.join(work, "qemu")
            os.makedirs(case)
            qemu_cross_check(qemu_img, qemu_io, ref_io, case)
        else:
            print(f"{ref_io} not found: the QEMU 7.2 cross-check is skipped")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{CHECKS} checks, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
