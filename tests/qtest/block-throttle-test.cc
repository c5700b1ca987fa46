// I/O limits in the emulator: -drive's throttling options and block_set_io_throttle hold
// HMP qemu-io's aio requests until the limits let them go. Under the qtest accelerator QEMU
// runs its throttle timers on the virtual clock, so the moment each request starts is exact:
// these tests move the clock with clock_step. Debian's QEMU 7.2 has no qtest accelerator
// (its qtests run under tcg, on the host's clock), so they are skipped against it; the
// commands' replies and texts are compared with it in tests/interop/qmp_compare.py.
#include <glib.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

bool skip_without_virtual_clock()
{
    return qtest::qemu_binary().starts_with("/usr/");
}

class Throttled {
public:
    // A null-co drive: its requests complete without touching the host.
    explicit Throttled(const std::string& drive_options)
        : qts(QTestState::init(
              std::string(qtest::kBlockTestArgs) + " -drive if=none,id=d0,format=raw,file=null-co://," + drive_options))
    {
    }

    int64_t completed_writes()
    {
        JsonValue all = qts->qmp_assert_success("{'execute': 'query-blockstats'}");
        return all[0]["stats"]["wr_operations"].get<int64_t>();
    }

    // Requests that started complete on their own (a worker, the kernel); the bound only
    // keeps a broken build from waiting forever.
    int64_t wait_for_writes(int64_t count)
    {
        const gint64 give_up = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
        int64_t done = completed_writes();
        while (done < count && g_get_monotonic_time() < give_up) {
            g_usleep(1000);
            done = completed_writes();
        }
        return done;
    }

    void aio_write(int64_t offset)
    {
        EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_write " + std::to_string(offset) + " 4k\""), "");
    }

    std::unique_ptr<QTestState> qts;
};

// iops=10 allows bursts of a tenth of a second's worth: one operation beyond the bucket's
// level. So two writes start at once, and each further one 100 ms after the one before.
TEST(IoThrottle, AioWritesStartWhenTheVirtualClockLetsThem)
{
    if (skip_without_virtual_clock()) {
        GTEST_SKIP() << "QEMU 7.2 has no qtest accelerator";
    }
    Throttled vm("throttling.iops-total=10");
    for (int64_t i = 0; i < 4; ++i) {
        vm.aio_write(i * 4096);
    }
    EXPECT_EQ(vm.wait_for_writes(2), 2);

    vm.qts->clock_step(99'999'999);
    vm.qts->qmp_assert_success("{'execute': 'query-status'}");
    EXPECT_EQ(vm.completed_writes(), 2);
    vm.qts->clock_step(1);
    EXPECT_EQ(vm.wait_for_writes(3), 3);

    vm.qts->clock_step(99'999'999);
    EXPECT_EQ(vm.completed_writes(), 3);
    vm.qts->clock_step(1);
    EXPECT_EQ(vm.wait_for_writes(4), 4);
}

// aio_flush drains every backend, as QEMU's blk_drain_all: waiting requests go at once.
// Limits that are all 0 take the drive out of its group, which lets its waiting requests go.
TEST(IoThrottle, DrainsAndDisablingLetWaitingRequestsGo)
{
    if (skip_without_virtual_clock()) {
        GTEST_SKIP() << "QEMU 7.2 has no qtest accelerator";
    }
    Throttled vm("iops=1");
    vm.aio_write(0);
    vm.aio_write(4096);
    vm.aio_write(8192);
    EXPECT_EQ(vm.wait_for_writes(1), 1);
    EXPECT_EQ(vm.qts->hmp("qemu-io d0 \"aio_flush\""), "");
    EXPECT_EQ(vm.completed_writes(), 3);

    vm.aio_write(0);
    vm.qts->qmp_assert_success("{'execute': 'block_set_io_throttle', 'arguments': {'device': 'd0', 'bps': 0, "
                               "'bps_rd': 0, 'bps_wr': 0, 'iops': 0, 'iops_rd': 0, 'iops_wr': 0}}");
    EXPECT_EQ(vm.wait_for_writes(4), 4);
    JsonValue block = vm.qts->qmp_assert_success("{'execute': 'query-block'}");
    EXPECT_FALSE(block[0]["inserted"].contains("group")) << qemu::json_to_string(block);
    // Unlimited now: nothing waits.
    vm.aio_write(0);
    EXPECT_EQ(vm.wait_for_writes(5), 5);
}

// A synchronous qemu-io command waits for the limits on the host's clock in QEMU; on a
// virtual clock that only the test moves that would be forever. Ours lets it go.
TEST(IoThrottle, SynchronousRequestsDoNotWaitForeverOnTheVirtualClock)
{
    if (skip_without_virtual_clock()) {
        GTEST_SKIP() << "QEMU 7.2 has no qtest accelerator";
    }
    Throttled vm("iops=1");
    for (int64_t i = 0; i < 3; ++i) {
        EXPECT_EQ(vm.qts->hmp("qemu-io d0 \"write " + std::to_string(i * 4096) + " 4k\""), "");
    }
    vm.qts->qmp_assert_success("{'execute': 'query-status'}");
}

// block_set_io_throttle on the backend of a device on a node (libvirt's -blockdev disks,
// by the device's id): the limits take effect there and show in query-block, named after
// the device unless a group is given.
TEST(IoThrottle, DeviceOnANodeTakesLimitsByItsId)
{
    if (skip_without_virtual_clock()) {
        GTEST_SKIP() << "QEMU 7.2's machine none has no bus for a virtio-blk device";
    }
    auto qts = QTestState::init(qtest::kBlockTestArgs);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'null-co', 'node-name': 'n0'}}");
    qts->qmp_assert_success(
        "{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': 'n0', 'id': 'disk0'}}");
    const std::string zeros = "'bps_rd': 0, 'bps_wr': 0, 'iops': 0, 'iops_rd': 0, 'iops_wr': 0";
    qts->qmp_assert_success(
        "{'execute': 'block_set_io_throttle', 'arguments': {'id': 'disk0', 'bps': 4096, " + zeros + "}}");
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u) << qemu::json_to_string(block);
    EXPECT_EQ(block[0]["inserted"]["bps"], 4096);
    EXPECT_EQ(block[0]["inserted"]["group"], "disk0");
    EXPECT_EQ(
        qtest::qmp_expect_error(
            qts->qmp("{'execute': 'block_set_io_throttle', 'arguments': {'device': 'n0', 'bps': 1, " + zeros + "}}"),
            "DeviceNotFound"),
        "Device 'n0' not found");
    qts->qmp_assert_success("{'execute': 'block_set_io_throttle', 'arguments': {'id': 'disk0', 'bps': 1, " + zeros +
        ", 'group': 'shared'}}");
    block = qts->qmp_assert_success("{'execute': 'query-block'}");
    EXPECT_EQ(block[0]["inserted"]["group"], "shared");
    EXPECT_EQ(block[0]["inserted"]["bps"], 1);
    // The id resolves as a QOM path, absolute or under /machine/peripheral (QEMU's
    // find_device_state); a container is no device.
    qts->qmp_assert_success("{'execute': 'block_set_io_throttle', 'arguments': {'id': '/machine/peripheral/disk0', "
                            "'bps': 2, " +
        zeros + "}}");
    block = qts->qmp_assert_success("{'execute': 'query-block'}");
    EXPECT_EQ(block[0]["inserted"]["bps"], 2);
    EXPECT_EQ(
        qtest::qmp_expect_error(
            qts->qmp("{'execute': 'block_set_io_throttle', 'arguments': {'id': '/machine', 'bps': 1, " + zeros + "}}"),
            "GenericError"),
        "/machine is not a hotpluggable device");
    EXPECT_EQ(qtest::qmp_expect_error(qts->qmp("{'execute': 'block_set_io_throttle', 'arguments': {'id': "
                                               "'disk0/virtio-backend', 'bps': 1, " +
                                          zeros + "}}"),
                  "DeviceNotFound"),
        "Device 'disk0/virtio-backend' not found");
}

}  // namespace
