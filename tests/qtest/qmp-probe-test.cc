// The commands a management layer probes a binary with before it starts a domain
// (libvirt 9.0's capability probe, and its start-up): what they answer describes this
// binary truthfully (machine none and its "empty" alias, qtest and tcg, one disk model, no
// TPM, no KVM), in QEMU's formats and with QEMU's errors for what is not there.
#include <gtest/gtest.h>

#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

bool lists_name(const JsonValue& list, const std::string& name)
{
    for (const JsonValue& entry : list) {
        if (entry.contains("name") && entry["name"] == name) {
            return true;
        }
    }
    return false;
}

TEST(QmpProbe, QomTypesAndProperties)
{
    auto qts = QTestState::init(kArgs);
    JsonValue types = qts->qmp_assert_success("{'execute': 'qom-list-types'}");
    EXPECT_TRUE(lists_name(types, "tcg-accel")) << dump(types);
    EXPECT_TRUE(lists_name(types, "none-machine")) << dump(types);
    EXPECT_FALSE(lists_name(types, "machine")) << "abstract types only on request: " << dump(types);
    JsonValue accels =
        qts->qmp_assert_success("{'execute': 'qom-list-types', 'arguments': {'implements': 'accel'}}");
    EXPECT_EQ(accels.size(), 2u) << dump(accels);
    for (const char* type : {"memory-backend-file", "none-machine"}) {
        JsonValue props = qts->qmp_assert_success(
            std::string("{'execute': 'qom-list-properties', 'arguments': {'typename': '") + type + "'}}");
        ASSERT_TRUE(props.is_array()) << dump(props);
        EXPECT_TRUE(lists_name(props, "type")) << dump(props);
    }
    EXPECT_EQ(qtest::qmp_expect_error(
                  qts->qmp("{'execute': 'qom-list-properties', 'arguments': {'typename': 'bogus'}}"), "DeviceNotFound"),
        "Class 'bogus' not found");
    EXPECT_EQ(qtest::qmp_expect_error(
                  qts->qmp("{'execute': 'device-list-properties', 'arguments': {'typename': 'virtio-blk-pci'}}"),
                  "DeviceNotFound"),
        "Device 'virtio-blk-pci' not found");
    JsonValue peripheral = qts->qmp_assert_success("{'execute': 'qom-list', 'arguments': {'path': '/machine/peripheral'}}");
    EXPECT_EQ(dump(peripheral), R"([{"name": "type", "type": "string"}])");
}

TEST(QmpProbe, KvmTpmAndCommandLineOptions)
{
    auto qts = QTestState::init(kArgs);
    JsonValue kvm = qts->qmp_assert_success("{'execute': 'query-kvm'}");
    EXPECT_EQ(kvm["enabled"], false) << dump(kvm);
    EXPECT_TRUE(kvm["present"].is_boolean()) << dump(kvm);
    EXPECT_EQ(dump(qts->qmp_assert_success("{'execute': 'query-tpm-models'}")), "[]");
    JsonValue sandbox = qts->qmp_assert_success(
        "{'execute': 'query-command-line-options', 'arguments': {'option': 'sandbox'}}");
    ASSERT_EQ(sandbox.size(), 1u) << dump(sandbox);
    EXPECT_EQ(sandbox[0]["option"], "sandbox");
    EXPECT_TRUE(lists_name(sandbox[0]["parameters"], "spawn")) << dump(sandbox);
    EXPECT_EQ(qtest::qmp_expect_error(
                  qts->qmp("{'execute': 'query-command-line-options', 'arguments': {'option': 'bogus'}}"),
                  "GenericError"),
        "invalid option name: bogus");
}

TEST(QmpProbe, MigrationCapabilitiesAreKept)
{
    auto qts = QTestState::init(kArgs);
    auto events_state = [&] {
        for (const JsonValue& cap : qts->qmp_assert_success("{'execute': 'query-migrate-capabilities'}")) {
            if (cap["capability"] == "events") {
                return cap["state"].get<bool>();
            }
        }
        ADD_FAILURE() << "no events capability";
        return false;
    };
    EXPECT_FALSE(events_state());
    qts->qmp_assert_success("{'execute': 'migrate-set-capabilities', 'arguments': {'capabilities': "
                            "[{'capability': 'events', 'state': true}]}}");
    EXPECT_TRUE(events_state());
}

TEST(QmpProbe, EmptyMachineAndDomainOptions)
{
    auto qts = QTestState::init(
        "-nodefaults -machine empty,usb=off,dump-guest-core=off -overcommit mem-lock=off "
        "-smp 1,sockets=1,cores=1,threads=1 -uuid C5E7824A-14D2-45FD-A948-7E887273EAD8 -rtc base=utc "
        "-no-acpi -boot strict=on -msg timestamp=on -name guest=fdpass1,debug-threads=on "
        "-audiodev '{\"id\":\"audio1\",\"driver\":\"none\"}'");
    EXPECT_EQ(dump(qts->qmp_assert_success("{'execute': 'query-uuid'}")),
        R"({"UUID": "c5e7824a-14d2-45fd-a948-7e887273ead8"})");
    JsonValue machines = qts->qmp_assert_success("{'execute': 'query-machines'}");
    EXPECT_TRUE(lists_name(machines, "empty")) << dump(machines);
    EXPECT_TRUE(lists_name(machines, "none")) << dump(machines);
}

}  // namespace
