// Asynchronous requests (issue 14): many reads and writes in flight at once on one node,
// for every format and every aio mode, checked against a model of the bytes the image must
// hold. Pieces are shuffled with a fixed seed and overlap format blocks, so first writes to
// one unallocated block run together; reads of pieces already written check them as the
// writes go on. The image is then read back through a fresh open.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <tuple>

#include "block/drivers.h"
#include "block/iov.h"
#include "tests/unit/block/block_test_util.h"
#include "util/aio-context.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::rw;

namespace {

constexpr int64_t kImageSize = 8 * 1024 * 1024;
// A multiple of 4 KiB (O_DIRECT) that divides neither a vdi block (1 MiB) nor a vpc
// block (2 MiB) nor a vmdk grain table's span.
constexpr int64_t kPiece = 96 * 1024;
constexpr unsigned kDepth = 32;

uint8_t pattern(int64_t piece)
{
    return static_cast<uint8_t>(0x10 + piece % 200);
}

// format, aio mode, cache.direct
using Case = std::tuple<const char*, const char*, bool>;

class AioTest : public BlockTest, public ::testing::WithParamInterface<Case> {
protected:
    std::shared_ptr<BlockNode> open_image(const std::string& format, const std::string& p)
    {
        auto [_, aio, direct] = GetParam();
        OpenFlags flags = rw();
        flags.cache_direct = direct;
        auto node = graph().open(p, {{"driver", format}, {"file.aio", aio}}, flags);
        EXPECT_TRUE(node) << node.error().desc;
        return node ? *node : nullptr;
    }
};

TEST_P(AioTest, ShuffledWritesInFlightTogetherAllLand)
{
    auto [format, aio, direct] = GetParam();
    std::string p = path(std::string("img.") + format);
    const BlockDriver* driver = find_driver(format);
    ASSERT_NE(driver, nullptr);
    auto created = driver->create({}, CreateOptions{.filename = p, .size = kImageSize});
    ASSERT_TRUE(created) << created.error().desc;
    auto node = open_image(format, p);
    ASSERT_TRUE(node);

    const auto pieces = static_cast<size_t>(kImageSize / kPiece);
    std::vector<size_t> order(pieces);
    for (size_t i = 0; i < pieces; ++i) {
        order[i] = i;
    }
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    // One aligned buffer per slot in flight.
    AlignedBuffer buffers = aligned_buffer(4096, kDepth * 2 * kPiece);
    ASSERT_TRUE(buffers);
    std::vector<bool> written(pieces, false);
    std::vector<bool> slot_busy(kDepth * 2, false);
    size_t next_write = 0;
    unsigned in_flight = 0;
    int failures = 0;
    int mismatches = 0;
    unsigned checks = 0;
    std::mt19937 rng(7);
    qemu::AioContext ctx;

    auto free_slot = [&] {
        auto it = std::find(slot_busy.begin(), slot_busy.end(), false);
        *it = true;
        return static_cast<size_t>(it - slot_busy.begin());
    };
    while (next_write < pieces || in_flight > 0) {
        while (in_flight < kDepth && next_write < pieces) {
            // Every fourth request reads a piece written earlier back.
            bool read_back = (rng() % 4 == 0) && next_write > 0;
            size_t slot = free_slot();
            uint8_t* buf = buffers.get() + slot * kPiece;
            iovec iov{buf, static_cast<size_t>(kPiece)};
            ++in_flight;
            if (read_back) {
                size_t piece = order[rng() % next_write];
                bool known = written[piece];
                const unsigned checks_before = checks;
                node->aio_preadv(ctx, static_cast<int64_t>(piece * kPiece), std::span(&iov, 1), {},
                    [&, slot, piece, known, buf](qemu::Result<void> done) {
                        --in_flight;
                        slot_busy[slot] = false;
                        failures += !done;
                        // Written before the read started: its bytes; still in flight: its
                        // bytes or zeros, never another piece's.
                        for (int64_t i = 0; i < kPiece; ++i) {
                            if (buf[i] != pattern(piece) && (known || buf[i] != 0)) {
                                ++mismatches;
                                break;
                            }
                        }
                        ++checks;
                    });
                // Completions run at a poll, never inside the call that starts the request.
                EXPECT_EQ(checks, checks_before);
            } else {
                size_t piece = order[next_write++];
                std::fill(buf, buf + kPiece, pattern(static_cast<int64_t>(piece)));
                node->aio_pwritev(ctx, static_cast<int64_t>(piece * kPiece), std::span(&iov, 1), {},
                    [&, slot, piece](qemu::Result<void> done) {
                        --in_flight;
                        slot_busy[slot] = false;
                        failures += !done;
                        written[piece] = true;
                    });
            }
        }
        ctx.poll(true);
    }
    bool flushed = false;
    node->aio_flush(ctx, [&](qemu::Result<void> done) { flushed = static_cast<bool>(done); });
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_TRUE(flushed);
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(mismatches, 0);
    EXPECT_GT(checks, 0u);
    node.reset();

    auto again = graph().open(p, {{"driver", format}}, rw());
    ASSERT_TRUE(again) << again.error().desc;
    std::vector<uint8_t> buf(kPiece);
    for (size_t piece = 0; piece < pieces; ++piece) {
        ASSERT_TRUE((*again)->pread(static_cast<int64_t>(piece * kPiece), buf));
        ASSERT_EQ(std::count(buf.begin(), buf.end(), pattern(static_cast<int64_t>(piece))), kPiece) << piece;
    }
}

// Once every block is allocated, 4 KiB rewrites and reads in random order stay inside one
// format block each, so the formats' asynchronous forms serve them straight from the file
// (vdi, vpc, vmdk: allocated blocks never move). Requests on one chunk do not overlap a
// write to it (the kernel does not order those), so every read must see the model's bytes.
TEST_P(AioTest, InPlaceRewritesInFlightMatchTheModel)
{
    auto [format, aio, direct] = GetParam();
    std::string p = path(std::string("img.") + format);
    const BlockDriver* driver = find_driver(format);
    ASSERT_NE(driver, nullptr);
    ASSERT_TRUE(driver->create({}, CreateOptions{.filename = p, .size = kImageSize}));
    auto node = open_image(format, p);
    ASSERT_TRUE(node);
    constexpr int64_t kChunk = 4096;
    const auto chunks = static_cast<size_t>(kImageSize / kChunk);
    // The model: chunk i holds version[i] in every byte; 1 after the first pass.
    std::vector<uint8_t> version(chunks, 1);
    {
        AlignedBuffer whole = aligned_buffer(4096, static_cast<size_t>(kImageSize));
        ASSERT_TRUE(whole);
        std::fill(whole.get(), whole.get() + kImageSize, 1);
        ASSERT_TRUE(node->pwrite(0, std::span(whole.get(), static_cast<size_t>(kImageSize))));
    }
    AlignedBuffer buffers = aligned_buffer(4096, kDepth * kChunk);
    ASSERT_TRUE(buffers);
    std::vector<bool> slot_busy(kDepth, false);
    std::vector<unsigned> reading(chunks, 0);
    std::vector<bool> writing(chunks, false);
    unsigned in_flight = 0;
    unsigned most_in_flight = 0;
    int failures = 0;
    int mismatches = 0;
    std::mt19937 rng(11);
    qemu::AioContext ctx;
    for (unsigned issued = 0; issued < 4000 || in_flight > 0;) {
        while (in_flight < kDepth && issued < 4000) {
            size_t chunk = rng() % chunks;
            bool read = rng() % 2 == 0;
            if (writing[chunk] || (!read && reading[chunk] > 0)) {
                continue;  // another chunk instead
            }
            ++issued;
            auto slot = static_cast<size_t>(std::find(slot_busy.begin(), slot_busy.end(), false) - slot_busy.begin());
            slot_busy[slot] = true;
            uint8_t* buf = buffers.get() + slot * kChunk;
            iovec iov{buf, static_cast<size_t>(kChunk)};
            auto at = static_cast<int64_t>(chunk) * kChunk;
            most_in_flight = std::max(most_in_flight, ++in_flight);
            if (read) {
                ++reading[chunk];
                node->aio_preadv(ctx, at, std::span(&iov, 1), {}, [&, slot, chunk, buf](qemu::Result<void> done) {
                    --in_flight;
                    --reading[chunk];
                    slot_busy[slot] = false;
                    failures += !done;
                    mismatches += std::count(buf, buf + kChunk, version[chunk]) != kChunk;
                });
            } else {
                uint8_t next = static_cast<uint8_t>(version[chunk] % 250 + 2);
                std::fill(buf, buf + kChunk, next);
                writing[chunk] = true;
                node->aio_pwritev(ctx, at, std::span(&iov, 1), {}, [&, slot, chunk, next](qemu::Result<void> done) {
                    --in_flight;
                    writing[chunk] = false;
                    slot_busy[slot] = false;
                    failures += !done;
                    version[chunk] = next;
                });
            }
        }
        ctx.poll(true);
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(most_in_flight, kDepth);
    node.reset();

    auto again = graph().open(p, {{"driver", format}}, rw());
    ASSERT_TRUE(again) << again.error().desc;
    std::vector<uint8_t> buf(kChunk);
    for (size_t chunk = 0; chunk < chunks; ++chunk) {
        ASSERT_TRUE((*again)->pread(static_cast<int64_t>(chunk) * kChunk, buf));
        ASSERT_EQ(std::count(buf.begin(), buf.end(), version[chunk]), kChunk) << chunk;
    }
}

// vmdk's asynchronous forms take a request inside one grain that is in place, and leave
// to the synchronous path what must allocate, cross a grain or rewrite the CID.
TEST_F(BlockTest, VmdkInPlaceGrainsTakeTheAsynchronousPath)
{
    std::string p = path("img.vmdk");
    const BlockDriver* driver = find_driver("vmdk");
    ASSERT_NE(driver, nullptr);
    ASSERT_TRUE(driver->create({}, CreateOptions{.filename = p, .size = kImageSize}));
    auto opened = graph().open(p, {{"driver", "vmdk"}}, rw());
    ASSERT_TRUE(opened) << opened.error().desc;
    BlockNode& node = **opened;
    qemu::AioContext ctx;
    std::vector<uint8_t> buf(4096, 0x5a);
    iovec iov{buf.data(), buf.size()};
    int completed = 0;
    auto start = [&](bool write, int64_t offset) {
        qemu::block::AioCallback done = [&](qemu::Result<void> r) { completed += !!r; };
        auto hook = write ? driver->aio_pwritev : driver->aio_preadv;
        return hook(node, ctx, offset, std::span(&iov, 1), {}, done);
    };
    // Before the first write: the CID must change first, and nothing is allocated.
    EXPECT_FALSE(start(true, 0));
    std::vector<uint8_t> grains(128 * 1024, 0x11);
    ASSERT_TRUE(node.pwrite(0, grains));
    EXPECT_TRUE(start(true, 4096));
    EXPECT_EQ(completed, 0);  // never inside the call
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_EQ(completed, 1);
    std::fill(buf.begin(), buf.end(), 0);
    EXPECT_TRUE(start(false, 64 * 1024 + 8192));
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_EQ(completed, 2);
    EXPECT_EQ(std::count(buf.begin(), buf.end(), 0x11), 4096);
    // A hole without a backing file reads as zeros at once.
    EXPECT_TRUE(start(false, 1 << 20));
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_EQ(completed, 3);
    EXPECT_EQ(std::count(buf.begin(), buf.end(), 0), 4096);
    EXPECT_FALSE(start(true, 1 << 20));  // must allocate
    EXPECT_FALSE(start(false, 64 * 1024 - 2048));  // crosses a grain
    EXPECT_FALSE(start(false, kImageSize - 2048));  // past the end
    std::vector<uint8_t> back(4096);
    ASSERT_TRUE(node.pread(4096, back));
    EXPECT_EQ(std::count(back.begin(), back.end(), 0x5a), 4096);
}

// What the file driver does the same under every format: raw over file only.
class AioFileTest : public AioTest { };

// A misaligned O_DIRECT write rewrites whole blocks; it must wait for the aligned requests
// the kernel holds, or it would write back stale bytes over them. The sync request runs on
// the context's own thread, so it must complete them itself rather than wait forever.
// Overlapping requests in flight may land in either order, but no order loses the bytes of
// the aligned write that the misaligned one does not cover.
TEST_P(AioFileTest, MisalignedRequestKeepsTheAlignedOnesInFlight)
{
    std::string p = make_image("img.raw", 1 << 20);
    auto node = open_image("raw", p);
    ASSERT_TRUE(node);
    AlignedBuffer buf = aligned_buffer(4096, 64 * 4096);
    ASSERT_TRUE(buf);
    qemu::AioContext ctx;
    int completed = 0;
    for (int i = 0; i < 64; ++i) {
        std::fill(buf.get() + i * 4096, buf.get() + (i + 1) * 4096, static_cast<uint8_t>(i + 1));
        iovec iov{buf.get() + i * 4096, 4096};
        node->aio_pwritev(ctx, i * 4096, std::span(&iov, 1), {}, [&](qemu::Result<void> done) {
            EXPECT_TRUE(done);
            ++completed;
        });
    }
    // Starts the aligned writes, then writes 100 bytes inside the first block.
    ctx.poll(false);
    std::vector<uint8_t> small(100, 0xee);
    ASSERT_TRUE(node->pwrite(1000, small));
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_EQ(completed, 64);
    std::vector<uint8_t> back(64 * 4096);
    ASSERT_TRUE(node->pread(0, back));
    for (int i = 0; i < 64 * 4096; ++i) {
        if (i >= 1000 && i < 1100) {
            ASSERT_TRUE(back[i] == 0xee || back[i] == 1) << i;
        } else {
            ASSERT_EQ(back[i], static_cast<uint8_t>(i / 4096 + 1)) << i;
        }
    }
    // The misaligned write came second as far as this thread knows: under O_DIRECT it
    // waited for the aligned one, so it is what the block holds.
    if (std::get<2>(GetParam())) {
        EXPECT_EQ(std::count(back.begin() + 1000, back.begin() + 1100, 0xee), 100);
    }
}

// A read across the end of a file whose length is not a multiple of the sector: the block
// layer promises zeros past the end, whichever path serves it.
// Buffered files only: an O_DIRECT file of 1000 bytes cannot be read in 512-byte units.
class AioBufferedFileTest : public AioTest { };

TEST_P(AioBufferedFileTest, ReadPastTheEndOfTheFileGivesZeros)
{
    std::string p = make_image("short.raw", 1000, 0x42);
    auto node = open_image("raw", p);
    ASSERT_TRUE(node);
    std::vector<uint8_t> buf(1024, 0xff);
    iovec iov{buf.data(), buf.size()};
    qemu::AioContext ctx;
    bool ok = false;
    node->aio_preadv(ctx, 0, std::span(&iov, 1), {}, [&](qemu::Result<void> done) { ok = static_cast<bool>(done); });
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_TRUE(ok);
    EXPECT_EQ(std::count(buf.begin(), buf.begin() + 1000, 0x42), 1000);
    EXPECT_EQ(std::count(buf.begin() + 1000, buf.end(), 0), 24);
}

// A backend checks requests as its synchronous calls do, and waits for its requests before
// it goes.
TEST_P(AioFileTest, BackendRefusesRequestsPastTheEndAndDrains)
{
    auto [format, aio, direct] = GetParam();
    std::string p = make_image("img.raw", 1 << 20);
    OpenFlags flags = rw();
    flags.cache_direct = direct;
    auto blk = BlockBackend::open(graph(), p, {{"driver", "raw"}, {"file.aio", aio}}, {.flags = flags});
    ASSERT_TRUE(blk) << blk.error().desc;
    AlignedBuffer buf = aligned_buffer(4096, 4096);
    iovec iov{buf.get(), 4096};
    qemu::AioContext ctx;
    int errno_seen = 0;
    (*blk)->aio_preadv(ctx, 1 << 20, std::span(&iov, 1),
        [&](qemu::Result<void> done) { errno_seen = done ? 0 : done.error().errno_value; });
    int ok = 0;
    for (int i = 0; i < 16; ++i) {
        (*blk)->aio_pwritev(ctx, i * 4096, std::span(&iov, 1), {}, [&](qemu::Result<void> done) { ok += !!done; });
    }
    EXPECT_EQ((*blk)->in_flight(), 17);
    blk->reset();
    EXPECT_EQ(errno_seen, EIO);
    EXPECT_EQ(ok, 16);
}

// The emulator's GLib watch: notify_fd turns readable when a worker's request completes,
// and poll_notified runs the completion and takes the notification, so the watch does not
// keep firing for it.
TEST(AioContextTest, NotifyFdWakesAWatchThatPollNotifiedQuiets)
{
    qemu::AioContext ctx;
    int fd = ctx.notify_fd();
    ASSERT_GE(fd, 0);
    auto readable = [fd](int timeout_ms) {
        pollfd pfd{fd, POLLIN, 0};
        return ::poll(&pfd, 1, timeout_ms) == 1;
    };
    EXPECT_FALSE(readable(0));
    bool ran = false;
    ctx.run_in_worker([] { return std::move_only_function<void()>([] { }); });
    ctx.run_in_worker([&ran] { return std::move_only_function<void()>([&ran] { ran = true; }); });
    while (ctx.busy()) {
        ASSERT_TRUE(readable(60000));
        ctx.poll_notified();
    }
    EXPECT_TRUE(ran);
    // A completion posted while the last round ran leaves one spurious notification at
    // most; taking it runs nothing and quiets the fd.
    if (readable(0)) {
        EXPECT_FALSE(ctx.poll_notified());
    }
    EXPECT_FALSE(readable(0));
}

// settle_workers returns once every worker task has finished or waits parked, without
// running a completion; a parked task keeps the context busy until it is let go.
TEST(AioContextTest, SettleWorkersWaitsForTasksToFinishOrPark)
{
    qemu::AioContext ctx;
    std::mutex lock;
    std::condition_variable cv;
    bool released = false;
    int completed = 0;
    ctx.run_in_worker([&] {
        qemu::AioContext::worker_context()->park_begin();
        std::unique_lock held(lock);
        cv.wait(held, [&] { return released; });
        qemu::AioContext::worker_context()->park_end();
        return std::move_only_function<void()>([&completed] { ++completed; });
    });
    std::atomic<bool> finished{false};
    ctx.run_in_worker([&] {
        finished = true;
        return std::move_only_function<void()>([&completed] { ++completed; });
    });
    ctx.settle_workers();
    EXPECT_TRUE(finished);
    EXPECT_EQ(completed, 0);
    EXPECT_TRUE(ctx.busy());
    {
        std::lock_guard held(lock);
        released = true;
    }
    cv.notify_all();
    while (ctx.busy()) {
        ctx.poll(true);
    }
    EXPECT_EQ(completed, 2);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info)
{
    auto [format, aio, direct] = info.param;
    return std::string(format) + "_" + aio + (direct ? "_direct" : "");
}

INSTANTIATE_TEST_SUITE_P(Modes, AioTest,
    ::testing::Values(Case{"raw", "threads", false}, Case{"raw", "threads", true}, Case{"raw", "io_uring", false},
        Case{"raw", "io_uring", true}, Case{"raw", "native", true}, Case{"vdi", "threads", false},
        Case{"vdi", "io_uring", true}, Case{"vpc", "threads", false}, Case{"vpc", "native", true},
        Case{"vmdk", "threads", false}, Case{"vmdk", "io_uring", false}),
    case_name);

INSTANTIATE_TEST_SUITE_P(Modes, AioBufferedFileTest,
    ::testing::Values(Case{"raw", "threads", false}, Case{"raw", "io_uring", false}), case_name);

INSTANTIATE_TEST_SUITE_P(Modes, AioFileTest,
    ::testing::Values(Case{"raw", "threads", false}, Case{"raw", "threads", true}, Case{"raw", "io_uring", false},
        Case{"raw", "io_uring", true}, Case{"raw", "native", true}),
    case_name);

}  // namespace
