// The guest-less disk device: virtio-blk-device from -device and device_add holds its drive
// as libvirt expects (query-block shows it attached, qom-list lists it, HMP `qemu-io -d ID`
// writes through it, blockdev-del refuses its node), device_del releases it with
// DEVICE_DELETED and gives every fd back, and what is wrong gets QEMU's texts.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <string>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::dump;
using qtest::Emulator;
using qtest::InheritedFd;
using qtest::JsonValue;
using qtest::QTestState;

class TempImage {
public:
    TempImage()
    {
        static int counter = 0;
        m_path = std::string(g_get_tmp_dir()) + "/device-test-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++) + ".raw";
        m_fd = qemu::UniqueFd(::open(m_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        EXPECT_TRUE(m_fd.valid());
        EXPECT_EQ(ftruncate(m_fd.get(), 1 << 20), 0);
    }
    ~TempImage() { ::unlink(m_path.c_str()); }
    TempImage(const TempImage&) = delete;
    TempImage& operator=(const TempImage&) = delete;

    const std::string& path() const { return m_path; }
    int fd() const { return m_fd.get(); }
    // The first bytes of the file, as the test reads it itself.
    std::string head(size_t n) const
    {
        std::string out(n, '\0');
        EXPECT_EQ(::pread(m_fd.get(), out.data(), n, 0), static_cast<ssize_t>(n));
        return out;
    }

private:
    std::string m_path;
    qemu::UniqueFd m_fd;
};

size_t fds_on(const QTestState& qts, const std::string& path)
{
    size_t n = 0;
    for (const std::string& target : qts.open_fd_targets()) {
        n += target == path;
    }
    return n;
}

std::string error_of(const JsonValue& reply, std::string_view cls = "GenericError")
{
    return qtest::qmp_expect_error(reply, cls);
}

TEST(GuestDisk, OnAnFdSetNodeFromTheCommandLineLikeLibvirtStartsIt)
{
    TempImage image;
    InheritedFd inherit[] = {{image.fd(), 3}};
    // libvirt 9.0's start-up lines for a disk passed with dom-fd-associate.
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -add-fd set=0,fd=3,opaque=libvirt-1-storage0"
            " -blockdev '{\"driver\":\"file\",\"filename\":\"/dev/fdset/0\",\"node-name\":\"libvirt-1-storage\","
            "\"read-only\":false,\"discard\":\"unmap\"}'"
            " -blockdev '{\"node-name\":\"libvirt-1-format\",\"read-only\":false,\"driver\":\"raw\","
            "\"file\":\"libvirt-1-storage\"}'"
            " -device '{\"driver\":\"virtio-blk-device\",\"drive\":\"libvirt-1-format\",\"id\":\"virtio-disk0\","
            "\"bootindex\":1}'",
        inherit);
    QTestState& qts = *vm.qts;

    JsonValue block = qts.qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["device"], "");
    EXPECT_EQ(block[0]["qdev"], "virtio-disk0");
    EXPECT_EQ(block[0]["removable"], false);
    EXPECT_EQ(block[0]["io-status"], "ok");
    EXPECT_EQ(block[0]["inserted"]["node-name"], "libvirt-1-format");
    EXPECT_EQ(block[0]["inserted"]["file"], "/dev/fdset/0");

    JsonValue peripheral =
        qts.qmp_assert_success("{'execute': 'qom-list', 'arguments': {'path': '/machine/peripheral'}}");
    EXPECT_EQ(dump(peripheral),
        R"([{"name": "type", "type": "string"}, {"name": "virtio-disk0", "type": "child<virtio-blk-device>"}])");
    // QEMU's layout for a device's anonymous backend: the node's name, then the device.
    EXPECT_EQ(qts.hmp("info block"),
        "libvirt-1-format: /dev/fdset/0 (raw)\r\n    Attached to:      virtio-disk0\r\n"
        "    Cache mode:       writeback\r\n");

    EXPECT_TRUE(vm.qemu_io("-d virtio-disk0", "write -P 0x61 0 4k").starts_with("wrote 4096/4096 bytes at offset 0\n"));
    EXPECT_EQ(image.head(4096), std::string(4096, 'a'));
    EXPECT_EQ(vm.qemu_io("-d virtio-disk1", "read 0 512"), "Error: Device 'virtio-disk1' not found\r\n");

    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'libvirt-1-format'}}")),
        "Node libvirt-1-format is in use");
    size_t held = fds_on(qts, image.path());
    EXPECT_GE(held, 2u);  // the set's member and the node's dup

    qts.qmp_assert_success("{'execute': 'device_del', 'arguments': {'id': 'virtio-disk0'}}");
    JsonValue event = qts.qmp_eventwait("DEVICE_DELETED");
    EXPECT_EQ(dump(event["data"]), R"({"device": "virtio-disk0", "path": "/machine/peripheral/virtio-disk0"})");
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-block'}")), "[]");
    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'libvirt-1-format'}}");
    qts.qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'libvirt-1-storage'}}");
    EXPECT_EQ(fds_on(qts, image.path()), 1u);  // only the set's member is left
}

TEST(GuestDisk, DeviceAddOnADriveAndDeviceDelTakesTheDriveWithIt)
{
    TempImage image;
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -drive if=none,id=d1,format=raw,file=" + image.path());
    QTestState& qts = *vm.qts;
    qts.qmp_assert_success(
        "{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': 'd1', 'id': 'disk1'}}");
    JsonValue block = qts.qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["device"], "d1");
    EXPECT_EQ(block[0]["qdev"], "disk1");
    EXPECT_EQ(block[0]["removable"], false);

    EXPECT_EQ(error_of(qts.qmp("{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': "
                               "'d1', 'id': 'disk2'}}")),
        "Drive 'd1' is already in use by another device");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': "
                               "'d1', 'id': 'disk1'}}")),
        "Duplicate device ID 'disk1'");

    // The drive answers by its own name and through the device.
    vm.qemu_io("d1", "write -P 0x62 0 512");
    vm.qemu_io("-d disk1", "write -P 0x63 512 512");
    EXPECT_EQ(image.head(1024), std::string(512, 'b') + std::string(512, 'c'));

    qts.qmp_assert_success("{'execute': 'device_del', 'arguments': {'id': 'disk1'}}");
    qts.qmp_eventwait("DEVICE_DELETED");
    // As in QEMU, a -drive goes with the device that took it.
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-block'}")), "[]");
    EXPECT_EQ(fds_on(qts, image.path()), 0u);
}

// A disk device holds its medium fast (QEMU's virtio-blk has no removable media): every
// removable-media command refuses it with QEMU's texts and leaves the drive as it was; a
// medium opened for blockdev-change-medium closes again.
TEST(GuestDisk, ItsMediumIsNotRemovable)
{
    TempImage image;
    TempImage other;
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -drive if=none,id=d1,format=raw,file=" + image.path() +
        " -device virtio-blk-device,drive=d1,id=disk1 -blockdev driver=file,node-name=spare,filename=" +
        other.path());
    QTestState& qts = *vm.qts;
    const std::string not_removable = "Device 'd1' is not removable";
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'eject', 'arguments': {'device': 'd1'}}")), not_removable);
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'eject', 'arguments': {'id': 'disk1', 'force': true}}")),
        "Device 'disk1' is not removable");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-open-tray', 'arguments': {'device': 'd1'}}")), not_removable);
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-close-tray', 'arguments': {'id': 'disk1'}}")),
        "Device 'disk1' is not removable");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-remove-medium', 'arguments': {'id': 'disk1'}}")),
        "Device 'disk1' is not removable");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-insert-medium', 'arguments': {'id': 'disk1', "
                               "'node-name': 'spare'}}")),
        "Device is not removable");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-insert-medium', 'arguments': {'id': 'disk1', "
                               "'node-name': 'nowhere'}}")),
        "Node 'nowhere' not found");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-remove-medium', 'arguments': {'id': 'd1'}}"), "DeviceNotFound"),
        "Device 'd1' not found");
    // The medium opens first (so its own errors come first), then the device refuses it.
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-change-medium', 'arguments': {'id': 'disk1', "
                               "'filename': '/nonexistent/x', 'format': 'raw'}}")),
        "Could not open '/nonexistent/x': No such file or directory");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'blockdev-change-medium', 'arguments': {'id': 'disk1', 'filename': '" +
                               other.path() + "', 'format': 'raw'}}")),
        "Device 'disk1' is not removable");
    EXPECT_EQ(fds_on(qts, other.path()), 1u);  // the spare node's, not the refused medium's
    JsonValue block = qts.qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["inserted"]["file"], image.path());
    EXPECT_EQ(qts.hmp("eject d1"), "Error: " + not_removable + "\r\n");
}

// HMP drive_del cuts a device off its image at once (what a management layer does before
// device_del): the drive's name and medium go, every fd on the image is closed, and the
// device stays with an empty backend until device_del.
TEST(GuestDisk, DriveDelTakesTheMediumAndLeavesTheDevice)
{
    TempImage image;
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -drive if=none,id=d1,format=raw,file=" + image.path() +
        " -device virtio-blk-device,drive=d1,id=disk1");
    QTestState& qts = *vm.qts;
    vm.qemu_io("d1", "aio_write -P 0x61 0 512");
    vm.qemu_io("d1", "aio_flush");
    EXPECT_EQ(qts.hmp("drive_del d1"), "");
    EXPECT_EQ(fds_on(qts, image.path()), 0u);
    EXPECT_EQ(image.head(512), std::string(512, 'a'));
    JsonValue block = qts.qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["device"], "");
    EXPECT_EQ(block[0]["qdev"], "disk1");
    EXPECT_FALSE(block[0].contains("inserted")) << dump(block);
    // The backend's accounting stays with the device.
    JsonValue stats = qts.qmp_assert_success("{'execute': 'query-blockstats'}");
    ASSERT_EQ(stats.size(), 1u) << dump(stats);
    EXPECT_EQ(stats[0]["stats"]["wr_operations"], 1);
    EXPECT_EQ(qts.hmp("drive_del d1"), "Device 'd1' not found\r\n");
    EXPECT_EQ(
        error_of(qts.qmp("{'execute': 'eject', 'arguments': {'id': 'disk1'}}")), "Device 'disk1' is not removable");

    qts.qmp_assert_success("{'execute': 'device_del', 'arguments': {'id': 'disk1'}}");
    qts.qmp_eventwait("DEVICE_DELETED");
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-block'}")), "[]");
}

TEST(GuestDisk, WithoutAnIdItLivesInPeripheralAnonAndGoesByItsPath)
{
    TempImage image;
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -blockdev driver=file,node-name=f0,filename=" + image.path());
    QTestState& qts = *vm.qts;
    qts.qmp_assert_success("{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': 'f0'}}");
    JsonValue anon =
        qts.qmp_assert_success("{'execute': 'qom-list', 'arguments': {'path': '/machine/peripheral-anon'}}");
    EXPECT_EQ(dump(anon),
        R"([{"name": "type", "type": "string"}, {"name": "device[0]", "type": "child<virtio-blk-device>"}])");
    JsonValue block = qts.qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << dump(block);
    EXPECT_EQ(block[0]["qdev"], "/machine/peripheral-anon/device[0]");
    qts.qmp_assert_success(
        "{'execute': 'device_del', 'arguments': {'id': '/machine/peripheral-anon/device[0]'}}");
    JsonValue event = qts.qmp_eventwait("DEVICE_DELETED");
    EXPECT_EQ(dump(event["data"]), R"({"path": "/machine/peripheral-anon/device[0]"})");
}

TEST(GuestDisk, RefusalsCarryQemusTexts)
{
    TempImage image;
    Emulator vm(std::string(qtest::kBlockTestArgs) + " -blockdev driver=file,node-name=f0,filename=" + image.path());
    QTestState& qts = *vm.qts;
    auto add = [&](const std::string& arguments) {
        return error_of(qts.qmp("{'execute': 'device_add', 'arguments': " + arguments + "}"));
    };
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'id': 'x'}"), "drive property not set");
    EXPECT_EQ(add("{'driver': 'virtio-blk-pci', 'drive': 'f0'}"), "'virtio-blk-pci' is not a valid device model name");
    EXPECT_EQ(add("{'drive': 'f0'}"), "Parameter 'driver' is missing");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'f0', 'foo': 1}"),
        "Property 'virtio-blk-device.foo' not found");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'nope'}"),
        "Property 'virtio-blk-device.drive' can't find value 'nope'");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'f0', 'id': '0x'}"), "Parameter 'id' expects an identifier");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'f0', 'bus': 'virtio-mmio-bus.0'}"),
        "Bus 'virtio-mmio-bus.0' not found");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'f0', 'write-cache': 'maybe'}"),
        "Parameter 'write-cache' does not accept value 'maybe'");
    EXPECT_EQ(add("{'driver': 'virtio-blk-device', 'drive': 'f0', 'share-rw': 'x'}"),
        "Parameter 'share-rw' expects 'on' or 'off'");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'device_del', 'arguments': {'id': 'nope'}}"), "DeviceNotFound"),
        "Device 'nope' not found");
    // Nothing was created by the refused attempts.
    EXPECT_EQ(dump(qts.qmp_assert_success("{'execute': 'query-block'}")), "[]");

    // The introspection libvirt's probe reads.
    JsonValue types = qts.qmp_assert_success("{'execute': 'qom-list-types', 'arguments': {'implements': 'device'}}");
    EXPECT_EQ(dump(types), R"([{"name": "virtio-mmio", "parent": "sys-bus-device"}, )"
                           R"({"name": "virtio-blk-device", "parent": "virtio-device"}])");
    JsonValue props = qts.qmp_assert_success(
        "{'execute': 'device-list-properties', 'arguments': {'typename': 'virtio-blk-device'}}");
    EXPECT_NE(dump(props).find(R"({"name": "drive", "type": "str", "description": "Node name or ID of a block )"
                                R"(device to use as a backend"})"),
        std::string::npos)
        << dump(props);
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'device-list-properties', 'arguments': {'typename': 'secret'}}")),
        "Parameter 'typename' expects device");
    EXPECT_EQ(error_of(qts.qmp("{'execute': 'device-list-properties', 'arguments': {'typename': 'virtio-device'}}")),
        "Parameter 'typename' expects non-abstract device type");
}

TEST(GuestDisk, CommandLineRefusalEndsTheRun)
{
    auto result = qtest::run_emulator(
        {"-nodefaults", "-display", "none", "-machine", "none", "-device", "virtio-blk-device,id=x"},
        std::chrono::seconds(20));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "qemu-system-x86_64: -device virtio-blk-device,id=x: drive property not set\n");
}

}  // namespace
