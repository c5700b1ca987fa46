#!/usr/bin/env python3
"""Runs one scripted QMP conversation against our qemu-system-x86_64 and against Debian's
QEMU, and checks that every reply is the same once the values that differ by nature are
masked (version numbers, timestamps, fd numbers, QEMU 7.2's dropped 'singlestep'). A second
conversation runs HMP qemu-io on a -drive with werror=stop,rerror=stop over blkdebug errors,
a third HMP qemu-io's aio requests, one held at a blkdebug breakpoint across commands, a
fourth blockdev-reopen's `backing` over vmdk nodes, then its `file`, and a last one the
permission conflicts between nodes.

usage: qmp_compare.py OUR_BINARY REFERENCE_BINARY"""
import json
import os
import shutil
import re
import socket
import subprocess
import sys
import tempfile
import time

# (bytes to send, fds to attach). Each step is followed by reading replies until the
# expected count arrived; a parse-error battery needs exact bytes.
STEPS = [
    b'{"execute": "query-version", "id": "before"}\n',
    b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob", "bogus"]}}\n',
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "query-name", "id": "cookie#1"}\n',
    b'{"execute": "query-status", "id": 1}\n',
    b'{"execute": "query-version", "id": {"nested": [1, 2.5, null, true]}}\n',
    b'{"execute": "query-version", "id": null}\n',
    b'{]\n',
    b'{\xff\n',
    b'{\x01\n',
    b"{'bad \xff\n",
    b'{"execute": "a\nb"}\n',
    b'%p\n',
    b'null\n',
    b'{}\n',
    b"{'execute': true}\n",
    b'{"execute": "query-name", "arguments": []}\n',
    b'{"execute": "query-name", "extra": 1}\n',
    b'{"id": 5}\n',
    b'{"exec-oob": "query-name"}\n',
    b'{"execute": "no-such-cmd", "id": "x"}\n',
    b'{"execute": "human-monitor-command", "id": 2}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "bogus"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info bogus"}}\n',
    b'{"execute": "query-name", "arguments": {"x": 1}}\n',
    b'{"execute": "stop"}\n',
    b'{"execute": "stop"}\n',
    b'{"execute": "query-status"}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}\n',
    b'{"execute": "cont"}\n',
    b'{"execute": "cont"}\n',
    b'{"execute": "query-target"}\n',
    b'{"execute": "query-target", "arguments": {"x": 1}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "system_reset"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "system_reset x"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "help system_reset"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "s x"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info status x"}}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "cont  "}}\n',
    b'{"execute": "system_reset"}\n',
    b'{"execute": "system_reset", "arguments": {"x": 1}}\n',
    b'{"execute": "stop"}\n',
    b'{"execute": "system_reset"}\n',
    b'{"execute": "query-status"}\n',
    b'{"execute": "cont"}\n',
    b'{"execute": "query-status"}\n',
    b'{"execute": "query-fdsets"}\n',
    b'{"execute": "add-fd"}\n',
    b'{"execute": "getfd", "arguments": {"fdname": "x"}}\n',
    b'{"execute": "closefd", "arguments": {"fdname": "x"}}\n',
    b'{"execute": "remove-fd", "arguments": {"fdset-id": 9}}\n',
    b'{"execute": "remove-fd", "arguments": {"fdset-id": 0, "fd": 99}}\n',
    (b'{"execute": "add-fd", "arguments": {"fdset-id": 1, "opaque": "rw"}}\n', "rw"),
    (b'{"execute": "add-fd", "arguments": {"fdset-id": 1, "opaque": "ro"}}\n', "ro"),
    (b'{"execute": "add-fd", "arguments": {}}\n', "ro"),
    (b'{"execute": "add-fd", "arguments": {"fdset-id": -1}}\n', "ro"),
    b'{"execute": "add-fd", "arguments": {"fdset-id": "1"}}\n',
    b'{"execute": "query-fdsets"}\n',
    b'{"execute": "remove-fd", "arguments": {"fdset-id": 0, "fd": 99}}\n',
    b'{"execute": "remove-fd", "arguments": {"fdset-id": 1}}\n',
    b'{"execute": "query-fdsets"}\n',
    (b'{"execute": "getfd", "arguments": {"fdname": "1abc"}}\n', "ro"),
    (b'{"execute": "getfd", "arguments": {"fdname": "x"}}\n', "ro"),
    b'{"execute": "closefd", "arguments": {"fdname": "x"}}\n',
    b'{"execute": "closefd", "arguments": {"fdname": "x"}}\n',
    b'{"execute": "quit"}\n',
]


def mask(value, fds):
    """Replaces what differs by nature with stable placeholders."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "singlestep":
                continue  # QEMU 7.2 still had it; upstream removed it in 8.1
            if "zone_append" in key:
                continue  # upstream 8.1 added zone append counters to BlockDeviceStats
            if key.endswith("_time_ns") and isinstance(item, int):
                out[key] = "NS"  # measured durations
                continue
            if (key.endswith("_latency_ns") or key.endswith("_queue_depth")) and item != 0:
                out[key] = "MEASURED"  # timed_stats of requests that took time
                continue
            if key == "timestamp":
                out[key] = "TIMESTAMP"
            elif key in ("qemu", "package") and isinstance(item, (dict, str)):
                out[key] = "VERSION"
            elif key == "fd" and isinstance(item, int):
                out[key] = fds.setdefault(item, f"FD{len(fds)}")
            elif key in ("cid", "parent-cid") and isinstance(item, int):
                out[key] = "CID"  # random in every vmdk create
            else:
                out[key] = mask(item, fds)
        return out
    if isinstance(value, list):
        return [mask(item, fds) for item in value]
    if isinstance(value, str):
        value = re.sub(r"(_time_ns=)\d+", r"\1NS", value)  # info blockstats' durations
        value = re.sub(r"((?:parent )?cid: )\d+", r"\1CID", value)  # info block -v of a vmdk
        return re.sub(r"#block\d+", "#blockN", value)  # generated node names count differently
    return value


def hmp(command_line):
    return json.dumps({"execute": "human-monitor-command",
                       "arguments": {"command-line": command_line}}).encode() + b"\n"


# werror/rerror act where a guest device's request fails (QEMU's blk_error_action). Machine
# none has no device, and HMP qemu-io's requests report their error and leave the VM
# running in QEMU too: no STOP, no BLOCK_IO_ERROR. The error line goes to stdout.
ERROR_ACTION_STEPS = [
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "query-status"}\n',
    hmp('qemu-io d0 "write -P 0x5a 0 512"'),
    hmp('qemu-io d0 "read 0 512"'),
    hmp('qemu-io d0 "read -P 0 512 512"'),
    b'{"execute": "query-status"}\n',
    b'{"execute": "stop"}\n',
    hmp('qemu-io d0 "write -P 0x11 1024 512"'),
    b'{"execute": "cont"}\n',
    hmp('qemu-io d0 "read -P 0x11 1024 512"'),
    b'{"execute": "query-status"}\n',
    b'{"execute": "quit"}\n',
]


def error_action_args(work, image):
    config = os.path.join(work, "blkdebug.conf")
    with open(config, "w") as f:
        for event in ("write_aio", "read_aio"):
            f.write(f'[inject-error]\nevent = "{event}"\nerrno = "5"\nsector = "0"\n')
    return ["-drive", f"if=none,id=d0,format=raw,werror=stop,rerror=stop,file=blkdebug:{config}:{image}"]


# HMP qemu-io's aio requests on a -drive run on after the command has answered, and their
# reports print from the main loop. One held at a blkdebug breakpoint stays there across
# other commands until `resume`, and only then prints "wrote".
AIO_STEPS = [
    b'{"execute": "qmp_capabilities"}\n',
    hmp('qemu-io d0 "aio_write -P 0x11 512 512"'),
    hmp('qemu-io d0 "aio_flush"'),
    hmp('qemu-io d0 "break write_aio A"'),
    hmp('qemu-io d0 "aio_write -P 0x5a 0 512"'),
    b'{"execute": "query-status"}\n',
    hmp('qemu-io d0 "resume A"'),
    b'{"execute": "query-status"}\n',
    b'{"execute": "quit"}\n',
]


def aio_args(work, image):
    config = os.path.join(work, "blkdebug.conf")
    open(config, "w").close()
    return ["-drive", f"if=none,id=d0,format=raw,file=blkdebug:{config}:{image}"]


def qmp(command, **arguments):
    message = {"execute": command}
    if arguments:
        message["arguments"] = arguments
    return json.dumps(message).encode() + b"\n"


def reopen_steps(work):
    """blockdev-reopen's `backing` over vmdk nodes (every node named, so no generated name
    enters the replies): a new backing node, none, the errors QEMU gives, and the json:
    names and backing_file the queries then show."""
    def vmdk(name, backing=Ellipsis):
        options = {"driver": "vmdk", "node-name": name, "file": name + "f"}
        if backing is not Ellipsis:
            options["backing"] = backing
        return options

    def reopen(*options):
        return qmp("blockdev-reopen", options=list(options))

    steps = [b'{"execute": "qmp_capabilities"}\n']
    for name in ("b1", "b2", "top"):
        steps.append(qmp("blockdev-add", driver="file", **{"node-name": name + "f"},
                         filename=os.path.join(work, name + ".vmdk")))
    steps += [
        qmp("blockdev-add", **vmdk("b1")),
        qmp("blockdev-add", **vmdk("b2")),
        qmp("blockdev-add", **vmdk("top", "b1")),
        qmp("query-named-block-nodes", flat=True),
        hmp('qemu-io top "read -P 0x11 0 64k"'),
        reopen(vmdk("top", "b2")),
        qmp("query-named-block-nodes", flat=True),
        hmp('qemu-io top "read -P 0x22 0 64k"'),
        reopen(vmdk("top", None)),
        qmp("query-named-block-nodes", flat=True),
        hmp('qemu-io top "read -P 0 0 64k"'),
        reopen(vmdk("top")),
        reopen(vmdk("top", "nope")),
        reopen(vmdk("top", "top")),
        reopen(vmdk("top", "b2")),
        reopen(vmdk("b2", "top")),
        qmp("blockdev-del", **{"node-name": "b2"}),
        reopen(vmdk("top", "topf")),
        qmp("query-named-block-nodes", flat=True),
        reopen(vmdk("top", "b1")),
        qmp("query-block"),
        b'{"execute": "quit"}\n',
    ]
    return steps


def reopen_file_steps(work):
    """blockdev-reopen's `file`: a vmdk and a raw node move to other file nodes (a copy of
    the same image, another image, a format node), and the errors QEMU gives for a missing
    node, a cycle and a read-only file under a writable node."""
    def reopen(**options):
        return qmp("blockdev-reopen", options=[options])

    def node(driver, name, file):
        return {"driver": driver, "node-name": name, "file": file}

    steps = [b'{"execute": "qmp_capabilities"}\n']
    for name, image, extra in (("b1f", "b1.vmdk", {}), ("b2f", "b2.vmdk", {}), ("cf", "copy.vmdk", {}),
                               ("rof", "b2.vmdk", {"read-only": True})):
        steps.append(qmp("blockdev-add", driver="file", **{"node-name": name}, filename=os.path.join(work, image),
                         **extra))
    steps += [
        qmp("blockdev-add", **node("vmdk", "v", "b1f")),
        qmp("blockdev-add", **node("raw", "r", "b2f")),
        hmp('qemu-io v "read -P 0x11 0 64k"'),
        reopen(**node("vmdk", "v", "cf")),
        qmp("query-named-block-nodes", flat=True),
        hmp('qemu-io v "read -P 0x11 0 64k"'),
        reopen(**node("raw", "r", "b1f")),
        hmp('qemu-io r "read -v 0 32"'),
        reopen(**node("vmdk", "v", "nope")),
        reopen(**node("vmdk", "v", "v")),
        reopen(**node("raw", "r", "r")),
        reopen(**node("vmdk", "v", "rof")),
        reopen(**node("vmdk", "v", "r")),
        hmp('qemu-io v "read -P 0x11 0 64k"'),
        reopen(**node("raw", "r", "v")),
        qmp("blockdev-del", **{"node-name": "b1f"}),
        qmp("blockdev-del", **{"node-name": "b2f"}),
        qmp("blockdev-del", **{"node-name": "cf"}),
        qmp("query-named-block-nodes", flat=True),
        qmp("query-block"),
        b'{"execute": "quit"}\n',
    ]
    return steps


def make_permission_images(work, qemu_img):
    """Fresh images for each binary's permission conversation."""
    for name in ("a", "b", "c"):
        subprocess.run([qemu_img, "create", "-q", "-f", "vdi", os.path.join(work, name + ".vdi"), "1M"], check=True)
    for name in ("d", "e"):
        subprocess.run([qemu_img, "create", "-q", "-f", "raw", os.path.join(work, name + ".raw"), "1M"], check=True)
    subprocess.run([qemu_img, "create", "-q", "-f", "vpc", os.path.join(work, "f.vpc"), "1M"], check=True)
    subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", os.path.join(work, "base.vmdk"), "1M"], check=True)
    subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk",
                    os.path.join(work, "top.vmdk")], check=True)


def permission_steps(work):
    """QEMU's permissions between nodes: a writable format takes write and resize on its
    file and shares neither, raw with a window refuses resize, the "Permission conflict"
    texts that name both users, and a reopen to read-write that one of them refuses."""
    def add(driver, name, file=None, **extra):
        options = {"driver": driver, "node-name": name}
        if driver == "file":
            options["filename"] = os.path.join(work, file)
        else:
            options["file"] = file
        return qmp("blockdev-add", **options, **extra)

    def reopen(name, file, read_only):
        return qmp("blockdev-reopen", options=[{"driver": "vdi", "node-name": name, "file": file,
                                                 "read-only": read_only}])

    def delete(name):
        return qmp("blockdev-del", **{"node-name": name})

    return [
        b'{"execute": "qmp_capabilities"}\n',
        add("file", "f", "a.vdi"),
        add("vdi", "v1", "f"),
        add("vdi", "v2", "f"),
        add("vdi", "v3", "f", **{"read-only": True}),
        add("raw", "r1", "f"),
        add("raw", "r2", "f", offset=512),
        delete("r1"),
        delete("v1"),
        add("vdi", "v1", "f", **{"read-only": True}),
        add("raw", "r2", "f", offset=512),
        reopen("v1", "f", False),
        delete("r2"),
        reopen("v1", "f", False),
        add("raw", "r2", "f", offset=512),
        reopen("v1", "f", True),
        add("raw", "r2", "f", offset=512),
        add("file", "g", "b.vdi", **{"read-only": True}),
        add("vdi", "w1", "g", **{"read-only": True}),
        reopen("w1", "g", False),
        add("vdi", "w2", "g"),
        add("raw", "q1", "g", offset=512),
        add("raw", "q2", "g", size=512),
        # block_resize asks the resize permission first, which the raw windows refuse,
        # before the truncate could say the node is read-only.
        qmp("block_resize", **{"node-name": "g"}, size=2 << 20),
        # The overlay's backing file refuses writers: a lock conflict inside one process,
        # whose QMP text leaves out the command line's hint.
        qmp("blockdev-add", driver="vmdk", **{"node-name": "t1"},
            file={"driver": "file", "filename": os.path.join(work, "top.vmdk")}),
        qmp("blockdev-add", driver="vmdk", **{"node-name": "b1"},
            file={"driver": "file", "filename": os.path.join(work, "base.vmdk")}),
        # auto-read-only (raw_check_perm): the descriptor is read-write exactly while a
        # writer uses the node, whether writers come by blockdev-add or by a reopen.
        add("file", "h", "c.vdi", **{"auto-read-only": True}),
        FdModes(os.path.join(work, "c.vdi")),
        add("vdi", "x1", "h"),
        FdModes(os.path.join(work, "c.vdi")),
        delete("x1"),
        FdModes(os.path.join(work, "c.vdi")),
        add("vdi", "x2", "h", **{"read-only": True}),
        reopen("x2", "h", False),
        FdModes(os.path.join(work, "c.vdi")),
        reopen("x2", "h", True),
        FdModes(os.path.join(work, "c.vdi")),
        # Raw over a read-only file may be writable itself; a write through it is refused by
        # the permissions, a resize by the truncate, and the descriptor stays read-only.
        add("file", "k", "d.raw", **{"read-only": True}),
        add("raw", "rk", "k"),
        hmp('qemu-io rk "write 0 512"'),
        qmp("block_resize", **{"node-name": "rk"}, size=2 << 20),
        FdModes(os.path.join(work, "d.raw")),
        # Under auto-read-only, a resize or a write takes a writable descriptor for as long
        # as it runs.
        qmp("blockdev-add", driver="raw", **{"node-name": "rj"},
            file={"driver": "file", "filename": os.path.join(work, "e.raw"), "auto-read-only": True}),
        qmp("block_resize", **{"node-name": "rj"}, size=2 << 20),
        FdModes(os.path.join(work, "e.raw")),
        hmp('qemu-io rj "write -P 0x5a 0 512"'),
        FdModes(os.path.join(work, "e.raw")),
        hmp('qemu-io rj "read -P 0x5a 0 512"'),
        qmp("query-named-block-nodes", flat=True),
        b'{"execute": "quit"}\n',
    ]


def drive_args(work):
    """Two -drive nodes for the reopen steps below: a vdi and a raw with a named file."""
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'c.vdi')},format=vdi,node-name=n0",
        "-drive", f"if=none,id=d1,file={os.path.join(work, 'd.raw')},format=raw,node-name=n1,file.node-name=n1f"]


def drive_reopen_steps(work):
    """blockdev-reopen of -drive nodes: a format made read-only with its file, which the
    permissions allow at once, and QEMU's text for a node that a reopen would make
    read-only under a writer (the drive's backend after a qemu-io write, or the format
    over its file)."""
    def reopen_vdi(read_only, file_read_only=None):
        file = {"driver": "file", "filename": os.path.join(work, "c.vdi")}
        if file_read_only is not None:
            file["read-only"] = file_read_only
        return qmp("blockdev-reopen", options=[{"driver": "vdi", "node-name": "n0", "read-only": read_only,
                                                 "file": file}])

    def reopen_raw(read_only):
        return qmp("blockdev-reopen", options=[{"driver": "raw", "node-name": "n1", "read-only": read_only,
                                                 "file": "n1f"}])

    return [
        b'{"execute": "qmp_capabilities"}\n',
        reopen_vdi(True),
        hmp('qemu-io d0 "write 0 512"'),
        hmp('qemu-io d1 "write 0 512"'),
        FdModes(os.path.join(work, "d.raw")),
        reopen_raw(True),
        FdModes(os.path.join(work, "d.raw")),
        reopen_raw(False),
        reopen_vdi(False),
        hmp('qemu-io d0 "write 0 512"'),
        reopen_vdi(True),
        reopen_vdi(False, True),
        qmp("query-named-block-nodes", flat=True),
        b'{"execute": "quit"}\n',
    ]


def blockstats_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw,discard=unmap",
        "-drive", "if=none,id=d1,stats-account-failed=off",
        "-drive", f"if=none,id=d2,file={os.path.join(work, 'e.raw')},format=raw,"
                  "stats-account-invalid=off,stats-account-failed=off,stats-intervals.0=60,stats-intervals.1=3600"]


def blockstats_steps(work):
    """query-blockstats and `info blockstats`: what a backend accounts (qemu-io's aio_*
    requests, invalid ones included, not its synchronous ones), the highest write of every
    node, the file protocol's discards, the nodes oldest first with query-nodes, and -drive's
    stats-account-* options."""
    stats = qmp("query-blockstats")
    return [
        b'{"execute": "qmp_capabilities"}\n',
        stats,
        qmp("blockdev-add", driver="vdi", **{"node-name": "v"},
            file={"driver": "file", "filename": os.path.join(work, "c.vdi")}),
        hmp('qemu-io d0 "write 512 1k"'),
        hmp('qemu-io d0 "write -z 64k 4k"'),
        hmp('qemu-io d0 "discard 128k 64k"'),
        hmp('qemu-io v "write 1M 4k"'),
        stats,
        hmp('qemu-io d0 "aio_write -q 3M 4k"'),
        hmp('qemu-io d0 "aio_read -q 0 512 512"'),
        hmp('qemu-io d0 "aio_read -i 0 512"'),
        hmp('qemu-io d0 "aio_write -i 0 512"'),
        hmp('qemu-io d0 "aio_flush"'),
        # Not accounted as an access: d2 stays without idle_time_ns.
        hmp('qemu-io d2 "aio_read -i 0 512"'),
        stats,
        # Its intervals see a read and a flush; no write.
        hmp('qemu-io d2 "aio_read 0 512"'),
        hmp('qemu-io d2 "aio_flush"'),
        stats,
        qmp("query-blockstats", **{"query-nodes": True}),
        hmp("info blockstats"),
        # No jobs and no iothreads run here; libvirt asks all the same.
        qmp("query-jobs"),
        qmp("query-block-jobs"),
        qmp("query-iothreads"),
        b'{"execute": "quit"}\n',
    ]


def threshold_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw,discard=unmap,"
                  "node-name=fmt,file.node-name=proto"]


def threshold_steps(work):
    """block-set-write-threshold and BLOCK_WRITE_THRESHOLD: one event for the first write,
    write-zeroes or discard reaching past the threshold on a node, on a format and on the
    file below it (with the format's metadata writes), then none until it is set again."""
    def threshold(node, offset):
        return qmp("block-set-write-threshold", **{"node-name": node, "write-threshold": offset})
    return [
        b'{"execute": "qmp_capabilities"}\n',
        threshold("fmt", 4096),
        threshold("d0", 4096),
        threshold("nowhere", 1),
        qmp("block-set-write-threshold", **{"node-name": "fmt"}),
        qmp("query-block"),
        hmp('qemu-io d0 "write 0 4k"'),
        hmp('qemu-io d0 "write 4095 2"'),
        hmp('qemu-io d0 "write 8k 2"'),
        qmp("query-block"),
        threshold("proto", 100),
        hmp('qemu-io d0 "discard 0 64k"'),
        threshold("fmt", 10000),
        hmp('qemu-io d0 "write -z 9000 2000"'),
        threshold("fmt", 10000),
        hmp('qemu-io d0 "write 20000 0"'),
        threshold("fmt", 2 ** 64 - 1),
        qmp("query-named-block-nodes"),
        threshold("fmt", 0),
        hmp('qemu-io d0 "write 64k 4k"'),
        qmp("blockdev-add", driver="vdi", **{"node-name": "v"},
            file={"driver": "file", "filename": os.path.join(work, "c.vdi"), "node-name": "vf"}),
        threshold("v", 100),
        threshold("vf", 100),
        hmp('qemu-io v "write 0 512"'),
        threshold("vf", 100),
        hmp('qemu-io v "aio_write 600000 512"'),
        hmp('qemu-io v "aio_flush"'),
        qmp("blockdev-add", driver="vpc", **{"node-name": "p"},
            file={"driver": "file", "filename": os.path.join(work, "f.vpc"), "node-name": "pf"}),
        threshold("p", 100),
        threshold("pf", 100),
        hmp('qemu-io p "aio_write 4k 4k"'),
        hmp('qemu-io p "aio_flush"'),
        b'{"execute": "quit"}\n',
    ]


def medium_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw,cache=none,discard=unmap,"
                  "detect-zeroes=unmap",
        "-drive", "if=none,id=d1",
        "-drive", "if=none,id=d2,readonly=on",
        "-blockdev", f"driver=file,filename={os.path.join(work, 'e.raw')},node-name=n1"]


def medium_steps(work):
    """eject, blockdev-change-medium and the tray commands on drives without a guest
    device (no tray, no events): the new medium opens with the flags of the old one (or of
    -drive for an empty drive), a failed open leaves the drive as it was, the drive's
    accounting and permissions outlive its media; HMP eject and change."""
    def change(device, filename, **extra):
        return qmp("blockdev-change-medium", device=device, filename=os.path.join(work, filename), **extra)
    return [
        b'{"execute": "qmp_capabilities"}\n',
        hmp('qemu-io d0 "aio_read 0 512"'),
        qmp("eject", device="d0"),
        qmp("query-block"),
        qmp("query-blockstats"),
        qmp("eject", device="d0"),
        qmp("eject", device="nowhere"),
        qmp("eject", device="d0", id="d0"),
        qmp("eject"),
        qmp("eject", id="d0"),
        change("d0", "d.raw", format="raw"),
        qmp("query-block"),
        qmp("query-blockstats"),
        change("d0", "c.vdi", **{"read-only-mode": "read-only"}),
        qmp("query-block"),
        change("d0", "nonexistent.raw", format="raw"),
        change("d0", "d.raw", format="bogus"),
        change("d0", "d.raw", format="raw", **{"read-only-mode": "bogus"}),
        qmp("blockdev-change-medium", id="d0", filename="x"),
        qmp("blockdev-change-medium", filename="x"),
        change("d1", "a.vdi"),
        change("d2", "b.vdi", format="vdi"),
        qmp("query-block"),
        change("d2", "b.vdi", format="vdi", **{"read-only-mode": "read-write"}),
        qmp("query-named-block-nodes"),
        qmp("blockdev-remove-medium", id="d0"),
        qmp("blockdev-insert-medium", id="d0", **{"node-name": "nowhere"}),
        qmp("blockdev-open-tray", device="d0"),
        qmp("blockdev-open-tray", device="d0", force=True),
        qmp("blockdev-open-tray", device="nowhere"),
        qmp("blockdev-close-tray", device="d0"),
        qmp("blockdev-close-tray", id="d0"),
        qmp("query-block"),
        hmp("eject d0"),
        hmp("eject -f d0"),
        hmp("eject nowhere"),
        hmp("eject"),
        hmp("eject d0 more"),
        hmp("eject -x d0"),
        hmp("help eject"),
        hmp("info block"),
        hmp(f"change d0 {os.path.join(work, 'd.raw')} raw"),
        hmp(f"change d0 -f {os.path.join(work, 'd.raw')} raw read-only"),
        hmp(f"change d0 {os.path.join(work, 'd.raw')} raw bogus"),
        hmp(f"change d0 {os.path.join(work, 'nonexistent')}"),
        hmp("change nowhere x"),
        hmp("change d0"),
        hmp("change"),
        hmp("change d0 -x f"),
        hmp("help change"),
        hmp("info block"),
        qmp("query-blockstats"),
        # qemu-io's write leaves the drive's backend with write permission, which a
        # read-only medium cannot grant: the old medium is out by then, so none is left.
        hmp('qemu-io d1 "write 0 512"'),
        change("d1", "b.vdi", **{"read-only-mode": "read-only"}),
        qmp("query-block"),
        b'{"execute": "quit"}\n',
    ]


def throttle_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw,"
                  "throttling.iops-total=1,throttling.group=gA",
        "-drive", f"if=none,id=d1,file={os.path.join(work, 'e.raw')},format=raw,bps=1000000,bps_max=2000000,"
                  "iops_size=4096,iops_rd=50",
        "-drive", "if=none,id=d2,iops=5"]


def throttle_steps(work):
    """I/O limits: -drive's throttling options and their old names, block_set_io_throttle
    with QEMU's checks and texts, groups (a drive's own, a named one shared, moved), limits
    that outlive a medium, HMP's block_set_io_throttle with its expressions and info block.
    An aio write on a drive limited to one operation a second waits; aio_flush drains it."""
    def throttle(**limits):
        arguments = {"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}
        arguments.update(limits)
        return qmp("block_set_io_throttle", **arguments)
    return [
        b'{"execute": "qmp_capabilities"}\n',
        qmp("query-block"),
        hmp("info block"),
        hmp('qemu-io d0 "aio_write -P 1 0 4k"'),
        hmp('qemu-io d0 "aio_flush"'),
        # The bucket holds one operation now: this write waits until aio_flush drains it.
        # (One at a time: requests released together complete in any order in QEMU.)
        hmp('qemu-io d0 "aio_write -P 3 8k 4k"'),
        hmp('qemu-io d0 "aio_flush"'),
        throttle(device="d1", bps=100, group="gA"),
        qmp("query-block"),
        throttle(device="d0", iops=7, iops_max=70, iops_max_length=3, iops_size=512),
        qmp("query-block"),
        hmp('qemu-io d0 "read -P 3 8k 4k"'),
        throttle(device="d1", bps_rd=1, bps_wr=2, iops_rd=3, iops_wr=4, bps_rd_max=10, bps_wr_max=20,
                 iops_rd_max=30, iops_wr_max=40, group="gB"),
        qmp("query-block"),
        throttle(device="d2", iops=1),
        throttle(device="nowhere", iops=1),
        throttle(id="d0", iops=1),
        throttle(iops=1),
        throttle(device="d0", id="x", iops=1),
        throttle(device="d0", iops=1, iops_rd=1),
        throttle(device="d0", bps_max=1),
        throttle(device="d0", bps=10, bps_max=1),
        throttle(device="d0", bps=-1),
        throttle(device="d0", bps=2 ** 60),
        throttle(device="d0", bps=1, bps_max=10, bps_max_length=0),
        throttle(device="d0", bps=1, bps_max_length=5),
        throttle(device="d0", iops_size=4096),
        throttle(device="d0", bps=1, bps_max=10, bps_max_length=-1),
        qmp("query-block"),
        qmp("eject", device="d1"),
        qmp("blockdev-change-medium", device="d1", filename=os.path.join(work, "c.vdi"), format="vdi"),
        qmp("query-block"),
        throttle(device="d1"),
        throttle(device="d1"),
        qmp("query-block"),
        hmp("block_set_io_throttle d0 0 100 200 0 0x10 (1+2)*3"),
        hmp("block_set_io_throttle d1 1 0 0 2 0 0"),
        hmp("info block"),
        hmp("block_set_io_throttle d0 1 2 3 4 5 6"),
        hmp("block_set_io_throttle nowhere 0 0 0 0 0 0"),
        hmp("block_set_io_throttle d0 0 0 x 0 0 0"),
        hmp("block_set_io_throttle d0 0 0 0 0 0"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 (1"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 1/0"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 $pc"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 99999999999999999999999"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 0 7"),
        hmp("block_set_io_throttle"),
        hmp("help block_set_io_throttle"),
        hmp("block_set_io_throttle d0 0 0 0 0 0 0"),
        hmp("info block"),
        # Latency histograms name a device only; machine none has none in QEMU.
        qmp("block-latency-histogram-set", id="d0", boundaries=[10]),
        qmp("block-latency-histogram-set", id="/machine"),
        qmp("block-latency-histogram-set", id="d0", boundaries=[0]),
        b'{"execute": "quit"}\n',
    ]


def bitmap_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw,discard=unmap",
        "-drive", "if=none,id=d1",
        "-blockdev", f"driver=file,filename={os.path.join(work, 'a.vdi')},node-name=vf,discard=unmap",
        "-blockdev", "driver=vdi,file=vf,node-name=v"]


def bitmap_steps(work):
    """Dirty bitmaps in memory: add with QEMU's checks (a persistent one needs qcow2),
    the default granularity from the cluster size, writes, write-zeroes and discards that
    mark them (a file node's bitmap grows with the file), merges across nodes and
    granularities, clear, enable, disable, remove, a resize, and the bits themselves by
    x-debug-block-dirty-bitmap-sha256. (QEMU 7.2 aborts on a merge of no bitmaps.)"""
    def bitmap(command, node, name, **extra):
        return qmp(command, node=node, name=name, **extra)

    def sha(node, name):
        return bitmap("x-debug-block-dirty-bitmap-sha256", node, name)
    return [
        b'{"execute": "qmp_capabilities"}\n',
        bitmap("block-dirty-bitmap-add", "d0", "b0"),
        bitmap("block-dirty-bitmap-add", "v", "b1"),
        bitmap("block-dirty-bitmap-add", "vf", "b2", granularity=512),
        bitmap("block-dirty-bitmap-add", "v", "b3", persistent=True),
        bitmap("block-dirty-bitmap-add", "d0", "b3", persistent=True),
        bitmap("block-dirty-bitmap-add", "v", ""),
        bitmap("block-dirty-bitmap-add", "v", "b1"),
        bitmap("block-dirty-bitmap-add", "v", "b4", granularity=1000),
        bitmap("block-dirty-bitmap-add", "v", "b4", granularity=2 ** 32),
        bitmap("block-dirty-bitmap-add", "nowhere", "b4"),
        bitmap("block-dirty-bitmap-add", "d1", "b4"),
        bitmap("block-dirty-bitmap-add", "v", "b5", disabled=True),
        bitmap("block-dirty-bitmap-add", "v", "b6", granularity=2 ** 21),
        bitmap("block-dirty-bitmap-add", "v", "x" * 1024),
        qmp("query-block"),
        hmp('qemu-io d0 "write 1000 70000"'),
        hmp('qemu-io v "write 0 4k"'),
        hmp('qemu-io v "aio_write 512k 4k"'),
        hmp('qemu-io v "aio_flush"'),
        hmp('qemu-io v "write -z 960k 512"'),
        qmp("query-block"),
        qmp("query-named-block-nodes"),
        sha("d0", "b0"),
        sha("vf", "b2"),
        sha("v", "b1"),
        sha("v", "b5"),
        sha("nowhere", "b5"),
        sha("d1", "b5"),
        sha("v", "nothing"),
        qmp("block-dirty-bitmap-merge", node="v", target="b5", bitmaps=["b1", {"node": "d0", "name": "b0"}]),
        qmp("block-dirty-bitmap-merge", node="v", target="b5", bitmaps=["zz"]),
        qmp("block-dirty-bitmap-merge", node="v", target="zz", bitmaps=["b1"]),
        qmp("block-dirty-bitmap-merge", node="v", target="b5", bitmaps=[{"node": "nowhere", "name": "x"}]),
        qmp("block-dirty-bitmap-merge", node="v", target="b5", bitmaps=["b1", "b6"]),
        sha("v", "b5"),
        qmp("block-dirty-bitmap-merge", node="v", target="b6", bitmaps=["b1"]),
        sha("v", "b6"),
        bitmap("block-dirty-bitmap-remove", "v", "zz"),
        bitmap("block-dirty-bitmap-clear", "v", "b1"),
        bitmap("block-dirty-bitmap-enable", "v", "b5"),
        bitmap("block-dirty-bitmap-disable", "v", "b1"),
        hmp('qemu-io v "write 1M-512 512"'),
        hmp('qemu-io d0 "discard 512k 64k"'),
        qmp("query-named-block-nodes"),
        bitmap("block-dirty-bitmap-remove", "v", "b1"),
        bitmap("block-dirty-bitmap-remove", "v", "b1"),
        qmp("block_resize", device="d0", size=2 ** 21),
        hmp('qemu-io d0 "write 2M-512 512"'),
        qmp("block_resize", device="d0", size=2 ** 19),
        qmp("query-block"),
        sha("d0", "b0"),
        sha("vf", "b2"),
        b'{"execute": "quit"}\n',
    ]


def drive_hotplug_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw",
        "-drive", "if=none,id=d1",
        "-drive", f"if=none,file={os.path.join(work, 'd.raw')},format=raw,readonly=on,index=4",
        "-blockdev", f"driver=file,filename={os.path.join(work, 'e.raw')},node-name=n1",
        "-blockdev", "driver=raw,file=n1,node-name=n2"]


def drive_hotplug_steps(work):
    """HMP drive_add and drive_del: a -drive added and deleted at run time, its name made
    from the first free unit when it has no id, node names deleted as blockdev-del would;
    errors as error_report prints them."""
    d = os.path.join(work, "d.raw")
    return [
        b'{"execute": "qmp_capabilities"}\n',
        hmp("drive_del nowhere"),
        hmp("drive_del"),
        hmp("drive_del d0 more"),
        hmp("drive_del n1"),
        hmp("drive_del n2"),
        hmp("drive_del d1"),
        hmp("drive_del d0"),
        qmp("query-block"),
        hmp(f"drive_add 0 if=none,id=d2,file={d},format=raw"),
        hmp(f"drive_add 0 if=none,id=d2,file={d},format=raw"),
        hmp(f"drive_add 0 if=ide,id=d3,file={d},format=raw"),
        hmp(f"drive_add 0 if=none,id=d4,file={os.path.join(work, 'nonexistent')},format=raw"),
        hmp("drive_add 0 if=none,id=d5"),
        hmp("drive_add 0 bogus=1"),
        hmp(f"drive_add 0 id=d6,file={d},format=raw,readonly=on"),
        hmp(f"drive_add 0 if=none,file={d},format=raw,readonly=on"),
        hmp(f"drive_add 0 if=none,file={d},format=raw,readonly=on,index=4"),
        hmp(f"drive_add 0 if=none,id=9bad,file={d},format=raw"),
        hmp("drive_add"),
        hmp("drive_add 0"),
        hmp("drive_add -x 0 if=none"),
        hmp("help drive_add"),
        hmp("help drive_del"),
        hmp(f"drive_add -n 0 driver=file,filename={os.path.join(work, 'e.raw')},node-name=n9"),
        hmp(f"drive_add -n 0 driver=file,filename={os.path.join(work, 'e.raw')}"),
        qmp("query-block"),
        qmp("query-named-block-nodes"),
        hmp("drive_del none0"),
        hmp("drive_del none2"),
        hmp("drive_del n9"),
        hmp("info block"),
        b'{"execute": "quit"}\n',
    ]


def graph_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'd.raw')},format=raw",
        "-drive", "if=none,id=d1",
        "-drive", f"if=none,id=d2,file={os.path.join(work, 'top.vmdk')},format=vmdk",
        "-blockdev", f"driver=file,filename={os.path.join(work, 'e.raw')},node-name=n1",
        "-blockdev", "driver=raw,file=n1,node-name=n2",
        "-blockdev", f"driver=file,filename={os.path.join(work, 'a.vdi')},node-name=vf",
        "-blockdev", "driver=vdi,file=vf,node-name=v"]


def graph_steps(work):
    """x-debug-query-block-graph: backends and nodes numbered as QEMU numbers them, the
    edges newest child first, and the permissions each parent holds and shares, before and
    after qemu-io's writes widen them and as nodes come and go."""
    graph = qmp("x-debug-query-block-graph")
    return [
        b'{"execute": "qmp_capabilities"}\n',
        graph,
        hmp('qemu-io d0 "write 0 512"'),
        hmp('qemu-io d2 "write 0 512"'),
        hmp('qemu-io v "write 0 512"'),
        graph,
        qmp("blockdev-add", driver="raw", **{"node-name": "n3", "read-only": True},
            file={"driver": "file", "filename": os.path.join(work, "e.raw"), "node-name": "n3f",
                  "read-only": True}),
        qmp("blockdev-change-medium", device="d1", filename=os.path.join(work, "b.vdi")),
        qmp("eject", device="d0"),
        graph,
        qmp("blockdev-del", **{"node-name": "n2"}),
        graph,
        b'{"execute": "quit"}\n',
    ]


def make_reopen_images(work, qemu_img):
    for name, pattern in (("b1", "0x11"), ("b2", "0x22")):
        subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", os.path.join(work, name + ".vmdk"), "1M"], check=True)
        subprocess.run([os.path.join(os.path.dirname(qemu_img), "qemu-io"), "-f", "vmdk", "-c",
                        f"write -P {pattern} 0 64k", os.path.join(work, name + ".vmdk")],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", "-b", "b1.vmdk", "-F", "vmdk",
                    os.path.join(work, "top.vmdk")], check=True)
    shutil.copyfile(os.path.join(work, "b1.vmdk"), os.path.join(work, "copy.vmdk"))


class FdModes:
    """A step that sends nothing: the access modes of the descriptors the process holds on
    a file, in the transcript like a reply."""

    def __init__(self, path):
        self.path = path

    def observe(self, pid):
        modes = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != self.path:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
            except OSError:
                continue
            modes.append({os.O_RDONLY: "ro", os.O_WRONLY: "wo", os.O_RDWR: "rw"}[flags & os.O_ACCMODE])
        return sorted(modes)


class AwaitJob:
    """A step that sends nothing: reads until job `job` has concluded (or is gone), for a
    job whose completion comes after the reply that started it."""

    def __init__(self, job, status="concluded"):
        self.job = job
        self.status = status


class HostImage:
    """A step that sends nothing: what the real qemu-img says of an image file (info and
    check, as JSON), in the transcript like a reply."""

    def __init__(self, path):
        self.path = path

    def observe(self):
        out = {}
        for command in (["info", "--output=json", "-U"], ["check", "--output=json", "-U"]):
            run = subprocess.run(["/usr/bin/qemu-img"] + command + [self.path], capture_output=True, text=True)
            try:
                out[command[0]] = mask(json.loads(run.stdout), {})
            except ValueError:
                out[command[0]] = run.stderr.strip()
        return out


def jobs_args(_work, _image):
    return ["-drive", "if=none,id=empty"]


def jobs_steps(work):
    """blockdev-create and the job commands: a file, then vdi, vpc and vmdk images on it,
    by node name and by inline options; each driver's checks, those found before the job
    first waits (events before the reply) and after (events after it); the verbs a
    concluded job refuses; dismiss; and at quit every job dismissed. (QEMU's drivers that
    are not built here are left out: our schema does not know them.)"""
    def path(name):
        return os.path.join(work, name)

    def create(job, **options):
        return qmp("blockdev-create", **{"job-id": job, "options": options})

    def inline(name):
        return {"driver": "file", "filename": path(name)}

    def add(name, **extra):
        return qmp("blockdev-add", driver="file", filename=path(name), **{"node-name": name.split(".")[0]}, **extra)
    steps = [
        b'{"execute": "qmp_capabilities"}\n',
        qmp("query-jobs"),
        create("f0", driver="file", filename=path("a.img"), size=2 ** 20), AwaitJob("f0"),
        qmp("query-jobs"),
    ]
    for verb in ("cancel", "pause", "resume", "complete", "finalize"):
        steps.append(qmp("job-" + verb, id="f0"))
    steps += [
        qmp("job-dismiss", id="nope"),
        create("f0", driver="file", filename=path("b.img"), size=2 ** 20),
        qmp("job-dismiss", id="f0"),
        qmp("job-dismiss", id="f0"),
        create("1x", driver="file", filename=path("b.img"), size=2 ** 20),
        create("r", driver="raw"),
        create("r", driver="null-co"),
        create("r", driver="raw", filename=path("b.img")),
        create("r", driver="file", size=2 ** 20),
        create("r", driver="vdi", file=7, size=2 ** 20),
        create("f1", driver="file", filename=path("nodir/a.img"), size=2 ** 20),
        create("f2", driver="file", filename=path("c.img"), size=2 ** 20, **{"extent-size-hint": 2 ** 33}),
        create("f3", driver="file", filename=path("d.img"), size=-1), AwaitJob("f3"),
        create("f4", driver="file", filename=path("e.img"), size=1000, preallocation="full", nocow=True), AwaitJob("f4"),
        create("f5", driver="file", filename=path("f.img"), size=2 ** 20, preallocation="metadata"), AwaitJob("f5"),
        create("f6", driver="file", filename=path("v1.img"), size=0), AwaitJob("f6"),
        create("f7", driver="file", filename=path("p1.img"), size=0), AwaitJob("f7"),
        create("f8", driver="file", filename=path("k1.img"), size=0), AwaitJob("f8"),
        create("f9", driver="file", filename=path("ro.img"), size=0), AwaitJob("f9"),
        create("r", driver="vmdk", file="k1", size=0, extents=[7]),
        create("r", driver="vmdk", file={"driver": "file"}, size=0),
        create("r", driver="vmdk", file="k1", size=0, extents=[{"driver": "file", "filename": "/x", "bogus": 1}]),
    ]
    # The files the images below are written onto, named inline.
    for number, name in enumerate(["v2.img", "k2.vmdk", "k2-flat.vmdk", "k3.vmdk", "k3-x.vmdk", "k4.vmdk",
                                   "k4-s001.vmdk", "k4-s002.vmdk", "k5.vmdk", "k6.vmdk", "k7.vmdk", "k8.vmdk",
                                   "k9.vmdk"]):
        steps += [create(f"g{number}", driver="file", filename=path(name), size=0), AwaitJob(f"g{number}")]
    steps += [
        add("v1.img"), add("p1.img"), add("k1.img"), add("ro.img", **{"read-only": True}),
        create("d0", driver="vdi", file="nothere", size=2 ** 20),
        create("d9", driver="vdi", file="empty", size=2 ** 20),
        create("d1", driver="vdi", file="v1", size=2 ** 20, preallocation="full"),
        create("d2", driver="vdi", file="v1", size=2 ** 50),
        create("d3", driver="vdi", file="ro", size=2 ** 20),
        create("d4", driver="vdi", file="v1", size=2 ** 20), AwaitJob("d4"),
        HostImage(path("v1.img")),
        create("d5", driver="vdi", file=inline("e.img"), size=1000), AwaitJob("d5"),
        HostImage(path("e.img")),
        create("d7", driver="vdi", file={"driver": "vdi", "file": inline("c.img")}, size=2 ** 20),
        create("d8", driver="vdi", file={"driver": "vdi", "file": inline("d.img")}, size=2 ** 20), AwaitJob("d8"),
        create("d6", driver="vdi", file=inline("v2.img"), size=3 * 2 ** 20, preallocation="metadata"), AwaitJob("d6"),
        create("p0", driver="vpc", file="p1", size=2 ** 20), AwaitJob("p0"),
        create("p1", driver="vpc", file="p1", size=2 ** 60), AwaitJob("p1"),
        create("p2", driver="vpc", file="p1", size=1000, **{"force-size": True}), AwaitJob("p2"),
        create("p3", driver="vpc", file="ro", size=2 ** 20),
        create("p4", driver="vpc", file="p1", size=2 ** 20, **{"force-size": True}), AwaitJob("p4"),
        HostImage(path("p1.img")),
        create("p5", driver="vpc", file="p1", size=10514432), AwaitJob("p5"),
        HostImage(path("p1.img")),
        create("p6", driver="vpc", file="p1", size=10514432, subformat="fixed"), AwaitJob("p6"),
        HostImage(path("p1.img")),
        create("k0", driver="vmdk", file="k1", size=2 ** 20), AwaitJob("k0"),
        HostImage(path("k1.img")),
        create("k1", driver="vmdk", file="k1", size=1000),
        create("k2", driver="vmdk", file="k1", size=2 ** 20, subformat="monolithicFlat"), AwaitJob("k2"),
        create("k3", driver="vmdk", file="k1", size=2 ** 20, subformat="monolithicFlat", zeroed_grain=True),
        create("k4", driver="vmdk", file="k1", size=2 ** 20, subformat="monolithicFlat", **{"zeroed-grain": True}),
        create("k5", driver="vmdk", file=inline("k2.vmdk"), size=2 ** 20, subformat="monolithicFlat",
               extents=[inline("k2-flat.vmdk")]), AwaitJob("k5"),
        HostImage(path("k2.vmdk")),
        create("k6", driver="vmdk", file=inline("k3.vmdk"), size=2 ** 20,
               extents=[inline("k3-x.vmdk")]), AwaitJob("k6"),
        create("k7", driver="vmdk", file=inline("k4.vmdk"), size=2 ** 31 + 2 ** 20, subformat="twoGbMaxExtentSparse",
               extents=[inline("k4-s001.vmdk"), inline("k4-s002.vmdk")]), AwaitJob("k7"),
        HostImage(path("k4.vmdk")),
        create("k8", driver="vmdk", file=inline("k5.vmdk"), size=2 ** 20, subformat="twoGbMaxExtentFlat",
               extents=[]), AwaitJob("k8"),
        create("k9", driver="vmdk", file=inline("k6.vmdk"), size=2 ** 20, subformat="streamOptimized",
               **{"adapter-type": "legacyESX", "hwversion": "6", "toolsversion": "1234"}), AwaitJob("k9"),
        HostImage(path("k6.vmdk")),
        create("ka", driver="vmdk", file=inline("k7.vmdk"), size=2 ** 20,
               **{"backing-file": path("nothere.vmdk")}), AwaitJob("ka"),
        create("kb", driver="vmdk", file=inline("k8.vmdk"), size=2 ** 20,
               **{"backing-file": path("a.img")}), AwaitJob("kb"),
        create("kc", driver="vmdk", file=inline("k9.vmdk"), size=2 ** 20,
               **{"backing-file": "k6.vmdk", "zeroed-grain": True}), AwaitJob("kc"),
        HostImage(path("k9.vmdk")),
        qmp("query-jobs"),
        qmp("query-named-block-nodes"),
        b'{"execute": "quit"}\n',
    ]
    return steps


def make_snapshot_images(work, qemu_img):
    """The images of the snapshot conversation: a base with data, overlays naming it (so
    that their parent CID matches and reads reach it), and overlays that cannot be used."""
    def run(*args):
        subprocess.run([qemu_img] + list(args), cwd=work, check=True, capture_output=True)
    run("create", "-f", "vmdk", "base.vmdk", "1M")
    subprocess.run(["/usr/bin/qemu-io", "-f", "vmdk", "-c", "write -P 7 0 64k", "base.vmdk"], cwd=work,
                   check=True, capture_output=True)
    run("create", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "ov1.vmdk")
    run("create", "-f", "vmdk", "-b", "ov1.vmdk", "-F", "vmdk", "ov2.vmdk")
    run("create", "-f", "vmdk", "other.vmdk", "1M")
    run("create", "-f", "vmdk", "-b", "other.vmdk", "-F", "vmdk", "ovb.vmdk")
    run("create", "-f", "vmdk", "ovr.vmdk", "1M")
    run("create", "-f", "vdi", "v.vdi", "1M")
    run("create", "-f", "raw", "r.raw", "1M")
    run("create", "-f", "vmdk", "ro.vmdk", "1M")
    run("create", "-f", "vmdk", "cb.vmdk", "1M")
    run("create", "-f", "vmdk", "-b", "cb.vmdk", "-F", "vmdk", "cm.vmdk")
    run("create", "-f", "vmdk", "-b", "cm.vmdk", "-F", "vmdk", "ct.vmdk")
    subprocess.run(["/usr/bin/qemu-io", "-f", "vmdk", "-c", "write -P 5 0 64k", "ro.vmdk"], cwd=work,
                   check=True, capture_output=True)


def snapshot_args(work):
    return lambda _work, _image: [
        "-drive", f"if=none,id=d0,file={os.path.join(work, 'base.vmdk')},format=vmdk,node-name=base,"
                  "file.node-name=f0",
        "-drive", "if=none,id=empty",
        "-drive", f"if=none,id=d1,file={os.path.join(work, 'other.vmdk')},format=vmdk,node-name=n1,read-only=on",
        "-drive", f"if=none,id=d2,file={os.path.join(work, 'ro.vmdk')},format=vmdk,node-name=n2,readonly=on",
        # Options for the backing files make the top's name spell them out (json:).
        "-drive", f"if=none,id=d3,file={os.path.join(work, 'ct.vmdk')},format=vmdk,node-name=ct,file.node-name=ctf,"
                  "backing.node-name=cm,backing.backing.node-name=cb"]


def snapshot_steps(work):
    """External snapshots and transaction: blockdev-snapshot's checks in QEMU's order, a
    refused overlay (read-only under a writer), a snapshot inside a transaction that
    aborts (everything back as it was) and one that commits (the old image reopened
    read-only), reads and writes through the new chain, a second layer, the bitmap
    actions with their undo and busy states, blockdev-snapshot-sync and HMP's snapshot_blkdev
    (QEMU's create fails on a writable base, whose lock its vmdk create cannot share; a
    read-only base works), the internal snapshot commands, which no format here supports,
    and change-backing-file's checks (no format here can rewrite the name, as QEMU's vmdk
    cannot, after a read-only image is reopened read-write and back). (QEMU 7.2 disables a
    bitmap whose enable action failed because it was busy, and crashes when a transaction
    names a bitmap that does not exist in enable or disable: both left out.)"""
    def path(name):
        return os.path.join(work, name)

    def change(device, image, backing):
        return qmp("change-backing-file", device=device, **{"image-node-name": image, "backing-file": backing})

    def add(node, name, **extra):
        return qmp("blockdev-add", driver="vmdk", **{"node-name": node},
                   file={"driver": "file", "filename": path(name)}, **extra)

    def snapshot(node, overlay):
        return qmp("blockdev-snapshot", node=node, overlay=overlay)

    def action(kind, **data):
        return {"type": kind, "data": data}

    def sync(**arguments):
        return qmp("blockdev-snapshot-sync", **arguments)

    def transaction(*actions, **properties):
        if properties:
            return qmp("transaction", actions=list(actions), properties=properties)
        return qmp("transaction", actions=list(actions))
    return [
        b'{"execute": "qmp_capabilities"}\n',
        add("ov1", "ov1.vmdk", backing=None),
        add("ov2", "ov2.vmdk", backing=None),
        add("ovb", "ovb.vmdk"),
        add("ovr", "ovr.vmdk", **{"read-only": True}),
        qmp("blockdev-add", driver="vdi", **{"node-name": "vd"}, file={"driver": "file", "filename": path("v.vdi")}),
        qmp("blockdev-add", driver="raw", **{"node-name": "rw"}, file={"driver": "file", "filename": path("r.raw")}),
        snapshot("nope", "ov1"),
        snapshot("d0", "nope"),
        snapshot("empty", "ov1"),
        snapshot("d0", "empty"),
        snapshot("d0", "vd"),
        snapshot("d0", "rw"),
        snapshot("d0", "ovb"),
        snapshot("d0", "f0"),
        snapshot("d0", "d1"),
        snapshot("d0", "d0"),
        snapshot("ov1", "ov1"),
        transaction(action("blockdev-snapshot", node="d0", overlay="ov1"),
                    action("block-dirty-bitmap-add", node="ov1", name="b1"), action("abort")),
        qmp("query-named-block-nodes", flat=True),
        transaction(action("blockdev-snapshot", node="d0", overlay="ov1"), **{"completion-mode": "grouped"}),
        transaction(action("blockdev-snapshot", node="d0", overlay="ov1"),
                    action("block-dirty-bitmap-add", node="ov1", name="b1")),
        qmp("query-block"),
        qmp("query-named-block-nodes"),
        hmp("info block -v d0"),
        hmp('qemu-io d0 "read -P 7 0 64k"'),
        hmp('qemu-io base "read -P 7 0 64k"'),
        snapshot("base", "ov2"),
        snapshot("d0", "ov1"),
        qmp("blockdev-del", **{"node-name": "ov1"}),
        qmp("blockdev-del", **{"node-name": "base"}),
        snapshot("ov1", "ov2"),
        qmp("query-block"),
        hmp('qemu-io d0 "read -P 7 0 64k"'),
        hmp('qemu-io d0 "write -P 9 128k 64k"'),
        hmp('qemu-io d0 "read -P 9 128k 64k"'),
        hmp('qemu-io ov1 "read -P 0 128k 64k"'),
        # The write above gave the drive write permission, which a read-only overlay refuses.
        snapshot("d0", "ovr"),
        qmp("block-dirty-bitmap-add", node="ov2", name="b2", disabled=True),
        transaction(),
        transaction(action("abort"), **{"completion-mode": "grouped"}),
        transaction(action("block-dirty-bitmap-add", node="ov2", name="b3"),
                    action("block-dirty-bitmap-enable", node="ov2", name="b2"),
                    action("block-dirty-bitmap-disable", node="ov1", name="b1"),
                    action("block-dirty-bitmap-clear", node="ov1", name="b1"),
                    action("block-dirty-bitmap-merge", node="ov1", target="b1", bitmaps=[{"node": "ov2", "name": "b2"}]),
                    action("abort")),
        qmp("query-named-block-nodes"),
        transaction(action("block-dirty-bitmap-add", node="ov2", name="b3"), **{"completion-mode": "grouped"}),
        transaction(action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-clear", node="ov1", name="b1")),
        transaction(action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-add", node="ov1", name="b1")),
        transaction(action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-remove", node="ov1", name="b1")),
        transaction(action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-merge", node="ov2", target="b2", bitmaps=[{"node": "ov1", "name": "b1"}])),
        transaction(action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-disable", node="ov1", name="b1")),
        transaction(action("block-dirty-bitmap-enable", node="ov2", name="b2"),
                    action("block-dirty-bitmap-merge", node="ov2", target="b2", bitmaps=[{"node": "ov1", "name": "b1"}]),
                    action("block-dirty-bitmap-remove", node="ov1", name="b1"),
                    action("block-dirty-bitmap-add", node="ov2", name="b4", granularity=4096)),
        qmp("query-named-block-nodes"),
        qmp("blockdev-snapshot-internal-sync", device="d0", name="s"),
        qmp("blockdev-snapshot-internal-sync", device="f0", name="s"),
        qmp("blockdev-snapshot-internal-sync", device="d1", name="s"),
        qmp("blockdev-snapshot-internal-sync", device="empty", name="s"),
        qmp("blockdev-snapshot-internal-sync", device="nope", name="s"),
        qmp("blockdev-snapshot-internal-sync", device="d0", name=""),
        transaction(action("blockdev-snapshot-internal-sync", device="ov2", name="s")),
        qmp("blockdev-snapshot-delete-internal-sync", device="d0"),
        qmp("blockdev-snapshot-delete-internal-sync", device="d0", name="x"),
        qmp("blockdev-snapshot-delete-internal-sync", device="d1", id="1"),
        qmp("blockdev-snapshot-delete-internal-sync", device="f0", name="x"),
        qmp("blockdev-snapshot-delete-internal-sync", device="empty", name="x"),
        sync(**{"snapshot-file": path("x.vmdk")}),
        sync(**{"node-name": "n2", "snapshot-file": path("x.vmdk")}),
        sync(**{"node-name": "n2", "snapshot-file": path("x.vmdk"), "snapshot-node-name": "f0"}),
        sync(device="d2", **{"snapshot-file": path("x.vmdk"), "snapshot-node-name": "d2"}),
        sync(device="d2", format="nope", **{"snapshot-file": path("x.vmdk")}),
        sync(device="d2", format="raw", **{"snapshot-file": path("x.raw")}),
        sync(device="d2", format="vdi", **{"snapshot-file": path("x.vdi")}),
        sync(device="d2", format="nope", mode="existing", **{"snapshot-file": path("x.vmdk")}),
        sync(device="d2", format="vmdk", mode="existing", **{"snapshot-file": path("none.vmdk")}),
        sync(device="d2", format="vmdk", **{"snapshot-file": path("ro.vmdk")}),
        sync(device="d2", format="vmdk", **{"snapshot-file": path("nodir/x.vmdk")}),
        sync(device="d2", format="vmdk", **{"snapshot-file": "nope:" + path("x.vmdk")}),
        sync(device="d0", format="vmdk", **{"snapshot-file": path("w.vmdk")}),
        transaction(action("blockdev-snapshot-sync", device="d2", format="vmdk", **{"snapshot-file": path("t.vmdk")}),
                    action("abort")),
        sync(device="d2", format="vmdk", **{"snapshot-file": path("s1.vmdk"), "snapshot-node-name": "snap1"}),
        qmp("query-block"),
        qmp("query-named-block-nodes"),
        hmp('qemu-io d2 "read -P 5 0 64k"'),
        hmp('qemu-io d2 "write -P 6 64k 64k"'),
        hmp("snapshot_blkdev"),
        hmp("snapshot_blkdev d2"),
        hmp("snapshot_blkdev nope " + path("s2.vmdk")),
        hmp("snapshot_blkdev d2 " + path("s2.vmdk") + " vmdk extra"),
        hmp("snapshot_blkdev -n d2 " + path("none.vmdk") + " vmdk"),
        hmp("snapshot_blkdev d2 " + path("s2.vmdk") + " vmdk"),
        hmp("info block d2"),
        hmp('qemu-io d2 "read -P 6 64k 64k"'),
        hmp('qemu-io d2 "write -P 4 128k 64k"'),
        qmp("blockdev-del", **{"node-name": "snap1"}),
        # The overlays belong to the drive's medium alone: they go with it, the base too.
        qmp("eject", device="d2"),
        qmp("query-named-block-nodes", flat=True),
        hmp("info block -n"),
        qmp("query-named-block-nodes", flat=True),
        change("nope", "ct", "x"),
        change("d3", "nope", "x"),
        change("ctf", "ct", "x"),
        change("empty", "ct", "x"),
        change("d3", "cb", "x"),
        change("d3", "n2", "x"),
        change("d2", "ct", "x"),
        change("d3", "ct", "x"),
        change("d3", "cm", "cb.vmdk"),
        change("ct", "ct", ""),
        qmp("query-named-block-nodes", flat=True),
        HostImage(path("ov1.vmdk")),
        HostImage(path("ov2.vmdk")),
        HostImage(path("s1.vmdk")),
        HostImage(path("s2.vmdk")),
        b'{"execute": "quit"}\n',
    ]


def yank_args(work):
    return lambda _work, _image: [
        "-chardev", f"socket,id=c1,path={os.path.join(work, 'c1.sock')},server=on,wait=off",
        "-chardev", "null,id=c2",
        "-serial", f"unix:{os.path.join(work, 's0.sock')},server=on,wait=off",
        "-chardev", "socket,id=c4,host=127.0.0.1,port=0,server=on,wait=off",
        "-chardev", "ringbuf,id=c5"]


def yank_steps(work):
    """query-yank and yank: every socket chardev (the monitor's own too) is an instance, in
    the order they were made (a -serial's with the late backends, after every -chardev);
    anything else is not found, and nothing is yanked unless all are found."""
    def yank(*instances):
        return qmp("yank", instances=list(instances))
    return [
        b'{"execute": "qmp_capabilities"}\n',
        qmp("query-yank"),
        yank({"type": "chardev", "id": "nope"}),
        yank({"type": "block-node", "node-name": "nope"}),
        yank({"type": "migration"}),
        yank(),
        yank({"type": "chardev", "id": "c1"}),
        yank({"type": "chardev", "id": "c1"}, {"type": "chardev", "id": "c2"}),
        yank({"type": "chardev"}),
        yank({"type": "bogus"}),
        qmp("chardev-add", id="c3", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": os.path.join(work, "c3.sock")}}, "server": True, "wait": False}}),
        qmp("query-yank"),
        qmp("chardev-remove", id="c1"),
        qmp("query-yank"),
        b'{"execute": "quit"}\n',
    ]


def converse(binary, image, steps=STEPS, extra_args=None):
    work = tempfile.mkdtemp(prefix="qmp-compare-")
    path = os.path.join(work, "qmp.sock")
    args = extra_args(work, image) if extra_args else []
    proc = subprocess.Popen([binary, "-machine", "none", "-nodefaults", "-display", "none",
                             "-qmp", f"unix:{path},server=on,wait=off"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sock = socket.socket(socket.AF_UNIX)
    for _ in range(400):
        try:
            sock.connect(path)
            break
        except OSError:
            time.sleep(0.025)
    sock.settimeout(10)
    reader = sock.makefile("rb")
    fds = {}
    # QEMU 7.2 can send its start-up RESUME before the greeting when the client connects
    # while it is still starting (the monitor takes events before it has greeted): that
    # event is no reply to anything, and is left out.
    greeting = json.loads(reader.readline())
    while "event" in greeting:
        greeting = json.loads(reader.readline())
    transcript = [("greeting", mask(greeting, fds))]
    files = {"rw": os.O_RDWR, "ro": os.O_RDONLY}
    try:
        for step in steps:
            if isinstance(step, FdModes):
                transcript.append((f"fd modes on {os.path.basename(step.path)}", step.observe(proc.pid)))
                continue
            if isinstance(step, HostImage):
                transcript.append((f"qemu-img on {os.path.basename(step.path)}", step.observe()))
                continue
            if isinstance(step, AwaitJob):
                while True:
                    try:
                        line = reader.readline()
                    except OSError:
                        line = b""
                    if not line:
                        transcript.append((f"await {step.job}", "EOF or timeout"))
                        break
                    message = json.loads(line)
                    transcript.append((f"await {step.job}", mask(message, fds)))
                    if message.get("event") == "JOB_STATUS_CHANGE" and message["data"] == {
                            "id": step.job, "status": step.status}:
                        break
                continue
            data, fd_kind = (step, None) if isinstance(step, bytes) else step
            if fd_kind:
                fd = os.open(image, files[fd_kind])
                socket.send_fds(sock, [data], [fd])
                os.close(fd)
            else:
                sock.sendall(data)
            # Read until a non-event reply arrives; events are part of the transcript.
            while True:
                line = reader.readline()
                if not line:
                    transcript.append((data, "EOF"))
                    break
                assert line.endswith(b"\r\n"), line
                message = json.loads(line)
                transcript.append((data, mask(message, fds)))
                if "event" not in message:
                    break
    finally:
        sock.close()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # A conversation that went astray (a step waiting for what never came) shows
            # as a difference, not as a hang.
            proc.kill()
            out, _ = proc.communicate()
    # qemu-io's timing lines differ by nature.
    out = re.sub(rb"(?m)^(.*, \d+ ops); .*$", rb"\1; TIMING", out)
    transcript.append(("stdout", out.decode(errors="replace")))
    return transcript


# A monitor on stdio: QEMU offers oob there as on a socket. One request, then its reply
# (events first), in lock step.
STDIO_STEPS = [
    b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n',
    b'{"exec-oob": "query-name", "id": 1}\n',
    b'{"exec-oob": "no-such-cmd"}\n',
    b'{"execute": "query-target"}\n',
    b'{"execute": "quit"}\n',
]
STDIO_MONITORS = [["-qmp", "stdio"], ["-chardev", "stdio,id=m", "-mon", "m,mode=control"]]


def converse_stdio(binary, monitor):
    proc = subprocess.Popen([binary, "-machine", "none", "-nodefaults", "-display", "none"] + monitor,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fds = {}
    transcript = [("greeting", mask(json.loads(proc.stdout.readline()), fds))]
    for data in STDIO_STEPS:
        proc.stdin.write(data)
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                transcript.append((data, "EOF"))
                break
            message = json.loads(line)
            transcript.append((data, mask(message, fds)))
            if "event" not in message:
                break
    proc.stdin.close()
    proc.wait(timeout=10)
    transcript.append(("exit", proc.returncode))
    return transcript


def main():
    ours, reference = sys.argv[1], sys.argv[2]
    image = tempfile.mktemp(prefix="qmp-compare-img-")
    with open(image, "wb") as f:
        f.write(b"\0" * 4096)
    mine = converse(ours, image)
    theirs = converse(reference, image)
    mine += converse(ours, image, ERROR_ACTION_STEPS, error_action_args)
    theirs += converse(reference, image, ERROR_ACTION_STEPS, error_action_args)
    mine += converse(ours, image, AIO_STEPS, aio_args)
    theirs += converse(reference, image, AIO_STEPS, aio_args)
    # Both programs reopen the same images (reads only, so neither changes them).
    reopen_work = tempfile.mkdtemp(prefix="qmp-compare-reopen-")
    make_reopen_images(reopen_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, reopen_steps(reopen_work))
    theirs += converse(reference, image, reopen_steps(reopen_work))
    mine += converse(ours, image, reopen_file_steps(reopen_work))
    theirs += converse(reference, image, reopen_file_steps(reopen_work))
    perm_work = tempfile.mkdtemp(prefix="qmp-compare-perm-")
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, permission_steps(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, permission_steps(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, drive_reopen_steps(perm_work), drive_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, drive_reopen_steps(perm_work), drive_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, blockstats_steps(perm_work), blockstats_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, blockstats_steps(perm_work), blockstats_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, threshold_steps(perm_work), threshold_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, threshold_steps(perm_work), threshold_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, medium_steps(perm_work), medium_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, medium_steps(perm_work), medium_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, graph_steps(perm_work), graph_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, graph_steps(perm_work), graph_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, drive_hotplug_steps(perm_work), drive_hotplug_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, drive_hotplug_steps(perm_work), drive_hotplug_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, throttle_steps(perm_work), throttle_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, throttle_steps(perm_work), throttle_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    mine += converse(ours, image, bitmap_steps(perm_work), bitmap_args(perm_work))
    make_permission_images(perm_work, "/usr/bin/qemu-img")
    theirs += converse(reference, image, bitmap_steps(perm_work), bitmap_args(perm_work))
    shutil.rmtree(perm_work)
    for binary, out in ((ours, mine), (reference, theirs)):
        # Each program creates its images afresh, in a directory of the same name.
        jobs_work = os.path.join(tempfile.gettempdir(), f"qmp-compare-jobs-{os.getpid()}")
        os.makedirs(jobs_work)
        out += converse(binary, image, jobs_steps(jobs_work), jobs_args)
        shutil.rmtree(jobs_work)
    for binary, out in ((ours, mine), (reference, theirs)):
        snapshot_work = os.path.join(tempfile.gettempdir(), f"qmp-compare-snapshot-{os.getpid()}")
        os.makedirs(snapshot_work)
        make_snapshot_images(snapshot_work, "/usr/bin/qemu-img")
        out += converse(binary, image, snapshot_steps(snapshot_work), snapshot_args(snapshot_work))
        shutil.rmtree(snapshot_work)
    for binary, out in ((ours, mine), (reference, theirs)):
        yank_work = os.path.join(tempfile.gettempdir(), f"qmp-compare-yank-{os.getpid()}")
        os.makedirs(yank_work)
        out += converse(binary, image, yank_steps(yank_work), yank_args(yank_work))
        shutil.rmtree(yank_work)
    for monitor in STDIO_MONITORS:
        mine += converse_stdio(ours, monitor)
        theirs += converse_stdio(reference, monitor)
    os.unlink(image)
    failures = 0
    for index in range(max(len(mine), len(theirs))):
        a = mine[index] if index < len(mine) else None
        b = theirs[index] if index < len(theirs) else None
        if a != b:
            failures += 1
            print(f"step {index}: sent {b[0] if b else a[0]!r}\n  ours:      {a and a[1]}\n  reference: {b and b[1]}")
    print(f"{len(theirs)} replies compared, {failures} differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
