// Every qtest verb through libqtest against the emulator (-machine none -m 16 -accel qtest),
// plus the -qtest option errors. Replies were checked against QEMU 7.2.22.
//
// Running against a distribution QEMU: it lacks the qtest accelerator and crashes on memory
// verbs under machine none (no CPU), so use
//   QTEST_ACCEL=tcg QTEST_NO_AUDIO=1 QTEST_UPSTREAM=1 QTEST_MACHINE='-machine pc -S -m 16'
// QTEST_UPSTREAM=1 skips the cases where this port deliberately differs (QEMU aborts on
// malformed lines) and the clock verbs when the accelerator is not qtest.
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <vector>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::QTestState;

bool env_set(const char* name)
{
    const char* value = std::getenv(name);
    return value && *value;
}

bool upstream() { return env_set("QTEST_UPSTREAM"); }

bool qtest_accel()
{
    const char* accel = std::getenv("QTEST_ACCEL");
    return !accel || !*accel || std::string(accel) == "qtest";
}

std::string machine_args()
{
    const char* machine = std::getenv("QTEST_MACHINE");
    return machine && *machine ? machine : "-machine none -m 16";
}

class QtestProtocol : public ::testing::Test {
protected:
    std::unique_ptr<QTestState> qts = QTestState::init("-nodefaults " + machine_args());
};

TEST_F(QtestProtocol, TargetIsLittleEndian)
{
    EXPECT_FALSE(qts->big_endian());
    EXPECT_EQ(qts->qtest_command("endianness"), "OK little");
}

TEST_F(QtestProtocol, SizedWritesReadBack)
{
    qts->writeb(0x100, 0x5a);
    EXPECT_EQ(qts->readb(0x100), 0x5a);
    qts->writew(0x200, 0xbeef);
    EXPECT_EQ(qts->readw(0x200), 0xbeef);
    qts->writel(0x300, 0xdeadbeef);
    EXPECT_EQ(qts->readl(0x300), 0xdeadbeefu);
    qts->writeq(0x400, 0x1122334455667788ull);
    EXPECT_EQ(qts->readq(0x400), 0x1122334455667788ull);
}

TEST_F(QtestProtocol, MemoryIsLittleEndian)
{
    qts->writeq(0x400, 0x1122334455667788ull);
    EXPECT_EQ(qts->readb(0x400), 0x88);
    EXPECT_EQ(qts->readw(0x406), 0x1122);
    EXPECT_EQ(qts->qtest_command("read 0x400 8"), "OK 0x8877665544332211");
}

TEST_F(QtestProtocol, ReplyFormatsAreExact)
{
    qts->writeb(0, 5);
    EXPECT_EQ(qts->qtest_command("readb 0"), "OK 0x0000000000000005");
    EXPECT_EQ(qts->qtest_command("writeb 0 6"), "OK");
    EXPECT_EQ(qts->qtest_command("inb 0x1234"), "OK 0x00ff");
    EXPECT_EQ(qts->qtest_command("b64read 0 0"), "OK ");
    EXPECT_EQ(qts->qtest_command("write 0 4 0x"), "ERR invalid argument size");
    EXPECT_EQ(qts->qtest_command("b64write 0 4 AQ"), "ERR invalid argument size");
}

TEST_F(QtestProtocol, HexTransferRoundTrips)
{
    std::vector<uint8_t> data(4096);
    std::iota(data.begin(), data.end(), uint8_t{0});
    qts->memwrite(0x1000, data);
    std::vector<uint8_t> back(data.size());
    qts->memread(0x1000, back);
    EXPECT_EQ(back, data);
}

TEST_F(QtestProtocol, Base64TransferRoundTrips)
{
    std::vector<uint8_t> data(65536);
    for (size_t i = 0; i < data.size(); i++) {
        data[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    qts->bufwrite(0x10000, data);
    std::vector<uint8_t> back(data.size());
    qts->bufread(0x10000, back);
    EXPECT_EQ(back, data);
    // Both encodings see the same memory.
    std::vector<uint8_t> hex(16);
    qts->memread(0x10000, hex);
    EXPECT_TRUE(std::equal(hex.begin(), hex.end(), data.begin()));
}

TEST_F(QtestProtocol, MemsetFills)
{
    qts->memset(0x2000, 0xab, 10);
    std::vector<uint8_t> back(12);
    qts->memread(0x2000, back);
    EXPECT_EQ(back, (std::vector<uint8_t>{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0, 0}));
    EXPECT_EQ(qts->qtest_command("memset 0x2000 0 1"), "OK");
}

TEST_F(QtestProtocol, MemoryBeyondRamIsUnassigned)
{
    qts->writel(0x1000000, 0x12345678);
    EXPECT_EQ(qts->readl(0x1000000), 0u);
    EXPECT_EQ(qts->readq(0xfffffffffffffff8ull), 0u);
}

TEST_F(QtestProtocol, UnassignedPortsReadAllOnesAndTakeWrites)
{
    qts->outb(0x1234, 1);
    qts->outw(0x1234, 2);
    qts->outl(0x1234, 3);
    EXPECT_EQ(qts->inb(0x1234), 0xff);
    EXPECT_EQ(qts->inw(0x1234), 0xffff);
    EXPECT_EQ(qts->inl(0x1234), 0xffffffffu);
    EXPECT_EQ(qts->qtest_command("inw 0x1234"), "OK 0xffff");
}

TEST_F(QtestProtocol, ClockVerbs)
{
    if (!qtest_accel()) {
        EXPECT_EQ(qts->qtest_command("clock_step 100"), "FAIL Unknown command 'clock_step'");
        EXPECT_EQ(qts->qtest_command("clock_set 100"), "FAIL Unknown command 'clock_set'");
        return;
    }
    int64_t start = qts->clock_step(100) - 100;
    EXPECT_GE(start, 0);
    EXPECT_EQ(qts->clock_step(50), start + 150);
    EXPECT_EQ(qts->clock_set(start + 1000), start + 1000);
    EXPECT_EQ(qts->qtest_command("clock_set 0"), "FAIL " + std::to_string(start + 1000));
    EXPECT_EQ(qts->qtest_command("clock_step 0"), "FAIL could not advance time");
}

TEST_F(QtestProtocol, IrqVerbsOnMachineNoneFindNoDevice)
{
    // Paths that resolve to nothing; QEMU 7.2 crashes on a path that is an object but not
    // a device (e.g. "/machine"), which this port answers the same way.
    EXPECT_EQ(qts->qtest_command("irq_intercept_in /machine/nothing"), "FAIL Unknown device");
    EXPECT_EQ(qts->qtest_command("irq_intercept_out /machine/nothing"), "FAIL Unknown device");
    EXPECT_EQ(qts->qtest_command("set_irq_in /machine/nothing unnamed-gpio-in 0 1"), "FAIL Unknown device");
    EXPECT_FALSE(qts->get_irq(0));
}

TEST_F(QtestProtocol, ModuleLoadAndUnknownVerbsFail)
{
    EXPECT_EQ(qts->qtest_command("module_load a b"), "FAIL");
    EXPECT_EQ(qts->qtest_command("frobnicate 1 2"), "FAIL Unknown command 'frobnicate'");
    // The connection is still usable.
    EXPECT_FALSE(qts->big_endian());
}

TEST_F(QtestProtocol, MalformedLinesFailWithoutKillingTheEmulator)
{
    if (upstream()) {
        GTEST_SKIP() << "QEMU asserts (aborts) on malformed qtest lines";
    }
    EXPECT_EQ(qts->qtest_command("readb zz"), "FAIL readb: invalid number 'zz'");
    EXPECT_EQ(qts->qtest_command("readb"), "FAIL readb: missing argument");
    EXPECT_EQ(qts->qtest_command("inb 0x10000"), "FAIL inb: port 0x10000 is above 0xffff");
    EXPECT_EQ(qts->qtest_command("read 0 0"), "FAIL read: size must not be zero");
    EXPECT_EQ(qts->qtest_command(""), "FAIL Unknown command ''");
    qts->writeb(0, 9);
    EXPECT_EQ(qts->readb(0), 9);
}

TEST_F(QtestProtocol, QmpWorksAlongsideQtest)
{
    qtest::JsonValue status = qts->qmp_assert_success("{'execute': 'query-status'}");
    EXPECT_TRUE(status.contains("running"));
    qts->writeb(0, 1);
    EXPECT_EQ(qts->readb(0), 1);
}

TEST(QtestInstances, TwoEmulatorsRunSideBySide)
{
    auto first = QTestState::init("-nodefaults " + machine_args());
    auto second = QTestState::init("-nodefaults " + machine_args());
    EXPECT_NE(first->pid(), second->pid());
    first->writeb(0, 1);
    second->writeb(0, 2);
    EXPECT_EQ(first->readb(0), 1);
    EXPECT_EQ(second->readb(0), 2);
}

TEST(QtestInstances, SigtermEndsTheEmulatorWithStatusZero)
{
    auto qts = QTestState::init("-nodefaults " + machine_args());
    EXPECT_FALSE(qts->open_fds().empty());
    qts->quit();
    EXPECT_TRUE(qtest::process_open_fds(qts->pid()).empty());
}

// ---- -qtest option errors (texts from QEMU 7.2) ----

TEST(QtestOptions, UnknownChardevBackend)
{
    auto result = qtest::run_emulator({"-machine", "none", "-nodefaults", "-display", "none", "-qtest", "bogus:x"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("'bogus:x' is not a valid char driver"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Failed to initialize device for qtest: \"bogus:x\""), std::string::npos)
        << result.err;
}

TEST(QtestOptions, UnreachableSocket)
{
    auto result = qtest::run_emulator(
        {"-machine", "none", "-nodefaults", "-display", "none", "-qtest", "unix:/nonexistent/x.sock"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("Failed to connect to '/nonexistent/x.sock': No such file or directory"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("Failed to initialize device for qtest: \"unix:/nonexistent/x.sock\""),
              std::string::npos)
        << result.err;
}

TEST(QtestOptions, MissingArguments)
{
    auto qtest = qtest::run_emulator({"-machine", "none", "-qtest"});
    EXPECT_EQ(qtest.exit_code, 1);
    EXPECT_NE(qtest.err.find("-qtest: requires an argument"), std::string::npos) << qtest.err;
    auto log = qtest::run_emulator({"-machine", "none", "-qtest-log"});
    EXPECT_EQ(log.exit_code, 1);
    EXPECT_NE(log.err.find("-qtest-log: requires an argument"), std::string::npos) << log.err;
}

}  // namespace
