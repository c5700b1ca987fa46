#!/usr/bin/env python3
"""Benchmarks our emulator against Debian's QEMU 7.2, side by side in one run.

Every figure is measured for both binaries by the same code in the same process,
and reported with the ratio ours/QEMU (or QEMU/ours where a smaller time is the
better result, so that a ratio above 1 always reads "ours is better by that much"
for rates, and the target column says which way each row is read).

The monitor is reached over one end of a socketpair handed to the child as
`-chardev socket,id=mon,fd=N`, so no row pays for polling a listening socket.
Python 3 standard library only. See benchmarks/README.md for what each row means.
"""

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OURS = os.path.join(os.path.dirname(HERE), "build-bench", "system", "qemu-system-x86_64")
DEFAULT_QEMU = "/usr/bin/qemu-system-x86_64"

# The 10,000-set rows need one received fd per set in the child; children inherit our limit.
WANTED_NOFILE = 20000


class QmpError(Exception):
    pass


class Monitor:
    """One emulator child and the parent's end of its QMP socketpair."""

    def __init__(self, binary):
        self.binary = binary
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = parent_end
        self.buf = bytearray()
        self.start_time = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "-machine", "none", "-nodefaults", "-display", "none",
             "-chardev", f"socket,id=mon,fd={child_end.fileno()}",
             "-mon", "chardev=mon,mode=control"],
            pass_fds=[child_end.fileno()],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child_end.close()
        self.sock.settimeout(30)
        self.greeting = self.read_line()
        self.greeting_time = time.perf_counter() - self.start_time
        if b'"QMP"' not in self.greeting:
            raise QmpError(f"{binary}: no QMP greeting: {self.greeting[:200]!r}")

    def read_line(self):
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 1]
                return line
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise QmpError(f"{self.binary}: monitor closed the connection")
            self.buf += chunk

    def read_reply(self):
        """The next line that is not an event, unparsed (the hot loops only check it)."""
        while True:
            line = self.read_line()
            if not line.startswith(b'{"event"'):
                return line

    def send(self, command, fds=None):
        data = command if isinstance(command, bytes) else json.dumps(command).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)

    def execute(self, name, arguments=None, fds=None):
        command = {"execute": name}
        if arguments is not None:
            command["arguments"] = arguments
        self.send(command, fds)
        reply = json.loads(self.read_reply())
        if "error" in reply:
            raise QmpError(f"{name}: {reply['error'].get('desc')}")
        return reply["return"]

    def execute_raw(self, data, fds=None):
        """Send pre-encoded bytes and return the raw reply line; raise on an error reply."""
        self.send(data, fds)
        line = self.read_reply()
        if b'"error"' in line:
            raise QmpError(line.decode(errors="replace")[:300])
        return line

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise QmpError("no VmRSS")

    def close(self):
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()


def timed_loop(body, seconds, max_count):
    """Runs body() until `seconds` have passed or `max_count` calls; returns (count, elapsed)."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while count < max_count:
        body()
        count += 1
        if (count & 7) == 0 and time.perf_counter() >= deadline:
            break
    return count, time.perf_counter() - start


def started(binary):
    mon = Monitor(binary)
    mon.execute("qmp_capabilities")
    return mon


def bench_greeting(binary, runs):
    # One untimed start first, so that neither binary pays for a cold page cache in the median.
    Monitor(binary).close()
    times = []
    for _ in range(runs):
        mon = Monitor(binary)
        times.append(mon.greeting_time)
        mon.close()
    return statistics.median(times)


def bench_rss(binary, settle):
    mon = started(binary)
    try:
        time.sleep(settle)
        return mon.rss_kib()
    finally:
        mon.close()


def bench_round_trips(binary, seconds):
    mon = started(binary)
    try:
        request = b'{"execute": "query-status"}\n'
        count, elapsed = timed_loop(lambda: mon.execute_raw(request), seconds, 1_000_000)
        return count / elapsed
    finally:
        mon.close()


def bench_add_remove_fd(binary, seconds, temp_fd):
    mon = started(binary)
    try:
        add = b'{"execute": "add-fd", "arguments": {"fdset-id": 1}}\n'

        def pair():
            reply = json.loads(mon.execute_raw(add, [temp_fd]))
            fd = reply["return"]["fd"]
            mon.execute_raw(
                b'{"execute": "remove-fd", "arguments": {"fdset-id": 1, "fd": %d}}\n' % fd)

        count, elapsed = timed_loop(pair, seconds, 1_000_000)
        return count / elapsed
    finally:
        mon.close()


def add_sets(mon, count, temp_fd):
    """Fills fd sets 0..count-1 with one (duplicate of a) write-only temp file fd each."""
    for set_id in range(count):
        mon.execute_raw(b'{"execute": "add-fd", "arguments": {"fdset-id": %d}}\n' % set_id, [temp_fd])


def bench_query_fdsets(binary, sets, seconds, max_calls, temp_fd):
    mon = started(binary)
    try:
        add_sets(mon, sets, temp_fd)
        check = json.loads(mon.execute_raw(b'{"execute": "query-fdsets"}\n'))["return"]
        if len(check) != sets:
            raise QmpError(f"query-fdsets listed {len(check)} sets, expected {sets}")
        request = b'{"execute": "query-fdsets"}\n'
        count, elapsed = timed_loop(lambda: mon.execute_raw(request), seconds, max_calls)
        return elapsed / count
    finally:
        mon.close()


def bench_fdset_open(binary, set_counts, seconds, temp_fd, rounds=10):
    """Pairs/s of chardev-add (file backend writing to /dev/fdset/<last set>) + chardev-remove,
    for one emulator per entry of set_counts, all started at once.

    The emulators take turns in `rounds` short windows and each rate is the median of its
    windows, so a change of load on the machine during the run hits every set count alike.
    Returns {count: rate}, or None when the binary does not open /dev/fdset/N for a chardev.
    """
    monitors = {}
    try:
        pairs = {}
        for sets in set_counts:
            mon = monitors[sets] = started(binary)
            add_sets(mon, sets, temp_fd)
            target = sets - 1  # the highest id: the worst case for a scan over a sorted list
            add = json.dumps({"execute": "chardev-add", "arguments": {
                "id": "bench0", "backend": {"type": "file", "data": {"out": f"/dev/fdset/{target}"}}}}).encode() + b"\n"
            remove = b'{"execute": "chardev-remove", "arguments": {"id": "bench0"}}\n'
            try:
                mon.execute_raw(add)
            except QmpError as error:
                if "/dev/fdset" in str(error):
                    return None
                raise
            mon.execute_raw(remove)

            def pair(mon=mon, add=add, remove=remove):
                mon.execute_raw(add)
                mon.execute_raw(remove)

            pairs[sets] = pair
        rates = {sets: [] for sets in set_counts}
        for _ in range(rounds):
            for sets in set_counts:
                count, elapsed = timed_loop(pairs[sets], seconds / rounds, 1_000_000)
                rates[sets].append(count / elapsed)
        return {sets: statistics.median(values) for sets, values in rates.items()}
    finally:
        for mon in monitors.values():
            mon.close()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_rate(per_second):
    return f"{per_second:,.0f}/s"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_NOFILE if hard == resource.RLIM_INFINITY else min(max(soft, WANTED_NOFILE), hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=DEFAULT_OURS, help="our emulator (default: %(default)s)")
    parser.add_argument("--qemu", default=DEFAULT_QEMU, help="reference QEMU (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter loops (a smoke run)")
    args = parser.parse_args()

    for binary in (args.ours, args.qemu):
        if not os.access(binary, os.X_OK):
            sys.exit(f"not executable: {binary}")

    nofile = raise_nofile()
    big = 10_000
    if nofile < big + 64:
        sys.exit(f"RLIMIT_NOFILE is {nofile}; the 10,000-set rows need at least {big + 64}")

    greeting_runs = 5 if args.quick else 15
    loop_seconds = 0.5 if args.quick else 2.0
    query_seconds = 0.5 if args.quick else 1.5
    open_seconds = 0.5 if args.quick else 1.5

    binaries = {"ours": args.ours, "qemu": args.qemu}
    results = {}
    workdir = tempfile.mkdtemp(prefix="qemu-bench-")
    target_path = os.path.join(workdir, "fdset-target")
    # Write-only: QEMU only hands out a set member whose access mode matches the open's (O_WRONLY here).
    temp_fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    started_at = time.perf_counter()
    try:
        for who, binary in binaries.items():
            r = results[who] = {}
            r["greeting"] = bench_greeting(binary, greeting_runs)
            r["rss"] = bench_rss(binary, 0.5)
            r["rtt"] = bench_round_trips(binary, loop_seconds)
            r["addfd"] = bench_add_remove_fd(binary, loop_seconds, temp_fd)
            r["query"] = bench_query_fdsets(binary, big, query_seconds, 200, temp_fd)
            opens = bench_fdset_open(binary, (10, big), open_seconds, temp_fd)
            r["open10"] = opens[10] if opens else None
            r["open10k"] = opens[big] if opens else None
    finally:
        os.close(temp_fd)
        os.unlink(target_path)
        os.rmdir(workdir)
    total = time.perf_counter() - started_at

    ours, qemu = results["ours"], results["qemu"]
    rows = []

    def row(metric, ours_text, qemu_text, ratio, target_text, met):
        verdict = "n/a" if met is None else "yes" if met else "**no**"
        rows.append((metric, ours_text, qemu_text, ratio, target_text, verdict))

    g = ours["greeting"] / qemu["greeting"]
    row(f"exec → QMP greeting (median of {greeting_runs})", fmt_time(ours["greeting"]), fmt_time(qemu["greeting"]),
        f"{g:.3f}× (ours/QEMU)", "≤ 0.1×", g <= 0.1)
    m = ours["rss"] / qemu["rss"]
    row("idle VmRSS after qmp_capabilities", f"{ours['rss'] / 1024:.1f} MiB", f"{qemu['rss'] / 1024:.1f} MiB",
        f"{m:.3f}× (ours/QEMU)", "≤ 0.2×", m <= 0.2)
    t = ours["rtt"] / qemu["rtt"]
    row("QMP round trips (query-status, sequential)", fmt_rate(ours["rtt"]), fmt_rate(qemu["rtt"]),
        f"{t:.2f}× (ours/QEMU)", "≥ 2×", t >= 2)
    a = ours["addfd"] / qemu["addfd"]
    row("add-fd + remove-fd pairs (SCM_RIGHTS)", fmt_rate(ours["addfd"]), fmt_rate(qemu["addfd"]),
        f"{a:.2f}× (ours/QEMU)", "≥ 2×", a >= 2)
    q = qemu["query"] / ours["query"]
    row("query-fdsets with 10,000 sets (time per call)", fmt_time(ours["query"]), fmt_time(qemu["query"]),
        f"{q:.2f}× (QEMU/ours)", "≥ 2×", q >= 2)
    if ours["open10"] is None:
        for sets in ("10", "10,000"):
            row(f"chardev-add+remove of /dev/fdset/N, {sets} sets", "n/a (not yet routed)",
                fmt_rate(qemu["open10" if sets == "10" else "open10k"]), "n/a", "≥ 2×", None)
        row("slowdown 10,000 vs 10 sets (time per pair)", "n/a (not yet routed)",
            f"{qemu['open10'] / qemu['open10k']:.2f}×", "n/a", "ours ≤ 1.2×", None)
    else:
        for key, sets in (("open10", "10"), ("open10k", "10,000")):
            o = ours[key] / qemu[key]
            row(f"chardev-add+remove of /dev/fdset/N, {sets} sets", fmt_rate(ours[key]), fmt_rate(qemu[key]),
                f"{o:.2f}× (ours/QEMU)", "≥ 2×", o >= 2)
        ours_slowdown = ours["open10"] / ours["open10k"]
        row("slowdown 10,000 vs 10 sets (time per pair)", f"{ours_slowdown:.2f}×",
            f"{qemu['open10'] / qemu['open10k']:.2f}×", "—", "ours ≤ 1.2×", ours_slowdown <= 1.2)

    print(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} × {cpu_model()}, "
          f"{'quick' if args.quick else 'full'} mode, {total:.0f} s")
    print(f"ours: {args.ours}")
    print(f"QEMU: {args.qemu} ({results_version(args.qemu)})")
    print()
    print("| metric | ours | QEMU 7.2 | ratio | target | met? |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


def results_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "unknown version"
    except (OSError, subprocess.SubprocessError):
        return "unknown version"


if __name__ == "__main__":
    sys.exit(main())
