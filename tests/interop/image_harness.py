"""What every image-format interop test shares: our qemu-img/qemu-io and Debian's QEMU 7.2
run side by side in one scratch directory, their exit codes, output and files compared byte
for byte, checks counted and failures reported, exit 77 when the reference binaries are
absent. A format's script (vdi_compare.py, vpc_compare.py, ...) holds only its cases:

    h = Harness('vdi', sys.argv[1:])
    def read_compat(h): h.same_tools('img', ['info', 'a.vdi'])
    sys.exit(h.main([('read compatibility', read_compat)]))

Command line of every script: OUR_IMG OUR_IO REF_IMG REF_IO [format-specific arguments].
Tool keys are TAG + '_' + KIND: 'ours_img', 'ours_io', 'ref_img', 'ref_io'.
Set INTEROP_SECTION to a section name to run only that section (after the setup ones).
"""
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
import traceback

MiB = 1024 * 1024
TAGS = ('ours', 'ref')
TIMEOUT = 120


class HarnessError(Exception):
    """A step a section cannot go on without failed (a setup command, an unreadable info)."""


# On-disk fields in either byte order, as util/bswap.h has them for the C++ side.
def le16(v): return struct.pack('<H', v)
def le32(v): return struct.pack('<I', v)
def le64(v): return struct.pack('<Q', v)
def be16(v): return struct.pack('>H', v)
def be32(v): return struct.pack('>I', v)
def be64(v): return struct.pack('>Q', v)


def io_commands(commands):
    """qemu-io arguments running each command in turn."""
    args = []
    for c in commands:
        args += ['-c', c]
    return args


def parse_dump(text):
    """The bytes of qemu-io `read -v` output, in the order printed."""
    data = bytearray()
    for line in text.splitlines():
        m = re.match(r"^[0-9a-f]{8}:  ((?:[0-9a-f]{2} ){1,16})", line)
        if m:
            data.extend(bytes.fromhex(m.group(1).replace(" ", "")))
    return bytes(data)


def filter_io(out):
    """QEMU's _filter_qemu_io: the numbers of the timing line differ from run to run."""
    if isinstance(out, str):
        return filter_io(out.encode()).decode()
    return re.sub(rb'[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\)',
                  b'X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)', out)


def masked(path, ranges):
    """The file's bytes with each (start, stop) range zeroed: the fields that differ in every
    create (random UUIDs, timestamps, the checksums over them)."""
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    for start, stop in ranges:
        data[start:stop] = bytes(stop - start)
    return bytes(data)


def content_digest(path):
    """Hash of the non-zero 4 KiB blocks with their offsets, plus the size: equal for equal
    content whatever the allocation, and cheap for 127 GiB sparse files."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        digest.update(size.to_bytes(8, 'little'))
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            f.seek(start)
            at = start
            while at < end:
                block = f.read(min(1 << 20, end - at))
                for i in range(0, len(block), 4096):
                    part = block[i:i + 4096]
                    if part.strip(b'\0'):
                        digest.update((at + i).to_bytes(8, 'little') + part)
                at += len(block)
            offset = end
    return digest.hexdigest()


def shorten(value, limit=400):
    text = repr(value)
    return text if len(text) <= limit else f'{text[:limit]}... ({len(text)} chars)'


def settle_for_info(args):
    """Before a qemu-img info (args as given to qemu-img): info's disk size is the file's
    st_blocks, which ext4 raises at writeback (the blocks of a fresh file's extent tree), so
    write everything back first and every run sees one value."""
    if 'info' in args:
        os.sync()


class Harness:
    def __init__(self, name, argv, extra=()):
        """name: the format, for messages; argv: the script's arguments; extra: the names of
        the format-specific arguments after the four tools (each may be absent)."""
        self.name = name
        self.tools = dict(zip(('ours_img', 'ours_io', 'ref_img', 'ref_io'), argv[:4]))
        self.args = {key: (argv[4 + i] if len(argv) > 4 + i else None) for i, key in enumerate(extra)}
        self.cwd = None
        self.checks = 0
        self.failures = 0

    # -- files in the scratch directory

    def path(self, name):
        return os.path.join(self.cwd, name)

    def exists(self, name):
        return os.path.exists(self.path(name))

    def read(self, name):
        with open(self.path(name), 'rb') as f:
            return f.read()

    def patched(self, source, name, edits=(), truncate=None, fixup=None):
        """A copy of source with bytes replaced at offsets, cut to truncate bytes if given,
        then passed through fixup (a function on the bytearray, e.g. to redo a checksum)."""
        data = bytearray(self.read(source))
        for offset, value in edits:
            data[offset:offset + len(value)] = value
        if truncate is not None:
            data = data[:truncate]
        if fixup:
            fixup(data)
        with open(self.path(name), 'wb') as f:
            f.write(data)
        return name

    def flipped(self, source, offset):
        """The byte at offset inverted: a replacement that always differs, where a fixed value
        would equal a random byte (a UUID's) in 1 run out of 256."""
        return bytes([self.read(source)[offset] ^ 0xff])

    # -- running the tools

    def run(self, tool, args, subdir=None, timeout=TIMEOUT, limits=None):
        """(exit code, stdout bytes, stderr bytes) of tool (a key of self.tools) in the
        scratch directory, or in its subdirectory subdir. Past timeout seconds the tool is
        killed and the exit code is 'timeout', so a hang is one failed check, not a stop.
        limits: {resource.RLIMIT_x: bytes} set in the child, as `ulimit` would."""
        cwd = self.cwd if subdir is None else self.path(subdir)
        if tool.endswith('_img'):
            settle_for_info(args)

        def set_limits():
            import resource
            for which, value in (limits or {}).items():
                resource.setrlimit(which, (value, value))
        try:
            proc = subprocess.run([self.tools[tool]] + args, cwd=cwd, capture_output=True, timeout=timeout,
                                  preexec_fn=set_limits if limits else None)
        except subprocess.TimeoutExpired as e:
            return 'timeout', e.stdout or b'', e.stderr or b''
        return proc.returncode, proc.stdout, proc.stderr

    def run_text(self, tool, args, subdir=None, timeout=TIMEOUT, limits=None):
        code, out, err = self.run(tool, args, subdir, timeout, limits)
        return code, out.decode(errors='replace'), err.decode(errors='replace')

    def must(self, tool, args, subdir=None):
        """Runs a step that has to succeed; returns its stdout as text."""
        code, out, err = self.run_text(tool, args, subdir)
        if code != 0:
            raise HarnessError(f'{tool} {args} failed ({code}): {out}{err}')
        return out

    def info_json(self, tool, image, fmt=None):
        """info --output=json without the fields that differ between two copies of one image."""
        import json
        info = json.loads(self.must(tool, ['info', '--output=json'] + (['-f', fmt] if fmt else []) + [image]))
        info.pop('filename', None)
        info.pop('actual-size', None)
        return info

    # -- checks

    def fail(self, what):
        self.failures += 1
        print('FAIL ' + what)

    def check(self, ok, what):
        """One check: counts it, reports what when it does not hold."""
        self.checks += 1
        if not ok:
            self.fail(what)
        return ok

    def same(self, what, ours, ref, labels=('exit', 'stdout', 'stderr', 'file')):
        """One check that two results (tuples of exit code, output, ...) are equal; on a
        difference, shows each field that differs. A run that timed out never passes."""
        timed_out = any(isinstance(r, tuple) and r and r[0] == 'timeout' for r in (ours, ref))
        if not self.check(ours == ref and not timed_out, what):
            if isinstance(ours, tuple) and isinstance(ref, tuple) and len(ours) == len(ref):
                for i, (a, b) in enumerate(zip(ours, ref)):
                    if a != b:
                        label = labels[i] if i < len(labels) else f'field {i}'
                        print(f'  {label}: ours {shorten(a)}\n  {" " * len(label)}   ref  {shorten(b)}')
            else:
                print(f'  ours {shorten(ours)}\n  ref  {shorten(ref)}')
            return False
        return True

    def same_tools(self, kind, args, what=None, filt=None, text=False):
        """Runs the same arguments through our and the reference qemu-img ('img') or qemu-io
        ('io') and checks the two results are equal, after filt if given."""
        runner = self.run_text if text else self.run
        results = [runner(f'{tag}_{kind}', args) for tag in TAGS]
        if filt:
            results = [filt(r) for r in results]
        return self.same(what or f'{kind} {args}', results[0], results[1])

    # -- the script

    def main(self, sections, setup=()):
        """Runs each (title, function(harness)) in one scratch directory and reports; the
        exit code for meson (0, 1, or 77 when the reference tools are missing). The setup
        sections make what the others use, so they run even when INTEROP_SECTION names one."""
        for key in ('ref_img', 'ref_io'):
            if not self.tools.get(key) or not os.access(self.tools[key], os.X_OK):
                print(f'{self.tools.get(key)} not installed, skipping')
                return 77
        for key in ('ours_img', 'ours_io'):
            self.tools[key] = os.path.abspath(self.tools[key])
        only = os.environ.get('INTEROP_SECTION')
        with tempfile.TemporaryDirectory(dir='/var/tmp') as cwd:
            self.cwd = cwd
            for title, section in list(setup) + list(sections):
                if only and title != only and (title, section) not in setup:
                    continue
                print(f'== {title}', flush=True)
                checks, failures = self.checks, self.failures
                try:
                    section(self)
                except (HarnessError, subprocess.SubprocessError, OSError, ValueError):
                    self.fail(f'{title}: stopped by an exception')
                    traceback.print_exc(file=sys.stdout)
                print(f'{title}: {self.checks - checks} checks, {self.failures - failures} failures', flush=True)
        print(f'{self.name}: {self.checks} checks, {self.failures} failures')
        return 1 if self.failures else 0
