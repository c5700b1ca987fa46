#!/bin/bash
# libvirt 9.0 (Debian's libvirt-daemon and libvirt-clients) as a client of our emulator
# (issue 15): `virsh domcapabilities --emulatorbin` must succeed on our binary, and a
# domain on our "empty" machine must start (libvirt's whole start-up command line and its
# QMP commands accepted) and stop; and a domain whose one disk libvirt hands over as an fd
# (`virsh dom-fd-associate`) starts with that fd in an fd set, shows the disk attached to
# its virtio-blk-device, takes writes through HMP qemu-io that land in the file, and lets
# device_del release it.
#
# libvirtd runs as root in a private mount namespace, with tmpfs over every directory it
# writes, the configuration the issue names (security_driver "none", no cgroup
# controllers, no namespaces, user and group root), so the host is left as it was.
# Exits 77 (skipped) when not root or when libvirt is not installed.
#
# Usage: libvirt_test.sh EMULATOR
set -u
emulator=$(realpath "$1")

if [ "$(id -u)" != 0 ] || ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null ||
    [ ! -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]; then
    echo "needs root and libvirt-daemon-driver-qemu + libvirt-clients; skipping"
    exit 77
fi
if [ -z "${LIBVIRT_TEST_NS:-}" ]; then
    exec env LIBVIRT_TEST_NS=1 unshare --mount --propagation private "$0" "$@"
fi

# libvirt resolves its default user and group when it starts, whatever qemu.conf says.
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu

for dir in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
    mkdir -p "$dir"
    mount -t tmpfs tmpfs "$dir" || exit 1
done
mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu
cat > /etc/libvirt/qemu.conf <<'EOF'
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
user = "root"
group = "root"
EOF
cat > /etc/libvirt/libvirtd.conf <<'EOF'
unix_sock_dir = "/run/libvirt"
EOF

work=$(mktemp -d)
cleanup() {
    virsh -c qemu:///system destroy fdpass-test >/dev/null 2>&1
    virsh -c qemu:///system destroy fdpass-disk >/dev/null 2>&1
    [ -n "${libvirtd_pid:-}" ] && kill "$libvirtd_pid" 2>/dev/null
    [ -n "${virtlogd_pid:-}" ] && kill "$virtlogd_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

virtlogd > "$work/virtlogd.log" 2>&1 &
virtlogd_pid=$!
libvirtd > "$work/libvirtd.log" 2>&1 &
libvirtd_pid=$!
for _ in $(seq 1 100); do
    [ -S /run/libvirt/libvirt-sock ] && break
    sleep 0.1
done

passed=0
failed=0
check() {
    local what=$1
    shift
    if "$@" > "$work/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok: $what"
    else
        failed=$((failed + 1))
        echo "FAIL: $what"
        sed 's/^/  /' "$work/out"
        tail -5 /var/log/libvirt/libvirtd.log 2>/dev/null | sed 's/^/  libvirtd: /'
    fi
}

virsh_q() { timeout 120 virsh -c qemu:///system "$@"; }

check "domcapabilities --emulatorbin on our binary" \
    bash -c "virsh -c qemu:///system domcapabilities --emulatorbin '$emulator' | grep -q '<machine>empty</machine>'"

cat > "$work/dom.xml" <<EOF
<domain type='qemu'>
  <name>fdpass-test</name>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='empty'>hvm</type></os>
  <devices>
    <emulator>$emulator</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
check "define a domain on the empty machine" virsh_q define "$work/dom.xml"
check "start it" virsh_q start fdpass-test
check "it runs" bash -c "virsh -c qemu:///system domstate fdpass-test | grep -qx running"
check "QMP through libvirt: query-uuid gives the domain's UUID" bash -c \
    "test \"\$(virsh -c qemu:///system qemu-monitor-command fdpass-test '{\"execute\":\"query-uuid\"}' |
      grep -o '[0-9a-f-]\{36\}')\" = \"\$(virsh -c qemu:///system domuuid fdpass-test | head -1)\""
check "destroy it" virsh_q destroy fdpass-test
check "undefine it" virsh_q undefine fdpass-test

disk="$work/disk.img"
truncate -s 4M "$disk"
cat > "$work/disk-dom.xml" <<EOF
<domain type='qemu'>
  <name>fdpass-disk</name>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='empty'>hvm</type></os>
  <devices>
    <emulator>$emulator</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk' fdgroup='disk-fds'/>
      <target dev='vda' bus='virtio'/>
      <address type='virtio-mmio'/>
    </disk>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
check "define a domain whose disk comes as an fd" virsh_q define "$work/disk-dom.xml"
# An association lasts as long as the virsh connection that made it, so the fd is
# associated and the domain started and inspected in one virsh session.
qmp() { printf "qemu-monitor-command fdpass-disk '%s'; " "$1"; }
session="dom-fd-associate fdpass-disk disk-fds 7; start fdpass-disk; "
session+=$(qmp '{"execute":"query-fdsets"}')
session+=$(qmp '{"execute":"query-block"}')
session+=$(qmp '{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}')
# domblkthreshold arms the disk's node; the write below crosses it, which switches it off,
# so domstats (from query-named-block-nodes) no longer lists it.
session+="domblkthreshold fdpass-disk vda 2048; echo before-write; domstats --block fdpass-disk; "
session+="qemu-monitor-command fdpass-disk --hmp 'qemu-io -d virtio-disk0 \"write -P 0x61 0 4k\"'; "
session+="echo after-write; domstats --block fdpass-disk"
exec 7<>"$disk"
timeout 120 virsh -c qemu:///system "$session" > "$work/session" 2>&1
exec 7>&-
check "it starts from the associated fd" grep -q "Domain 'fdpass-disk' started" "$work/session"
check "query-fdsets shows the fd libvirt passed" grep -q '"opaque":"libvirt-1-storage0"' "$work/session"
check "query-block shows the disk attached to its device" grep -q '"qdev":"virtio-disk0"' "$work/session"
check "qom-list of /machine/peripheral lists the device" grep -q '"child<virtio-blk-device>"' "$work/session"
check "domblkthreshold sets the node's write threshold" \
    bash -c "sed -n '/^before-write/,/^after-write/p' '$work/session' | grep -q 'block.0.threshold=2048'"
check "the write past it switches the threshold off" \
    bash -c "sed -n '/^after-write/,\$p' '$work/session' | grep -q 'block.0.name=vda' &&
      ! sed -n '/^after-write/,\$p' '$work/session' | grep -q 'block.0.threshold'"
head -c 4096 /dev/zero | tr '\0' a > "$work/expected"
check "HMP qemu-io's write landed in the file" cmp -n 4096 "$disk" "$work/expected"
check "device_del releases the disk" virsh_q qemu-monitor-command fdpass-disk \
    '{"execute":"device_del","arguments":{"id":"virtio-disk0"}}'
check "query-block is empty then" bash -c "virsh -c qemu:///system qemu-monitor-command fdpass-disk \
    '{\"execute\":\"query-block\"}' | grep -q '\"return\":\[\]'"
check "destroy it" virsh_q destroy fdpass-disk
check "undefine it" virsh_q undefine fdpass-disk
[ "$failed" = 0 ] || sed 's/^/  session: /' "$work/session"

echo "libvirt: $passed passed, $failed failed"
[ "$failed" = 0 ]
