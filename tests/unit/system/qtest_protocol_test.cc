// The qtest line protocol, driven through QtestServer::handle_line and feed without any
// socket. Expected replies were checked against QEMU 7.2.22 (Debian build, no qtest
// accelerator) as follows:
//   [7.2 none]  qemu-system-x86_64 -machine none -nodefaults -accel tcg -qtest stdio
//   [7.2 pc]    qemu-system-x86_64 -machine pc -S -nodefaults -m 16 -qtest stdio
//               (memory verbs: 7.2 dereferences the absent CPU and crashes under machine
//               none, so its memory replies were taken from pc with 16 MiB of RAM)
//   [upstream]  not runnable here (needs -accel qtest); text from system/qtest.c
//   [ours]      QEMU asserts (aborts) on this input; the FAIL text is this port's own
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "system/guest-memory.h"
#include "system/qtest-clock.h"
#include "system/qtest.h"

namespace qemu {
namespace {

constexpr uint64_t kRamSize = 16 << 20;

class QtestProtocolTest : public ::testing::Test {
protected:
    GuestMemory memory = GuestMemory::create(kRamSize).value();
    VirtualClock clock;
    QtestServer server{memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"}};

    std::string run(std::string_view line) { return server.handle_line(line); }
};

// ---- memory, sized accesses [7.2 pc] ----

TEST_F(QtestProtocolTest, ReadOfFreshRamIsZeroWithSixteenDigits)
{
    EXPECT_EQ(run("readb 0"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readw 0"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readl 0"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readq 0"), "OK 0x0000000000000000");
}

TEST_F(QtestProtocolTest, WriteThenReadEachWidth)
{
    EXPECT_EQ(run("writeb 0 5"), "OK");
    EXPECT_EQ(run("readb 0"), "OK 0x0000000000000005");
    EXPECT_EQ(run("writew 0x10 0xbeef"), "OK");
    EXPECT_EQ(run("readw 0x10"), "OK 0x000000000000beef");
    EXPECT_EQ(run("writel 0x20 0xdeadbeef"), "OK");
    EXPECT_EQ(run("readl 0x20"), "OK 0x00000000deadbeef");
    EXPECT_EQ(run("writeq 8 0x1122334455667788"), "OK");
    EXPECT_EQ(run("readq 8"), "OK 0x1122334455667788");
}

TEST_F(QtestProtocolTest, StoresAreLittleEndian)
{
    run("writeq 8 0x1122334455667788");
    EXPECT_EQ(run("readb 8"), "OK 0x0000000000000088");
    EXPECT_EQ(run("readw 8"), "OK 0x0000000000007788");
    EXPECT_EQ(run("read 8 8"), "OK 0x8877665544332211");
}

TEST_F(QtestProtocolTest, ValueIsTruncatedToTheAccessWidth)
{
    run("writeq 8 0x1122334455667788");
    EXPECT_EQ(run("writew 8 0x12345"), "OK");
    EXPECT_EQ(run("readq 8"), "OK 0x1122334455662345");
}

TEST_F(QtestProtocolTest, NumbersTakeHexOctalDecimalAndNegativeWraps)
{
    EXPECT_EQ(run("writeb 010 0x7"), "OK");
    EXPECT_EQ(run("readb 8"), "OK 0x0000000000000007");
    EXPECT_EQ(run("writeb 16 255"), "OK");
    EXPECT_EQ(run("readb 0x10"), "OK 0x00000000000000ff");
    // "-1" is 0xffffffffffffffff, which is unassigned.
    EXPECT_EQ(run("readb -1"), "OK 0x0000000000000000");
}

TEST_F(QtestProtocolTest, UnassignedMemoryReadsZeroAndDropsWrites)
{
    EXPECT_EQ(run("writeb 0x1000000 5"), "OK");
    EXPECT_EQ(run("readb 0x1000000"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readq 0x80000000"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readq 0xfffffffffffffff8"), "OK 0x0000000000000000");
    EXPECT_EQ(run("readq 18446744073709551615"), "OK 0x0000000000000000");
}

TEST_F(QtestProtocolTest, AccessStraddlingTheEndOfRamKeepsTheRamPart)
{
    EXPECT_EQ(run("writel 0xfffffe 0x44332211"), "OK");
    EXPECT_EQ(run("readl 0xfffffe"), "OK 0x0000000000002211");
    EXPECT_EQ(run("read 0xfffffe 4"), "OK 0x11220000");
}

TEST_F(QtestProtocolTest, ExtraWordsAreIgnored)
{
    EXPECT_EQ(run("readb 0 1"), "OK 0x0000000000000000");
    EXPECT_EQ(run("endianness x"), "OK little");
}

// ---- read / write (hex) [7.2 pc] ----

TEST_F(QtestProtocolTest, HexWriteAndRead)
{
    EXPECT_EQ(run("read 0 4"), "OK 0x00000000");
    EXPECT_EQ(run("write 0 4 0x01020304"), "OK");
    EXPECT_EQ(run("read 0 8"), "OK 0x0102030400000000");
    EXPECT_EQ(run("readl 0"), "OK 0x0000000004030201");
}

TEST_F(QtestProtocolTest, HexWriteShortDataIsZeroFilled)
{
    run("memset 0 8 0xff");
    EXPECT_EQ(run("write 0 4 0x0102"), "OK");
    EXPECT_EQ(run("read 0 4"), "OK 0x01020000");
    // A trailing odd digit is not a byte.
    EXPECT_EQ(run("write 0 4 0x123"), "OK");
    EXPECT_EQ(run("read 0 4"), "OK 0x12000000");
    EXPECT_EQ(run("write 0 2 0x1"), "OK");
    EXPECT_EQ(run("read 0 2"), "OK 0x0000");
}

TEST_F(QtestProtocolTest, HexWriteLongDataIsTruncated)
{
    EXPECT_EQ(run("write 0 4 0x0102030405"), "OK");
    EXPECT_EQ(run("read 0 5"), "OK 0x0102030400");
}

TEST_F(QtestProtocolTest, HexWriteOfUnderThreeCharactersIsErr)
{
    EXPECT_EQ(run("write 0 4 0x"), "ERR invalid argument size");
    EXPECT_EQ(run("write 0 4 1"), "ERR invalid argument size");
}

TEST_F(QtestProtocolTest, HexDigitsAreAcceptedInEitherCase)
{
    EXPECT_EQ(run("write 0 2 0xAbcD"), "OK");
    EXPECT_EQ(run("read 0 2"), "OK 0xabcd");
}

// [ours] QEMU writes 0xff for each bad digit; a test never means that.
TEST_F(QtestProtocolTest, HexWriteWithBadDigitFails)
{
    EXPECT_EQ(run("write 0 4 0xzz"), "FAIL write: invalid hex digit in data");
    EXPECT_EQ(run("read 0 1"), "OK 0x00");
}

// [ours] QEMU asserts len != 0.
TEST_F(QtestProtocolTest, ReadOfZeroBytesFails)
{
    EXPECT_EQ(run("read 0 0"), "FAIL read: size must not be zero");
}

// [ours] QEMU would try to allocate the whole reply.
TEST_F(QtestProtocolTest, HugeReadFails)
{
    EXPECT_EQ(run("read 0 0x100000000"), "FAIL read: size 4294967296 is too large");
    EXPECT_EQ(run("b64read 0 0x100000000"), "FAIL b64read: size 4294967296 is too large");
}

TEST_F(QtestProtocolTest, HugeZeroFilledWriteIsCheap)
{
    // Most of it lands outside RAM; nothing is allocated for it.
    EXPECT_EQ(run("write 0 0x100000000000 0x42"), "OK");
    EXPECT_EQ(run("read 0 2"), "OK 0x4200");
}

// ---- base64 [7.2 pc] ----

TEST_F(QtestProtocolTest, Base64WriteAndRead)
{
    EXPECT_EQ(run("b64read 0 4"), "OK AAAAAA==");
    EXPECT_EQ(run("b64write 0 4 AQIDBA=="), "OK");
    EXPECT_EQ(run("b64read 0 4"), "OK AQIDBA==");
    EXPECT_EQ(run("read 0 4"), "OK 0x01020304");
}

TEST_F(QtestProtocolTest, Base64LongDataIsTruncated)
{
    EXPECT_EQ(run("b64write 0 4 AQIDBAUG"), "OK");
    EXPECT_EQ(run("b64read 0 8"), "OK AQIDBAAAAAA=");
}

// QEMU 7.2 answers OK too but fills the missing bytes with leftover input text
// ("AQJJPQ==" here); this port zero-fills them.
TEST_F(QtestProtocolTest, Base64ShortDataIsZeroFilled)
{
    run("memset 0 4 0xff");
    EXPECT_EQ(run("b64write 0 4 AQI="), "OK");
    EXPECT_EQ(run("read 0 4"), "OK 0x01020000");
}

TEST_F(QtestProtocolTest, Base64WriteOfUnderThreeCharactersIsErr)
{
    EXPECT_EQ(run("b64write 0 4 AQ"), "ERR invalid argument size");
}

TEST_F(QtestProtocolTest, Base64ReadOfZeroBytesKeepsTheSpace)
{
    EXPECT_EQ(run("b64read 0 0"), "OK ");
}

// ---- memset [7.2 pc] ----

TEST_F(QtestProtocolTest, MemsetFillsAndTruncatesThePattern)
{
    EXPECT_EQ(run("memset 0 4 0xff"), "OK");
    EXPECT_EQ(run("read 0 5"), "OK 0xffffffff00");
    EXPECT_EQ(run("memset 0 2 0x1234"), "OK");
    EXPECT_EQ(run("read 0 2"), "OK 0x3434");
}

TEST_F(QtestProtocolTest, MemsetOfZeroBytesIsAllowed)
{
    EXPECT_EQ(run("memset 0 0 1"), "OK");
    EXPECT_EQ(run("read 0 1"), "OK 0x00");
}

// ---- I/O ports, machine none [7.2 none] ----

TEST_F(QtestProtocolTest, UnassignedPortsReadAllOnes)
{
    EXPECT_EQ(run("inb 0x80"), "OK 0x00ff");
    EXPECT_EQ(run("inw 0x80"), "OK 0xffff");
    EXPECT_EQ(run("inl 0x80"), "OK 0xffffffff");
    EXPECT_EQ(run("inb 0x1234"), "OK 0x00ff");
    EXPECT_EQ(run("inb 0xffff"), "OK 0x00ff");
}

TEST_F(QtestProtocolTest, PortWritesAreAccepted)
{
    EXPECT_EQ(run("outb 0x80 1"), "OK");
    EXPECT_EQ(run("outw 0x80 0x1234"), "OK");
    EXPECT_EQ(run("outl 0xcf8 0x80000000"), "OK");
    EXPECT_EQ(run("inb 0x80"), "OK 0x00ff");
}

// [ours] QEMU asserts addr <= 0xffff.
TEST_F(QtestProtocolTest, PortAboveSixtyFourKFails)
{
    EXPECT_EQ(run("inb 0x10000"), "FAIL inb: port 0x10000 is above 0xffff");
    EXPECT_EQ(run("outl 0x10000 1"), "FAIL outl: port 0x10000 is above 0xffff");
}

// ---- misc verbs [7.2 none] ----

TEST_F(QtestProtocolTest, EndiannessIsLittle)
{
    EXPECT_EQ(run("endianness"), "OK little");
}

TEST_F(QtestProtocolTest, IrqInterceptOfAnyPathIsUnknownDevice)
{
    EXPECT_EQ(run("irq_intercept_in /foo"), "FAIL Unknown device");
    EXPECT_EQ(run("irq_intercept_out /foo"), "FAIL Unknown device");
    // 7.2 crashes on "/machine" (not a device); it is no device here either.
    EXPECT_EQ(run("irq_intercept_in /machine"), "FAIL Unknown device");
    EXPECT_EQ(run("irq_intercept_out /machine/unattached name"), "FAIL Unknown device");
}

TEST_F(QtestProtocolTest, SetIrqInOfAnyPathIsUnknownDevice)
{
    EXPECT_EQ(run("set_irq_in /foo a 0 1"), "FAIL Unknown device");
    EXPECT_EQ(run("set_irq_in /machine unnamed-gpio-in 0 1"), "FAIL Unknown device");
}

TEST_F(QtestProtocolTest, ModuleLoadFails)
{
    EXPECT_EQ(run("module_load a b"), "FAIL");
    EXPECT_EQ(run("module_load accel tcg-x86_64"), "FAIL");
}

TEST_F(QtestProtocolTest, UnknownCommandIsNamed)
{
    EXPECT_EQ(run("foo"), "FAIL Unknown command 'foo'");
    EXPECT_EQ(run("foo  bar"), "FAIL Unknown command 'foo'");
    EXPECT_EQ(run("READB 0"), "FAIL Unknown command 'READB'");
    // A leading space makes the first word empty.
    EXPECT_EQ(run(" readb 0"), "FAIL Unknown command ''");
    // [ours] QEMU asserts on an empty line.
    EXPECT_EQ(run(""), "FAIL Unknown command ''");
}

// ---- malformed arguments [ours]: QEMU asserts on all of these ----

TEST_F(QtestProtocolTest, MissingArgumentsFail)
{
    for (const char* verb : {"readb", "readw", "readl", "readq", "inb", "inw", "inl", "irq_intercept_in",
                             "irq_intercept_out"}) {
        EXPECT_EQ(run(verb), std::string("FAIL ") + verb + ": missing argument");
    }
    EXPECT_EQ(run("writeb 0"), "FAIL writeb: missing argument");
    EXPECT_EQ(run("outb 0x80"), "FAIL outb: missing argument");
    EXPECT_EQ(run("read 0"), "FAIL read: missing argument");
    EXPECT_EQ(run("b64read 0"), "FAIL b64read: missing argument");
    EXPECT_EQ(run("write 0 4"), "FAIL write: missing argument");
    EXPECT_EQ(run("b64write 0 4"), "FAIL b64write: missing argument");
    EXPECT_EQ(run("memset 0 4"), "FAIL memset: missing argument");
    EXPECT_EQ(run("set_irq_in /foo a 0"), "FAIL set_irq_in: missing argument");
    EXPECT_EQ(run("module_load a"), "FAIL module_load: missing argument");
    EXPECT_EQ(run("clock_set"), "FAIL clock_set: missing argument");
}

TEST_F(QtestProtocolTest, NonNumericArgumentsFail)
{
    EXPECT_EQ(run("readb zz"), "FAIL readb: invalid number 'zz'");
    EXPECT_EQ(run("readb 0x"), "FAIL readb: invalid number '0x'");
    EXPECT_EQ(run("readb 12abc"), "FAIL readb: invalid number '12abc'");
    EXPECT_EQ(run("readb 0\r"), "FAIL readb: invalid number '0\r'");
    EXPECT_EQ(run("writel 0 x"), "FAIL writel: invalid number 'x'");
    EXPECT_EQ(run("writeq 0 0x10000000000000000"), "FAIL writeq: invalid number '0x10000000000000000'");
    EXPECT_EQ(run("outb p 1"), "FAIL outb: invalid number 'p'");
    EXPECT_EQ(run("read 0 n"), "FAIL read: invalid number 'n'");
    EXPECT_EQ(run("memset 0 4 v"), "FAIL memset: invalid number 'v'");
    EXPECT_EQ(run("clock_step soon"), "FAIL clock_step: invalid number 'soon'");
    EXPECT_EQ(run("clock_set later"), "FAIL clock_set: invalid number 'later'");
}

// ---- clock [upstream] ----

TEST_F(QtestProtocolTest, ClockStepMovesTheVirtualClock)
{
    EXPECT_EQ(run("clock_step 100"), "OK 100");
    EXPECT_EQ(run("clock_step 0x10"), "OK 116");
    EXPECT_EQ(clock.now_ns(), 116);
}

TEST_F(QtestProtocolTest, ClockStepThatDoesNotMoveFails)
{
    EXPECT_EQ(run("clock_step 0"), "FAIL could not advance time");
    EXPECT_EQ(run("clock_step -5"), "FAIL could not advance time");
}

TEST_F(QtestProtocolTest, ClockStepWithoutDeadlineFails)
{
    EXPECT_EQ(run("clock_step"),
              "FAIL cannot advance clock to the next deadline because there is no pending deadline");
}

TEST_F(QtestProtocolTest, ClockStepGoesToTheNextDeadlineAndFiresIt)
{
    int fired = 0;
    clock.add_timer(250, [&] { fired++; });
    clock.add_timer(900, [&] { fired += 10; });
    EXPECT_EQ(run("clock_step"), "OK 250");
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(run("clock_step 1000"), "OK 1250");
    EXPECT_EQ(fired, 11);
}

TEST_F(QtestProtocolTest, ClockSetForwardAndBackward)
{
    EXPECT_EQ(run("clock_set 1000"), "OK 1000");
    EXPECT_EQ(run("clock_set 1000"), "OK 1000");
    EXPECT_EQ(run("clock_set 10"), "FAIL 1000");
    EXPECT_EQ(clock.now_ns(), 1000);
}

// [7.2 none] without the qtest accelerator the clock verbs do not exist.
TEST(QtestProtocolNoAccel, ClockVerbsAreUnknownWithoutQtestAccel)
{
    GuestMemory memory;
    VirtualClock clock;
    QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = false, .log = "none"});
    EXPECT_EQ(server.handle_line("clock_step"), "FAIL Unknown command 'clock_step'");
    EXPECT_EQ(server.handle_line("clock_step 100"), "FAIL Unknown command 'clock_step'");
    EXPECT_EQ(server.handle_line("clock_set 1000"), "FAIL Unknown command 'clock_set'");
    EXPECT_EQ(clock.now_ns(), 0);
}

// [ours] The bound on a read's length is an option; at the bound a read still works, and
// the part beyond RAM reads as zero.
TEST(QtestProtocolReadBound, LongerThanTheBoundFails)
{
    GuestMemory memory = GuestMemory::create(4).value();
    VirtualClock clock;
    QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none", .max_read_size = 8});
    EXPECT_EQ(server.handle_line("writel 0 0x04030201"), "OK");
    EXPECT_EQ(server.handle_line("read 0 8"), "OK 0x0102030400000000");
    EXPECT_EQ(server.handle_line("b64read 0 8"), "OK AQIDBAAAAAA=");
    EXPECT_EQ(server.handle_line("read 0 9"), "FAIL read: size 9 is too large");
    EXPECT_EQ(server.handle_line("b64read 0 9"), "FAIL b64read: size 9 is too large");
}

// Machine none without -m has no RAM at all.
TEST(QtestProtocolNoRam, EverythingIsUnassigned)
{
    GuestMemory memory;
    VirtualClock clock;
    QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "none"});
    EXPECT_EQ(server.handle_line("writeb 0 5"), "OK");
    EXPECT_EQ(server.handle_line("readb 0"), "OK 0x0000000000000000");
}

// ---- byte stream ----

TEST_F(QtestProtocolTest, FeedAnswersEachCompleteLine)
{
    EXPECT_EQ(server.feed("writeb 0 7\nreadb 0\n"), "OK\nOK 0x0000000000000007\n");
}

TEST_F(QtestProtocolTest, FeedBuffersAPartialLine)
{
    EXPECT_EQ(server.feed("end"), "");
    EXPECT_EQ(server.feed("ian"), "");
    EXPECT_EQ(server.feed("ness\nin"), "OK little\n");
    EXPECT_EQ(server.feed("b 0x80\n"), "OK 0x00ff\n");
}

TEST_F(QtestProtocolTest, CloseDropsAPartialLine)
{
    server.connection_opened();
    EXPECT_EQ(server.feed("garbage"), "");
    server.connection_closed();
    server.connection_opened();
    EXPECT_EQ(server.feed("endianness\n"), "OK little\n");
}

// ---- log ----

class QtestLogTest : public ::testing::Test {
protected:
    std::string path = ::testing::TempDir() + "qtest-log-test.txt";

    std::string log_text()
    {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    // Replaces every "+S.UUUUUU" / " S.UUUUUU" timestamp with "T" so the text compares.
    static std::string mask_times(std::string text)
    {
        std::string out;
        for (size_t i = 0; i < text.size(); i++) {
            if (text[i] == '[' && i + 2 < text.size() && text[i + 2] == ' ') {
                size_t close = text.find(']', i);
                out += text.substr(i, 3);
                out += 'T';
                i = close - 1;
                continue;
            }
            out += text[i];
        }
        return out;
    }
};

TEST_F(QtestLogTest, LogsRequestsRepliesAndConnectionEvents)
{
    {
        GuestMemory memory = GuestMemory::create(kRamSize).value();
        VirtualClock clock;
        QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = path});
        server.connection_opened();
        server.feed("readb 0\nb64write 0 4 AQI=\nfoo  bar\n");
        server.connection_closed();
    }
    // The shape QEMU 7.2 wrote for the same input [7.2 pc].
    EXPECT_EQ(mask_times(log_text()),
              "[I T] OPENED\n"
              "[R T] readb 0\n"
              "[S T] OK 0x0000000000000000\n"
              "[R T] b64write 0 4 AQI=\n"
              "[S T] b64write: data length mismatch (told 4, found 2)\n"
              "[S T] OK\n"
              "[R T] foo  bar\n"
              "[S T] FAIL Unknown command 'foo'\n"
              "[I T] CLOSED\n");
    std::string raw = log_text();
    EXPECT_EQ(raw.rfind("[I 0.0", 0), 0u) << raw;
    EXPECT_NE(raw.find("[R +0.0"), std::string::npos) << raw;
    EXPECT_NE(raw.find("[I +0.0"), std::string::npos) << raw;
    std::remove(path.c_str());
}

TEST_F(QtestLogTest, RepliesAreNotLoggedBeforeOpened)
{
    {
        GuestMemory memory;
        VirtualClock clock;
        QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = path});
        server.handle_line("endianness");
    }
    EXPECT_EQ(mask_times(log_text()), "[R T] endianness\n");
    std::remove(path.c_str());
}

TEST(QtestLog, NoneWritesNothingAndUnopenableFileIsIgnored)
{
    GuestMemory memory;
    VirtualClock clock;
    QtestServer server(memory, clock, QtestServerOptions{.qtest_accel = true, .log = "/nonexistent/dir/log"});
    server.connection_opened();
    EXPECT_EQ(server.handle_line("endianness"), "OK little");
}

// ---- the pieces on their own ----

TEST(GuestMemory, LargeRamIsSparse)
{
    auto memory = GuestMemory::create(uint64_t{64} << 30);
    ASSERT_TRUE(memory.has_value()) << memory.error().desc;
    uint8_t byte = 0x5a;
    memory->write((uint64_t{64} << 30) - 1, std::span<const uint8_t>(&byte, 1));
    uint8_t back = 0;
    memory->read((uint64_t{64} << 30) - 1, std::span<uint8_t>(&back, 1));
    EXPECT_EQ(back, 0x5a);
}

TEST(VirtualClock, TimersFireInDeadlineOrderWithTheClockAtTheirDeadline)
{
    VirtualClock clock;
    std::vector<std::pair<int, int64_t>> fired;
    clock.add_timer(30, [&] { fired.emplace_back(3, clock.now_ns()); });
    clock.add_timer(10, [&] { fired.emplace_back(1, clock.now_ns()); });
    auto cancelled = clock.add_timer(20, [&] { fired.emplace_back(2, clock.now_ns()); });
    EXPECT_TRUE(clock.cancel_timer(cancelled));
    EXPECT_FALSE(clock.cancel_timer(cancelled));
    EXPECT_EQ(clock.next_deadline(), 10);
    EXPECT_EQ(clock.advance_to(100), 100);
    EXPECT_EQ(fired, (std::vector<std::pair<int, int64_t>>{{1, 10}, {3, 30}}));
    EXPECT_EQ(clock.next_deadline(), std::nullopt);
}

TEST(VirtualClock, TimerAddedByACallbackFiresInTheSameAdvance)
{
    VirtualClock clock;
    int fired = 0;
    clock.add_timer(10, [&] { clock.add_timer(20, [&] { fired++; }); });
    clock.advance_to(50);
    EXPECT_EQ(fired, 1);
}

TEST(VirtualClock, StepSaturatesInsteadOfOverflowing)
{
    VirtualClock clock;
    clock.advance_to(10);
    EXPECT_EQ(clock.step(INT64_MAX), INT64_MAX);
}

}  // namespace
}  // namespace qemu
