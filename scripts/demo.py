#!/usr/bin/env python3
"""The main job, end to end: a management layer (this script) opens a disk image itself,
hands the descriptors to qemu-system-x86_64 through an fd set (one inherited with -add-fd,
one passed over the QMP socket with SCM_RIGHTS), and drives the emulator over QMP.
Every message on the wire is printed."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
QEMU = os.path.join(BUILD, "system", "qemu-system-x86_64")


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.reader = self.sock.makefile("rb")
        self.show("<-", self.reader.readline())

    @staticmethod
    def show(direction, data):
        text = data.decode() if isinstance(data, bytes) else data
        print(f"{direction} {text.rstrip()}")

    def cmd(self, execute, arguments=None, fds=()):
        msg = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        text = json.dumps(msg)
        note = f"    (+ fd via SCM_RIGHTS)" if fds else ""
        self.show("->", text + note)
        if fds:
            socket.send_fds(self.sock, [text.encode() + b"\n"], list(fds))
        else:
            self.sock.sendall(text.encode() + b"\n")
        while True:
            line = self.reader.readline()
            if not line:
                return None
            self.show("<-", line)
            reply = json.loads(line)
            if "event" not in reply:
                return reply


def main():
    if not os.access(QEMU, os.X_OK):
        sys.exit(f"{QEMU} is not built; run scripts/demo.sh")
    work = tempfile.mkdtemp(prefix="qemu-fdpass-demo-")
    image = os.path.join(work, "disk.img")
    with open(image, "wb") as f:
        f.write(b"\0" * (1 << 20))
    qmp_path = os.path.join(work, "qmp.sock")

    # The management layer opens the image; the emulator never sees the path.
    rw_fd = os.open(image, os.O_RDWR)
    ro_fd = os.open(image, os.O_RDONLY)
    argv = [QEMU, "-machine", "none", "-nodefaults", "-display", "none",
            "-add-fd", f"fd={rw_fd},set=2,opaque=rdwr:{image}",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    print("$ " + " ".join(argv), flush=True)
    # The emulator inherits rw_fd (and keeps its own copy in set 2); ours can go.
    proc = subprocess.Popen(argv, pass_fds=[rw_fd])
    os.close(rw_fd)
    try:
        qmp = Qmp(qmp_path)
        qmp.cmd("qmp_capabilities")
        qmp.cmd("query-version")
        qmp.cmd("query-status")
        qmp.cmd("query-fdsets")
        qmp.cmd("add-fd", {"fdset-id": 2, "opaque": f"rdonly:{image}"}, fds=[ro_fd])
        os.close(ro_fd)
        qmp.cmd("query-fdsets")
        # A raw node over the file protocol on /dev/fdset/2: opening read-write duplicates
        # the O_RDWR member; the emulator itself opens no path.
        qmp.cmd("blockdev-add", {"driver": "raw", "node-name": "disk0",
                                 "file": {"driver": "file", "filename": "/dev/fdset/2"}})
        # qemu-io's report goes to the emulator's stdout, as in QEMU; the reply is "".
        qmp.cmd("human-monitor-command", {"command-line": 'qemu-io disk0 "write -P 0xab 0 4k"'})
        # The set's own fds go at once; the node keeps its duplicate, so the set stays listed.
        qmp.cmd("remove-fd", {"fdset-id": 2})
        qmp.cmd("query-fdsets")
        # Deleting the node closes the duplicate: the set is gone.
        qmp.cmd("blockdev-del", {"node-name": "disk0"})
        qmp.cmd("query-fdsets")
        qmp.cmd("quit")
        status = proc.wait(timeout=10)
        print(f"emulator exited with status {status}")
        with open(image, "rb") as f:
            head = f.read(4096)
        written = head == b"\xab" * 4096
        print(f"first 4 KiB of {image}: {'all 0xab, written through the fd set' if written else 'NOT written'}")
        return status if written else 1
    finally:
        if proc.poll() is None:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
