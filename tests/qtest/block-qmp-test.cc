// The block layer in the emulator, over QMP and HMP: blockdev-add / blockdev-del with
// QEMU's errors, query-named-block-nodes and query-block with QEMU 7.2's fields, HMP
// `qemu-io` writing into the image and `info block`, block_resize, blockdev-reopen, and
// -drive / -blockdev on the command line. The expected replies were taken from Debian's
// QEMU 7.2 (QTEST_ACCEL=tcg QTEST_NO_AUDIO=1 QTEST_QEMU_BINARY=/usr/bin/qemu-system-x86_64
// passes this file); generated node names ("#block...") differ by design and are not
// compared.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/qtest/hmp-qemu-io.h"
#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

// The order of keys in a QMP object is not significant: compare with keys sorted.
std::string canon(const JsonValue& value)
{
    return nlohmann::json::parse(value.dump()).dump();
}

std::string error_of(const JsonValue& reply)
{
    return qtest::qmp_expect_error(reply, "GenericError");
}

// A 1 MiB image of zeroes in the temp directory, removed with the object.
class TempImage {
public:
    explicit TempImage(off_t size = 1 << 20)
    {
        static int counter = 0;
        m_path = std::string(g_get_tmp_dir()) + "/block-qmp-test-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++) + ".raw";
        int fd = ::open(m_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(ftruncate(fd, size), 0);
        ::close(fd);
    }
    ~TempImage() { ::unlink(m_path.c_str()); }
    TempImage(const TempImage&) = delete;
    TempImage& operator=(const TempImage&) = delete;

    const std::string& path() const { return m_path; }
    std::vector<uint8_t> read(off_t offset, size_t length) const
    {
        std::vector<uint8_t> data(length);
        int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_EQ(::pread(fd, data.data(), length, offset), static_cast<ssize_t>(length));
        ::close(fd);
        return data;
    }
    off_t size() const
    {
        struct stat st { };
        ::stat(m_path.c_str(), &st);
        return st.st_size;
    }

private:
    std::string m_path;
};

std::string add_raw(const std::string& node, const std::string& filename, const std::string& extra = "")
{
    return "{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': '" + node + "'" + extra +
        ", 'file': {'driver': 'file', 'filename': '" + filename + "'}}}";
}

bool all_bytes(const std::vector<uint8_t>& data, uint8_t value)
{
    for (uint8_t byte : data) {
        if (byte != value) {
            return false;
        }
    }
    return true;
}

// ---------------------------------------------------------------- blockdev-add / -del

TEST(BlockdevAdd, RawOverFileIsListedWithQemuFields)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success(add_raw("d0", image.path()));
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    ASSERT_EQ(nodes.size(), 2u) << dump(nodes);
    JsonValue raw = nodes[0];
    EXPECT_EQ(raw["node-name"], "d0");
    EXPECT_EQ(raw["drv"], "raw");
    EXPECT_EQ(raw["file"], image.path());
    EXPECT_EQ(raw["ro"], false);
    EXPECT_EQ(raw["encrypted"], false);
    EXPECT_EQ(raw["detect_zeroes"], "off");
    EXPECT_EQ(raw["backing_file_depth"], 0);
    EXPECT_EQ(raw["write_threshold"], 0);
    for (const char* key : {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"}) {
        EXPECT_EQ(raw[key], 0) << key;
    }
    EXPECT_EQ(
        canon(raw["cache"]), canon(JsonValue::parse(R"({"writeback": true, "direct": false, "no-flush": false})")));
    EXPECT_EQ(raw["image"]["virtual-size"], 1 << 20);
    EXPECT_EQ(raw["image"]["format"], "raw");
    EXPECT_EQ(raw["image"]["filename"], image.path());
    EXPECT_EQ(raw["image"]["dirty-flag"], false);
    EXPECT_TRUE(raw["image"].contains("actual-size"));
    // The protocol node below it, with a generated name.
    JsonValue file = nodes[1];
    EXPECT_EQ(file["drv"], "file");
    EXPECT_EQ(file["image"]["format"], "file");
    EXPECT_TRUE(file["node-name"].get<std::string>().starts_with("#block")) << dump(file);
    // blockdev-add makes no drive.
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-block'}"), JsonValue::array());
}

TEST(BlockdevAdd, ErrorsAreQemus)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success(add_raw("d0", image.path()));
    EXPECT_EQ(error_of(qts->qmp(add_raw("d0", image.path()))), "Duplicate nodes with node-name='d0'");
    EXPECT_EQ(error_of(qts->qmp(add_raw("d1", "/nonexistent/x"))),
        "Could not open '/nonexistent/x': No such file or directory");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd2'}}")),
        "Parameter 'file' is missing");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd2', "
                                "'file': {'driver': 'file'}}}")),
        "Parameter 'file.filename' is missing");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'bogus', 'node-name': 'd2'}}")),
        "Parameter 'driver' does not accept value 'bogus'");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'd2', "
                                "'filename': '" +
                  image.path() + "', 'bogus': 1}}")),
        "Parameter 'bogus' is unexpected");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'd2', "
                                "'filename': '" +
                  image.path() + "', 'read-only': 'yes'}}")),
        "Invalid parameter type for 'read-only', expected: boolean");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd2', "
                                "'file': 'nosuch'}}")),
        "Cannot find device='nosuch' nor node-name='nosuch'");
    // Nothing half-made was left behind.
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}").size(), 2u);
}

TEST(BlockdevDel, RefusesMissingNodesAndNodesInUse)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'x'}}")),
        "Failed to find node with node-name='x'");
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'file', 'node-name': 'f1', "
                            "'filename': '" +
        image.path() + "'}}");
    qts->qmp_assert_success(
        "{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'r1', 'file': 'f1'}}");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'f1'}}")),
        "Block device f1 is in use");
    // The newest node comes first, each followed by its children.
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0]["node-name"], "r1");
    EXPECT_EQ(nodes[1]["node-name"], "f1");
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'r1'}}");
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'f1'}}");
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}"), JsonValue::array());
}

TEST(BlockdevDel, ChildNodesAreNotTheMonitors)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'file': {'driver': 'file', 'node-name': 'f0', 'filename': '" +
        image.path() + "'}}}");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'f0'}}")),
        "Node f0 is not owned by the monitor");
}

// ---------------------------------------------------------------- HMP qemu-io

TEST(HmpQemuIo, WritesLandInTheImageAndOutputGoesToStdout)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success(add_raw("d0", image.path()));
    // QEMU 7.2 prints qemu-io's report on its own stdout; the monitor gets nothing.
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0xab 0 4k\""), "");
    EXPECT_TRUE(all_bytes(image.read(0, 4096), 0xab));
    EXPECT_TRUE(all_bytes(image.read(4096, 4096), 0));
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -z 1k 1k\""), "");
    EXPECT_TRUE(all_bytes(image.read(1024, 1024), 0));
    EXPECT_TRUE(all_bytes(image.read(0, 1024), 0xab));
}

// ---------------------------------------------------------------- query-blockstats

// QEMU 7.2's accounting: a backend counts what its user accounts (qemu-io's aio_* commands,
// not its synchronous ones), every node the end of its highest write, the file protocol
// its discards; query-nodes lists every node, oldest first, without the backend's part.
TEST(QueryBlockstats, CountsWhatQemuCounts)
{
    TempImage image;
    auto qts =
        QTestState::init(std::string(kArgs) + " -drive if=none,id=d0,format=raw,discard=unmap,file=" + image.path());
    auto device = [&] {
        JsonValue all = qts->qmp_assert_success("{'execute': 'query-blockstats'}");
        EXPECT_EQ(all.size(), 1u) << dump(all);
        return all[0];
    };
    JsonValue d0 = device();
    EXPECT_EQ(d0["device"], "d0");
    EXPECT_EQ(d0["stats"]["wr_operations"], 0);
    EXPECT_EQ(d0["stats"]["account_invalid"], true);
    EXPECT_FALSE(d0["stats"].contains("idle_time_ns"));
    EXPECT_EQ(d0["stats"]["timed_stats"], JsonValue::array());
    EXPECT_EQ(canon(d0["parent"]["driver-specific"]),
        canon(JsonValue::parse(
            R"({"driver": "file", "discard-nb-ok": 0, "discard-nb-failed": 0, "discard-bytes-ok": 0})")));
    EXPECT_EQ(d0["parent"]["stats"]["account_invalid"], false);
    // Under the qtest accelerator the times are the virtual clock's, and an access at time
    // 0 counts as none for idle_time_ns, in QEMU as here; QEMU 7.2 runs this under tcg.
    qts->qtest_command("clock_step 1000");

    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 512 1k\""), "");
    d0 = device();
    EXPECT_EQ(d0["stats"]["wr_operations"], 0);
    EXPECT_EQ(d0["stats"]["wr_highest_offset"], 1536);
    EXPECT_EQ(d0["parent"]["stats"]["wr_highest_offset"], 1536);

    EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_write 64k 4k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_flush\""), "");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_read -i 0 512\""), "");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"discard 128k 64k\""), "");
    d0 = device();
    EXPECT_EQ(d0["stats"]["wr_operations"], 1);
    EXPECT_EQ(d0["stats"]["wr_bytes"], 4096);
    EXPECT_EQ(d0["stats"]["flush_operations"], 1);
    EXPECT_EQ(d0["stats"]["invalid_rd_operations"], 1);
    EXPECT_EQ(d0["stats"]["unmap_operations"], 0);
    EXPECT_TRUE(d0["stats"].contains("idle_time_ns"));
    EXPECT_EQ(d0["stats"]["wr_highest_offset"], 69632);
    EXPECT_EQ(d0["parent"]["driver-specific"]["discard-nb-ok"], 1);
    EXPECT_EQ(d0["parent"]["driver-specific"]["discard-bytes-ok"], 65536);

    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-blockstats', 'arguments': {'query-nodes': true}}");
    ASSERT_EQ(nodes.size(), 2u) << dump(nodes);
    EXPECT_EQ(nodes[0]["driver-specific"]["driver"], "file");
    EXPECT_FALSE(nodes[0].contains("parent"));
    EXPECT_EQ(nodes[1]["parent"]["node-name"], nodes[0]["node-name"]);
    EXPECT_FALSE(nodes[1].contains("device"));
    EXPECT_EQ(nodes[1]["stats"]["wr_operations"], 0);

    std::string line = qts->hmp("info blockstats");
    EXPECT_TRUE(line.starts_with("d0: rd_bytes=0 wr_bytes=4096 rd_operations=0 wr_operations=1 flush_operations=1 "
                                 "wr_total_time_ns="))
        << line;
    EXPECT_NE(line.find(" rd_merged=0 wr_merged=0 idle_time_ns="), std::string::npos) << line;
}

// ---------------------------------------------------------------- write threshold

// block-set-write-threshold, as libvirt's domblkthreshold uses it on thin storage: the
// first write past the offset raises one BLOCK_WRITE_THRESHOLD and switches it off.
TEST(WriteThreshold, OneEventForTheFirstWritePastIt)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success(add_raw("d0", image.path()));
    auto threshold_of = [&] {
        JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
        EXPECT_EQ(nodes[0]["node-name"], "d0") << dump(nodes);
        return nodes[0]["write_threshold"];
    };
    EXPECT_EQ(threshold_of(), 0);
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block-set-write-threshold', 'arguments': "
                                "{'node-name': 'nowhere', 'write-threshold': 4096}}")),
        "Device 'nowhere' not found");
    qts->qmp_assert_success(
        "{'execute': 'block-set-write-threshold', 'arguments': {'node-name': 'd0', 'write-threshold': 65536}}");
    EXPECT_EQ(threshold_of(), 65536);

    // Ending exactly at the threshold does not cross it.
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 60k 4k\""), "");
    EXPECT_FALSE(qts->qmp_event_ref("BLOCK_WRITE_THRESHOLD"));
    EXPECT_EQ(threshold_of(), 65536);

    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 64k 512\""), "");
    JsonValue event = qts->qmp_eventwait("BLOCK_WRITE_THRESHOLD");
    EXPECT_EQ(canon(event["data"]),
        canon(JsonValue::parse(R"({"node-name": "d0", "amount-exceeded": 512, "write-threshold": 65536})")));
    EXPECT_EQ(threshold_of(), 0);

    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 128k 4k\""), "");
    qts->qmp_assert_success("{'execute': 'query-status'}");
    EXPECT_FALSE(qts->qmp_event_ref("BLOCK_WRITE_THRESHOLD"));
}

// -drive stats-intervals: timed_stats per interval, in the order given. Under the qtest
// accelerator QEMU takes I/O times on the virtual clock and gives every request a latency
// of 1 ms, so the figures are exact: idle_time_ns is what clock_step moved since the last
// request, and a queue depth is 1 ms over the time the older window has run.
TEST(QueryBlockstats, TimedStatsRunOnTheVirtualClock)
{
    if (qtest::qemu_binary().starts_with("/usr/")) {
        GTEST_SKIP() << "QEMU 7.2 runs these tests under tcg, without a virtual clock to step";
    }
    TempImage image;
    auto qts = QTestState::init(std::string(kArgs) +
        " -drive if=none,id=d0,format=raw,stats-intervals.0=60,stats-intervals.1=1,file=" + image.path());
    auto stats = [&] {
        JsonValue all = qts->qmp_assert_success("{'execute': 'query-blockstats'}");
        EXPECT_EQ(all.size(), 1u) << dump(all);
        return all[0]["stats"];
    };
    JsonValue s = stats();
    ASSERT_EQ(s["timed_stats"].size(), 2u) << dump(s);
    EXPECT_EQ(s["timed_stats"][0]["interval_length"], 60);
    EXPECT_EQ(s["timed_stats"][1]["interval_length"], 1);
    EXPECT_FALSE(s.contains("idle_time_ns"));

    qts->clock_step(1000);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_write 0 4k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"aio_flush\""), "");
    qts->clock_step(5000);
    s = stats();
    EXPECT_EQ(s["wr_operations"], 1);
    EXPECT_EQ(s["wr_total_time_ns"], 1'000'000);
    EXPECT_EQ(s["flush_total_time_ns"], 1'000'000);
    EXPECT_EQ(s["idle_time_ns"], 5000);
    for (const JsonValue& interval : s["timed_stats"]) {
        EXPECT_EQ(interval["min_wr_latency_ns"], 1'000'000) << dump(interval);
        EXPECT_EQ(interval["max_wr_latency_ns"], 1'000'000);
        EXPECT_EQ(interval["avg_flush_latency_ns"], 1'000'000);
        EXPECT_EQ(interval["max_rd_latency_ns"], 0);
        EXPECT_EQ(interval["avg_rd_queue_depth"], 0.0);
    }
    // 60 s stretch to 80 s; the older window ends at 40 s, so at 6 us it has run 40 s + 6 us.
    EXPECT_DOUBLE_EQ(s["timed_stats"][0]["avg_wr_queue_depth"].get<double>(), 1e6 / (40e9 + 6000));
    EXPECT_DOUBLE_EQ(s["timed_stats"][1]["avg_wr_queue_depth"].get<double>(), 1e6 / (666'666'667.0 + 6000));

    // Two seconds on, the 1 s interval has forgotten the request; the 60 s one has not.
    qts->clock_step(2'000'000'000);
    s = stats();
    EXPECT_EQ(s["timed_stats"][0]["max_wr_latency_ns"], 1'000'000);
    EXPECT_EQ(s["timed_stats"][1]["max_wr_latency_ns"], 0);
    EXPECT_EQ(s["timed_stats"][1]["avg_wr_queue_depth"], 0.0);
}

TEST(HmpQemuIo, DetectZeroesTurnsZeroWritesIntoHoles)
{
    auto allocated = [](const TempImage& image) {
        struct stat st { };
        ::stat(image.path().c_str(), &st);
        return static_cast<int64_t>(st.st_blocks) * 512;
    };
    TempImage plain;
    TempImage detecting;
    auto qts = QTestState::init(kArgs);
    EXPECT_EQ(error_of(qts->qmp(add_raw("u", detecting.path(), ", 'detect-zeroes': 'unmap'"))),
        "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap");
    qts->qmp_assert_success(add_raw("p", plain.path()));
    qts->qmp_assert_success(add_raw("d", detecting.path(), ", 'detect-zeroes': 'unmap', 'discard': 'unmap'"));
    for (const char* node : {"p", "d"}) {
        EXPECT_EQ(qts->hmp(std::string("qemu-io ") + node + " \"write -P 0xab 0 256k\""), "");
    }
    ASSERT_GE(allocated(plain), 256 * 1024);
    ASSERT_GE(allocated(detecting), 256 * 1024);
    for (const char* node : {"p", "d"}) {
        EXPECT_EQ(qts->hmp(std::string("qemu-io ") + node + " \"write -P 0 0 256k\""), "");
    }
    // Both read back as zeroes; only the detecting node gave the space back.
    EXPECT_TRUE(all_bytes(plain.read(0, 256 * 1024), 0));
    EXPECT_TRUE(all_bytes(detecting.read(0, 256 * 1024), 0));
    EXPECT_GE(allocated(plain), 256 * 1024);
    EXPECT_LT(allocated(detecting), 256 * 1024);
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    for (const JsonValue& node : nodes) {
        if (node["node-name"] == "d") {
            EXPECT_EQ(node["detect_zeroes"], "unmap");
        } else {
            // Neither the plain node nor either protocol child detects zeroes.
            EXPECT_EQ(node["detect_zeroes"], "off") << dump(node);
        }
    }
}

TEST(Drive, DeviceKeysAreCheckedAndMediaCdromIsReadOnly)
{
    TempImage image;
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=d0,format=raw,media=cdrom,werror=enospc," +
        "rerror=stop,index=3,copy-on-read=off,snapshot=off,file=" + image.path());
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u);
    EXPECT_EQ(block[0]["inserted"]["ro"], true);
    // A second, bad drive ends the run once the first one has been set up (and warned).
    auto warned = qtest::run_emulator({"-nodefaults", "-display", "none", "-machine", "none", "-drive",
        "if=none,format=raw,copy-on-read=on,readonly=on,file=" + image.path(), "-drive", "if=none,media=x"});
    EXPECT_EQ(warned.exit_code, 1);
    EXPECT_EQ(warned.err, "qemu-system-x86_64: -drive if=none,format=raw,copy-on-read=on,readonly=on,file=" +
            image.path() + ": warning: disabling copy-on-read on read-only drive\n" +
            "qemu-system-x86_64: -drive if=none,media=x: 'x' invalid media\n");
}

TEST(Drive, SnapshotOnIsRefusedWithoutQcow2)
{
    if (qtest::qemu_binary().starts_with("/usr/")) {
        GTEST_SKIP() << "QEMU puts a qcow2 overlay on the drive";
    }
    TempImage image;
    auto result = qtest::run_emulator(
        {"-nodefaults", "-display", "none", "-machine", "none", "-drive", "if=none,format=raw,snapshot=on,file=" +
            image.path()});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "qemu-system-x86_64: -drive if=none,format=raw,snapshot=on,file=" + image.path() +
            ": snapshot=on needs a qcow2 overlay, and this build has no qcow2 driver\n");
}

TEST(Drive, DetectZeroesIsADriveOption)
{
    TempImage image;
    // -drive takes unmap without discard=unmap (7.2 does); it then acts as "on".
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=d0,format=raw,detect-zeroes=unmap,file=" +
        image.path());
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u);
    EXPECT_EQ(block[0]["inserted"]["detect_zeroes"], "unmap");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0 0 4k\""), "");
}

// A -drive over blkdebug (no rules: breakpoints only), for HMP qemu-io's aio requests.
std::string blkdebug_drive_args(const TempImage& image)
{
    std::string config = image.path() + ".cfg";
    int fd = ::open(config.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    ::close(fd);
    return std::string(kArgs) + " -drive if=none,id=d0,format=raw,file=blkdebug:" + config + ":" + image.path();
}

TEST(HmpQemuIo, AioOnADriveAnswersAtOnceAndReportsFromTheMainLoop)
{
    TempImage image;
    qtest::Emulator emu(blkdebug_drive_args(image));
    EXPECT_EQ(emu.qemu_io("d0", "break write_aio A"), "");
    // The request waits at the breakpoint, and the command has answered all the same.
    EXPECT_EQ(emu.qemu_io("d0", "aio_write -P 0x5a 0 4k"), "blkdebug: Suspended request 'A'\n");
    emu.qts->qmp_assert_success("{'execute': 'query-status'}");
    EXPECT_EQ(emu.out.take(), "");
    EXPECT_TRUE(all_bytes(image.read(0, 4096), 0));
    std::string out = emu.qemu_io("d0", "resume A");
    EXPECT_TRUE(out.starts_with("blkdebug: Resuming request 'A'\n")) << out;
    // Nothing polls from here on: the report comes from the main loop's watch on the
    // session's context. The bound only keeps a broken build from spinning forever.
    const gint64 give_up = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (out.find("wrote 4096/4096 bytes at offset 0\n") == std::string::npos && g_get_monotonic_time() < give_up) {
        emu.qts->qmp_assert_success("{'execute': 'query-status'}");
        g_usleep(1000);
        out += emu.out.take();
    }
    EXPECT_NE(out.find("wrote 4096/4096 bytes at offset 0\n"), std::string::npos) << out;
    EXPECT_TRUE(all_bytes(image.read(0, 4096), 0x5a));
}

// QEMU 7.2 hangs in bdrv_drain_all on stop or quit while a request waits at a breakpoint.
// Ours lets the request go there, with the Resuming line, and its report follows.
TEST(HmpQemuIo, StopAndQuitLetAParkedRequestGo)
{
    TempImage image;
    qtest::Emulator emu(blkdebug_drive_args(image));
    EXPECT_EQ(emu.qemu_io("d0", "break write_aio A"), "");
    EXPECT_EQ(emu.qemu_io("d0", "aio_write -P 0x5a 0 4k"), "blkdebug: Suspended request 'A'\n");
    emu.qts->qmp_assert_success("{'execute': 'stop'}");
    std::string out = emu.out.take();
    EXPECT_TRUE(out.starts_with("blkdebug: Resuming request 'A'\nwrote 4096/4096 bytes at offset 0\n")) << out;
    EXPECT_TRUE(all_bytes(image.read(0, 4096), 0x5a));

    EXPECT_EQ(emu.qemu_io("d0", "break write_aio B"), "");
    EXPECT_EQ(emu.qemu_io("d0", "aio_write -P 0x5b 4k 4k"), "blkdebug: Suspended request 'B'\n");
    emu.qts->quit();
    out = emu.out.take();
    EXPECT_TRUE(out.starts_with("blkdebug: Resuming request 'B'\nwrote 4096/4096 bytes at offset 4096\n")) << out;
    EXPECT_TRUE(all_bytes(image.read(4096, 4096), 0x5b));
    ::unlink((image.path() + ".cfg").c_str());
}

TEST(HmpQemuIo, ArgumentAndLookupErrors)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success(add_raw("d0", image.path(), ", 'read-only': true"));
    EXPECT_EQ(
        qts->hmp("qemu-io"), "qemu-io: block device name expected\r\nTry \"help qemu-io\" for more information\r\n");
    EXPECT_EQ(qts->hmp("qemu-io d0"), "qemu-io: string expected\r\nTry \"help qemu-io\" for more information\r\n");
    EXPECT_EQ(qts->hmp("qemu-io d0 read 0 512"),
        "qemu-io: extraneous characters at the end of line\r\nTry \"help qemu-io\" for more information\r\n");
    EXPECT_EQ(qts->hmp("qemu-io x \"read 0 1\""), "Error: Cannot find device='' nor node-name='x'\r\n");
    EXPECT_EQ(qts->hmp("qemu-io -d d0 \"read 0 1\""), "Error: Device 'd0' not found\r\n");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 0 512\""), "Block node is read-only\r\n");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"read 0 512\""), "");
}

// ---------------------------------------------------------------- -drive, query-block, info block

TEST(Drive, QueryBlockAndInfoBlock)
{
    TempImage image;
    TempImage second;
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=drive0,file=" + image.path() +
        ",format=raw,node-name=n0 -drive if=none,id=empty -drive if=none,id=d3,file=" + second.path() +
        ",format=raw,readonly=on,cache=none");
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 3u) << dump(block);
    EXPECT_EQ(block[0]["device"], "drive0");
    EXPECT_EQ(block[0]["type"], "unknown");
    EXPECT_EQ(block[0]["removable"], true);
    EXPECT_EQ(block[0]["locked"], false);
    EXPECT_FALSE(block[0].contains("tray_open"));
    EXPECT_EQ(block[0]["inserted"]["node-name"], "n0");
    EXPECT_EQ(block[0]["inserted"]["ro"], false);
    EXPECT_EQ(block[0]["inserted"]["image"]["virtual-size"], 1 << 20);
    EXPECT_EQ(block[1]["device"], "empty");
    EXPECT_FALSE(block[1].contains("inserted"));
    EXPECT_EQ(block[2]["inserted"]["ro"], true);
    EXPECT_EQ(canon(block[2]["inserted"]["cache"]),
        canon(JsonValue::parse(R"({"writeback": true, "direct": true, "no-flush": false})")));

    std::string info = qts->hmp("info block");
    std::string d3_node = block[2]["inserted"]["node-name"];
    EXPECT_EQ(info,
        "drive0 (n0): " + image.path() +
            " (raw)\r\n    Removable device: not locked, tray closed\r\n    Cache mode:       writeback\r\n\r\n"
            "empty: [not inserted]\r\n    Removable device: not locked, tray closed\r\n\r\n"
            "d3 (" +
            d3_node + "): " + second.path() +
            " (raw, read-only)\r\n    Removable device: not locked, tray closed\r\n"
            "    Cache mode:       writeback, direct\r\n");
    // The disk size depends on the filesystem; the rest is fixed.
    std::string verbose = qts->hmp("info block -v drive0");
    std::string expected_head = "drive0 (n0): " + image.path() +
        " (raw)\r\n    Removable device: not locked, tray closed\r\n    Cache mode:       writeback\r\n\r\n"
        "Images:\r\nimage: " +
        image.path() + "\r\nfile format: raw\r\nvirtual size: 1 MiB (1048576 bytes)\r\ndisk size: ";
    EXPECT_EQ(verbose.substr(0, expected_head.size()), expected_head);
    EXPECT_TRUE(verbose.ends_with("\r\n")) << verbose;
    EXPECT_EQ(qts->hmp("info block nosuch"), "");
    // A -drive's node is in use by its backend.
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'blockdev-del', 'arguments': {'node-name': 'n0'}}")), "Node n0 is in use");
    // HMP qemu-io by drive id writes through the drive.
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x5a 512 512\""), "");
    EXPECT_TRUE(all_bytes(image.read(512, 512), 0x5a));
}

TEST(Drive, NodeListingHasNoBackendSection)
{
    TempImage image;
    auto qts = QTestState::init(std::string(kArgs));
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'file', 'node-name': 'f0', 'filename': '" +
        image.path() + "'}}}");
    EXPECT_EQ(qts->hmp("info block"), "");
    EXPECT_EQ(qts->hmp("info block -n"),
        "d0: " + image.path() + " (raw, read-only)\r\n    Cache mode:       writeback\r\n\r\nf0: " + image.path() +
            " (file, read-only)\r\n    Cache mode:       writeback\r\n");
    // Filtering keeps the separator of the unfiltered list, as QEMU does.
    EXPECT_EQ(qts->hmp("info block -n f0"),
        "\r\nf0: " + image.path() + " (file, read-only)\r\n    Cache mode:       writeback\r\n");
}

struct StartupErrorCase {
    std::string args;  // %s is the image path
    std::string stderr_text;  // %s is the image path
};

std::string fill(std::string text, const std::string& path)
{
    for (size_t at; (at = text.find("%s")) != std::string::npos;) {
        text.replace(at, 2, path);
    }
    return text;
}

class DriveStartupError : public ::testing::TestWithParam<StartupErrorCase> { };

TEST_P(DriveStartupError, PrintsQemuTextAndExitsOne)
{
    TempImage image;
    std::vector<std::string> args = {"-nodefaults", "-display", "none", "-machine", "none"};
    std::string words = fill(GetParam().args, image.path());
    for (size_t start = 0; start < words.size();) {
        size_t space = words.find(' ', start);
        args.push_back(words.substr(start, space - start));
        start = space == std::string::npos ? words.size() : space + 1;
    }
    auto result = qtest::run_emulator(args);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, fill(GetParam().stderr_text, image.path()));
}

INSTANTIATE_TEST_SUITE_P(Qemu72, DriveStartupError,
    ::testing::Values(StartupErrorCase{"-drive if=none,file=%s,format=raw,media=bad",
                          "qemu-system-x86_64: -drive if=none,file=%s,format=raw,media=bad: 'bad' invalid media\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,werror=bad",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,werror=bad: 'bad' invalid write error action\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,rerror=enospc",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,rerror=enospc: 'enospc' invalid read error "
            "action\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,index=x",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,index=x: Parameter 'index' expects a number\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,unit=x",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,unit=x: Parameter 'unit' expects a number\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,index=1,bus=0,unit=0",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,index=1,bus=0,unit=0: index cannot be used with bus "
            "and unit\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,copy-on-read=x",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,copy-on-read=x: Parameter 'copy-on-read' expects "
            "'on' or 'off'\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,snapshot=x",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,snapshot=x: Parameter 'snapshot' expects 'on' or "
            "'off'\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,detect-zeroes=bad",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,detect-zeroes=bad: invalid parameter "
            "value: bad\n"},
        StartupErrorCase{"-drive if=ide,file=%s,format=raw",
            "qemu-system-x86_64: -drive if=ide,file=%s,format=raw: machine type does not support "
            "if=ide,bus=0,unit=0\n"},
        StartupErrorCase{"-drive if=virtio,id=d,file=%s,format=raw",
            "qemu-system-x86_64: -drive if=virtio,id=d,file=%s,format=raw: No 'PCI' bus found for device "
            "'virtio-blk-pci'\n"},
        StartupErrorCase{"-drive if=none,id=d,file=/nonexistent/x,format=raw",
            "qemu-system-x86_64: -drive if=none,id=d,file=/nonexistent/x,format=raw: Could not open '/nonexistent/x': "
            "No such file or directory\n"},
        StartupErrorCase{"-drive if=none,file=%s,format=raw,bogus=1",
            "qemu-system-x86_64: -drive if=none,file=%s,format=raw,bogus=1: Block format 'raw' does not support the "
            "option 'bogus'\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw -drive if=none,id=d,file=%s,format=raw",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw: Duplicate ID 'd' for drive\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=qcow9",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=qcow9: Unknown driver 'qcow9'\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,cache=bogus",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,cache=bogus: invalid cache option\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,stats-account-failed=2",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,stats-account-failed=2: Parameter "
            "'stats-account-failed' expects 'on' or 'off'\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,stats-intervals.1=5",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,stats-intervals.1=5: Invalid option "
            "stats-intervals.1\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,stats-intervals.0=60,stats-intervals.1=0",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,stats-intervals.0=60,stats-intervals.1=0: "
            "Invalid interval length: 0\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,stats-intervals.0=4294967296",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,stats-intervals.0=4294967296: Invalid "
            "interval length: 4294967296\n"},
        StartupErrorCase{"-drive if=none,id=d,file=%s,format=raw,aio=native",
            "qemu-system-x86_64: -drive if=none,id=d,file=%s,format=raw,aio=native: aio=native was specified, but it "
            "requires cache.direct=on, which was not specified.\n"},
        StartupErrorCase{"-blockdev driver=raw,node-name=x,file.driver=file,file.filename=/nonexistent/x",
            "qemu-system-x86_64: -blockdev driver=raw,node-name=x,file.driver=file,file.filename=/nonexistent/x: Could "
            "not open '/nonexistent/x': No such file or directory\n"},
        StartupErrorCase{
            R"(-blockdev {"driver":"raw","node-name":"x","file":{"driver":"file","filename":"/nonexistent/x"}})",
            R"(qemu-system-x86_64: -blockdev {"driver":"raw","node-name":"x","file":{"driver":"file","filename":"/nonexistent/x"}}: )"
            "Could not open '/nonexistent/x': No such file or directory\n"},
        StartupErrorCase{"-blockdev driver=raw,node-name=x,file.driver=file,file.filename=%s,bogus=1",
            "qemu-system-x86_64: -blockdev driver=raw,node-name=x,file.driver=file,file.filename=%s,bogus=1: "
            "Parameter 'bogus' is unexpected\n"},
        StartupErrorCase{"-blockdev driver=raw,file.driver=file,file.filename=%s",
            "qemu-system-x86_64: -blockdev driver=raw,file.driver=file,file.filename=%s: 'node-name' must be "
            "specified for the root node\n"}));

TEST(Blockdev, DottedKeysAndJsonBothMakeNodes)
{
    TempImage image;
    auto qts = QTestState::init(std::string(kArgs) + " -blockdev driver=file,node-name=f1,filename=" + image.path() +
        ",read-only=on -blockdev '{\"driver\":\"raw\",\"node-name\":\"r1\",\"file\":\"f1\",\"read-only\":true}'");
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    ASSERT_EQ(nodes.size(), 2u) << dump(nodes);
    EXPECT_EQ(nodes[0]["node-name"], "r1");
    EXPECT_EQ(nodes[0]["ro"], true);
    EXPECT_EQ(nodes[1]["node-name"], "f1");
    EXPECT_EQ(nodes[1]["ro"], true);
}

// ---------------------------------------------------------------- block_resize, blockdev-reopen

TEST(BlockResize, GrowsTheImageAndReportsQemuErrors)
{
    TempImage image;
    TempImage second;
    auto qts = QTestState::init(
        std::string(kArgs) + " -drive if=none,id=drive0,file=" + second.path() + ",format=raw -drive if=none,id=empty");
    qts->qmp_assert_success(add_raw("d0", image.path()));
    qts->qmp_assert_success("{'execute': 'block_resize', 'arguments': {'node-name': 'd0', 'size': 2097152}}");
    EXPECT_EQ(image.size(), 2 << 20);
    qts->qmp_assert_success("{'execute': 'block_resize', 'arguments': {'device': 'drive0', 'size': 3145728}}");
    EXPECT_EQ(second.size(), 3 << 20);
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-block'}")[0]["inserted"]["image"]["virtual-size"], 3 << 20);
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block_resize', 'arguments': {'node-name': 'd0', 'size': -1}}")),
        "Parameter 'size' expects a >0 size");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block_resize', 'arguments': {'size': 4096}}")),
        "Cannot find device='' nor node-name=''");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block_resize', 'arguments': {'device': 'nosuch', 'size': 4096}}")),
        "Cannot find device='nosuch' nor node-name=''");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block_resize', 'arguments': {'device': 'empty', 'size': 4096}}")),
        "Device 'empty' has no medium");
}

TEST(BlockdevReopen, OtherOptionsChangeOrAreRefusedAsInQemu)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    std::string file = "{'driver': 'file', 'node-name': 'f', 'filename': '" + image.path() + "'";
    auto reopen = [&](const std::string& options) {
        return qts->qmp("{'execute': 'blockdev-reopen', 'arguments': {'options': [" + options + "]}}");
    };
    auto node = [&](const std::string& name) {
        for (const JsonValue& n : qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}")) {
            if (n["node-name"] == name) {
                return n;
            }
        }
        ADD_FAILURE() << "no node " << name;
        return JsonValue();
    };
    auto ok = [](const JsonValue& reply) { EXPECT_TRUE(reply.contains("return")) << dump(reply); };
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'n', 'file': " +
        file + "}}}");
    ok(reopen("{'driver': 'raw', 'node-name': 'n', 'detect-zeroes': 'on', 'file': 'f'}"));
    EXPECT_EQ(node("n")["detect_zeroes"], "on");
    EXPECT_EQ(node("f")["detect_zeroes"], "off");
    ok(reopen("{'driver': 'raw', 'node-name': 'n', 'discard': 'unmap', 'detect-zeroes': "
                                     "'unmap', 'cache': {'direct': true}, 'file': 'f'}"));
    EXPECT_EQ(node("n")["detect_zeroes"], "unmap");
    EXPECT_EQ(node("n")["cache"]["direct"], true);
    // The child named by reference follows cache options given explicitly.
    EXPECT_EQ(node("f")["cache"]["direct"], true);
    EXPECT_EQ(qts->hmp("qemu-io n \"write -P 0x5a 0 4k\""), "");
    EXPECT_TRUE(all_bytes(image.read(0, 4096), 0x5a));

    EXPECT_EQ(error_of(reopen("{'driver': 'raw', 'node-name': 'n', 'file': " + file + ", 'locking': 'off'}}")),
        "Cannot change the option 'locking'");
    EXPECT_EQ(error_of(reopen("{'driver': 'raw', 'node-name': 'n', 'file': {'driver': 'file', 'node-name': 'f', "
                              "'filename': '/nonexistent'}}")),
        "Cannot change the option 'filename'");
    EXPECT_EQ(error_of(reopen("{'driver': 'file', 'node-name': 'n', 'filename': '" + image.path() + "'}")),
        "Cannot change the option 'driver'");
    EXPECT_EQ(error_of(reopen("{'driver': 'raw', 'node-name': 'n', 'force-share': true, 'read-only': true, "
                              "'file': 'f'}")),
        "Cannot change the option 'force-share'");
    EXPECT_EQ(qtest::qmp_expect_error(reopen("{'driver': 'raw', 'node-name': 'n'}"), "GenericError"),
        "Parameter 'options[0].file' is missing");
    // A refused reopen changed nothing.
    EXPECT_EQ(node("n")["detect_zeroes"], "unmap");

    // raw's window may change; options left out go back to their defaults.
    ok(reopen("{'driver': 'raw', 'node-name': 'n', 'offset': 512, 'file': " + file +
        ", 'cache': {'direct': true}}}"));
    JsonValue n = node("n");
    EXPECT_EQ(n["image"]["virtual-size"], (1 << 20) - 512);
    EXPECT_EQ(n["detect_zeroes"], "off");
    EXPECT_EQ(n["cache"]["direct"], false);
    EXPECT_EQ(node("f")["cache"]["direct"], true);
    EXPECT_EQ(qts->hmp("qemu-io n \"write -P 0x77 0 512\""), "");
    EXPECT_TRUE(all_bytes(image.read(512, 512), 0x77));
    EXPECT_TRUE(all_bytes(image.read(0, 512), 0x5a));
    EXPECT_EQ(error_of(reopen("{'driver': 'raw', 'node-name': 'n', 'offset': 2097152, 'file': 'f'}")),
        "Offset (2097152) cannot be greater than size of the containing file (1048576)");
    EXPECT_EQ(node("n")["image"]["virtual-size"], (1 << 20) - 512);
}

TEST(BlockdevReopen, ReadOnlyNodeBecomesWritable)
{
    TempImage image;
    auto qts = QTestState::init(kArgs);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'raw', 'node-name': 'd0', "
                            "'read-only': true, 'file': {'driver': 'file', 'node-name': 'f0', 'filename': '" +
        image.path() + "'}}}");
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write 0 512\""), "Block node is read-only\r\n");
    EXPECT_EQ(error_of(qts->qmp("{'execute': 'block_resize', 'arguments': {'node-name': 'd0', 'size': 4096}}")),
        "Image is read-only");
    qts->qmp_assert_success("{'execute': 'blockdev-reopen', 'arguments': {'options': [{'driver': 'raw', "
                            "'node-name': 'd0', 'read-only': false, 'file': 'f0'}]}}");
    EXPECT_EQ(qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}")[0]["ro"], false);
    EXPECT_EQ(qts->hmp("qemu-io d0 \"write -P 0x33 0 512\""), "");
    EXPECT_TRUE(all_bytes(image.read(0, 512), 0x33));
}

}  // namespace
