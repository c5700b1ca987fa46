// The rows of the QMP request-validation table that need out-of-band execution enabled
// (qmp-test covers the others and the events-before-negotiation rule). The texts and the
// id echo are QEMU 7.2's, from a monitor negotiated with "oob".
#include <gtest/gtest.h>

#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::qmp_expect_error;
using qtest::QTestState;

constexpr const char* kCommonArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

std::unique_ptr<QTestState> start(bool enable_oob)
{
    auto qts = QTestState::init_without_qmp_handshake(kCommonArgs);
    qts->qmp_receive();
    qts->qmp_assert_success(enable_oob ? "{ 'execute': 'qmp_capabilities', 'arguments': { 'enable': [ 'oob' ] } }"
                                       : "{ 'execute': 'qmp_capabilities' }");
    return qts;
}

TEST(QmpRequestOob, CommandWithoutOobSupport)
{
    auto qts = start(true);
    JsonValue reply = qts->qmp("{ 'exec-oob': 'query-status', 'id': 3 }");
    EXPECT_EQ(qmp_expect_error(reply, "GenericError"), "The command query-status does not support OOB");
    EXPECT_EQ(reply["id"], 3) << dump(reply);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'exec-oob': 'qmp_capabilities' }"), "GenericError"),
        "The command qmp_capabilities does not support OOB");
}

TEST(QmpRequestOob, UnknownCommandIsNotFoundFirst)
{
    auto qts = start(true);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'exec-oob': 'no-such' }"), "CommandNotFound"),
        "The command no-such has not been found");
}

TEST(QmpRequestOob, ExecOobMustBeAString)
{
    auto qts = start(true);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'exec-oob': 1 }"), "GenericError"),
        "QMP input member 'exec-oob' must be a string");
}

// QEMU's QDict visits exec-oob before execute whatever the order on the wire, so 7.2
// names the clash the same way for both orders.
TEST(QmpRequestOob, ExecuteClashesWithExecOobInEitherOrder)
{
    auto qts = start(true);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'query-status', 'exec-oob': 'query-status' }"), "GenericError"),
        "QMP input member 'execute' clashes with 'exec-oob'");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'exec-oob': 'query-status', 'execute': 'query-status' }"), "GenericError"),
        "QMP input member 'execute' clashes with 'exec-oob'");
}

TEST(QmpRequestOob, ExecOobIsUnexpectedWithoutOob)
{
    auto qts = start(false);
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'exec-oob': 'query-status' }"), "GenericError"),
        "QMP input member 'exec-oob' is unexpected");
}

TEST(QmpRequestOob, LacksExecuteKeepsTheId)
{
    auto qts = start(true);
    JsonValue reply = qts->qmp("{ 'id': 1 }");
    EXPECT_EQ(qmp_expect_error(reply, "GenericError"), "QMP input lacks member 'execute'");
    EXPECT_EQ(reply["id"], 1) << dump(reply);
}

// In command mode qmp_capabilities is an ordinary command that refuses to run, so QEMU 7.2
// checks its arguments first.
TEST(QmpRequest, CapabilitiesArgumentsAreCheckedBeforeAlreadyComplete)
{
    auto qts = start(false);
    EXPECT_EQ(
        qmp_expect_error(qts->qmp("{ 'execute': 'qmp_capabilities', 'arguments': { 'bogus': 1 } }"), "GenericError"),
        "Parameter 'bogus' is unexpected");
    EXPECT_EQ(qmp_expect_error(
                  qts->qmp("{ 'execute': 'qmp_capabilities', 'arguments': { 'enable': [ 'nope' ] } }"), "GenericError"),
        "Parameter 'null' does not accept value 'nope'");
    EXPECT_EQ(qmp_expect_error(qts->qmp("{ 'execute': 'qmp_capabilities', 'id': 'x' }"), "CommandNotFound"),
        "Capabilities negotiation is already complete, command ignored");
}

}  // namespace
