// block-latency-histogram-set and query-blockstats' x_*_latency_histogram on the backend
// of a disk device. Under the qtest accelerator every request takes 1 ms of the virtual
// clock (QEMU's accounting there), so the bins are exact. QEMU names the backend by a
// device's id only, and QEMU 7.2's machine none has no disk device, so these run against
// ours alone; against QEMU 7.2 the refusal of a -drive is checked in qmp_compare.py.
#include <glib.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

class DiskOnANode {
public:
    DiskOnANode() : qts(QTestState::init(qtest::kBlockTestArgs))
    {
        qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'null-co', 'node-name': 'n0'}}");
        qts->qmp_assert_success(
            "{'execute': 'device_add', 'arguments': {'driver': 'virtio-blk-device', 'drive': 'n0', 'id': 'disk0'}}");
    }

    JsonValue stats()
    {
        JsonValue all = qts->qmp_assert_success("{'execute': 'query-blockstats'}");
        EXPECT_EQ(all.size(), 1u) << qemu::json_to_string(all);
        return all[0]["stats"];
    }

    std::string set(const std::string& arguments)
    {
        JsonValue reply =
            qts->qmp("{'execute': 'block-latency-histogram-set', 'arguments': {'id': 'disk0'" + arguments + "}}");
        return reply.contains("error") ? reply["error"]["desc"].get<std::string>() : "";
    }

    std::unique_ptr<QTestState> qts;
};

bool skip_against_qemu()
{
    return qtest::qemu_binary().starts_with("/usr/");
}

TEST(LatencyHistogram, OneMillisecondRequestsLandInTheirBins)
{
    if (skip_against_qemu()) {
        GTEST_SKIP() << "QEMU 7.2's machine none has no disk device to name";
    }
    DiskOnANode vm;
    EXPECT_FALSE(vm.stats().contains("x_wr_latency_histogram"));
    EXPECT_EQ(vm.set(", 'boundaries': [500000, 2000000], 'boundaries-read': [100]"), "");
    JsonValue s = vm.stats();
    EXPECT_EQ(qemu::json_to_string(s["x_wr_latency_histogram"]),
        qemu::json_to_string(JsonValue::parse(R"({"boundaries": [500000, 2000000], "bins": [0, 0, 0]})")));
    EXPECT_EQ(qemu::json_to_string(s["x_rd_latency_histogram"]["bins"]), "[0, 0]");

    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_write 0 4k\""), "");
    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_write 4k 4k\""), "");
    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_read 0 4k\""), "");
    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_flush\""), "");
    s = vm.stats();
    EXPECT_EQ(qemu::json_to_string(s["x_wr_latency_histogram"]["bins"]), "[0, 2, 0]");
    EXPECT_EQ(qemu::json_to_string(s["x_rd_latency_histogram"]["bins"]), "[0, 1]");
    EXPECT_EQ(qemu::json_to_string(s["x_flush_latency_histogram"]["bins"]), "[0, 1, 0]");
    EXPECT_EQ(qemu::json_to_string(s["x_zone_append_latency_histogram"]["bins"]), "[0, 0, 0]");

    // New boundaries start empty; none at all clears every histogram.
    EXPECT_EQ(vm.set(", 'boundaries-write': [1000000]"), "");
    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_write 0 4k\""), "");
    EXPECT_EQ(vm.qts->hmp("qemu-io -d disk0 \"aio_flush\""), "");
    s = vm.stats();
    EXPECT_EQ(qemu::json_to_string(s["x_wr_latency_histogram"]["bins"]), "[0, 1]");
    EXPECT_EQ(qemu::json_to_string(s["x_flush_latency_histogram"]["bins"]), "[0, 2, 0]");
    EXPECT_EQ(vm.set(""), "");
    s = vm.stats();
    EXPECT_FALSE(s.contains("x_wr_latency_histogram"));
    EXPECT_FALSE(s.contains("x_flush_latency_histogram"));
}

TEST(LatencyHistogram, BoundariesMustRiseFromAboveZero)
{
    if (skip_against_qemu()) {
        GTEST_SKIP() << "QEMU 7.2's machine none has no disk device to name";
    }
    DiskOnANode vm;
    EXPECT_EQ(vm.set(", 'boundaries': [0]"), "Device 'disk0' set read boundaries fail");
    EXPECT_EQ(vm.set(", 'boundaries-write': [10, 10]"), "Device 'disk0' set write boundaries fail");
    EXPECT_EQ(vm.set(", 'boundaries-flush': [10, 5]"), "Device 'disk0' set flush boundaries fail");
    EXPECT_EQ(vm.set(", 'boundaries': [1], 'boundaries-flush': [10, 5]"), "Device 'disk0' set flush boundaries fail");
    // What went before the failure stays, as in QEMU.
    JsonValue s = vm.stats();
    EXPECT_TRUE(s.contains("x_rd_latency_histogram"));
    EXPECT_FALSE(s.contains("x_flush_latency_histogram"));
    JsonValue reply = vm.qts->qmp("{'execute': 'block-latency-histogram-set', 'arguments': {'id': 'n0'}}");
    EXPECT_EQ(qtest::qmp_expect_error(reply, "DeviceNotFound"), "Device 'n0' not found");
}

}  // namespace
