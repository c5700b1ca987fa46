// Requests from several threads at once on one node, as convert's workers issue them: the
// core's request lock must keep a format's allocating writes from racing one another and
// the reads beside them. Many threads write pieces of an image in a shuffled order (pieces
// that share a block included) while others read back what is already written; at the end
// the image must hold every piece, and under ASan/TSan nothing may have raced.
#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "block/drivers.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::rw;

namespace {

constexpr int64_t kImageSize = 8 * 1024 * 1024;
// Smaller than a vdi block (1 MiB) and a vpc block (2 MiB), and not a divisor of either,
// so neighbouring pieces share blocks and several first writes hit one unallocated block.
constexpr int64_t kPiece = 96 * 1024;
constexpr int kWriters = 8;

uint8_t pattern(int64_t piece)
{
    return static_cast<uint8_t>(0x10 + piece % 200);
}

class ConcurrencyTest : public BlockTest, public ::testing::WithParamInterface<const char*> { };

TEST_P(ConcurrencyTest, ShuffledWritesFromManyThreadsAllLand)
{
    std::string format = GetParam();
    std::string p = path("img." + format);
    const BlockDriver* driver = find_driver(format);
    ASSERT_NE(driver, nullptr);
    auto created = driver->create({}, CreateOptions{.filename = p, .size = kImageSize});
    ASSERT_TRUE(created) << created.error().desc;
    auto node = graph().open(p, {{"driver", format}}, rw());
    ASSERT_TRUE(node) << node.error().desc;

    std::vector<int64_t> order(kImageSize / kPiece);
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = static_cast<int64_t>(i);
    }
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    std::atomic<size_t> next{0};
    std::atomic<int> failures{0};
    std::vector<std::atomic<bool>> written(order.size());
    std::atomic<bool> writing{true};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&] {
            std::vector<uint8_t> buf(kPiece);
            for (size_t i; (i = next++) < order.size();) {
                std::fill(buf.begin(), buf.end(), pattern(order[i]));
                if (!(*node)->pwrite(order[i] * kPiece, buf)) {
                    ++failures;
                }
                written[order[i]] = true;
            }
        });
    }
    // Readers check pieces already written, and that a piece not yet written reads as
    // either zeros or its pattern (never another piece's bytes).
    for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&, r] {
            std::vector<uint8_t> buf(kPiece);
            std::mt19937 rng(r);
            while (writing) {
                int64_t piece = static_cast<int64_t>(rng() % order.size());
                bool done = written[piece];
                if (!(*node)->pread(piece * kPiece, buf)) {
                    ++failures;
                    continue;
                }
                for (uint8_t b : buf) {
                    if (b != pattern(piece) && (done || b != 0)) {
                        ++failures;
                        break;
                    }
                }
            }
        });
    }
    for (int w = 0; w < kWriters; ++w) {
        threads[w].join();
    }
    writing = false;
    for (size_t t = kWriters; t < threads.size(); ++t) {
        threads[t].join();
    }
    EXPECT_EQ(failures.load(), 0);
    node->reset();

    auto reopened = graph().open(p, {{"driver", format}}, rw());
    ASSERT_TRUE(reopened) << reopened.error().desc;
    std::vector<uint8_t> buf(kPiece);
    for (int64_t piece = 0; piece < kImageSize / kPiece; ++piece) {
        ASSERT_TRUE((*reopened)->pread(piece * kPiece, buf));
        EXPECT_EQ(std::count(buf.begin(), buf.end(), pattern(piece)), kPiece) << "piece " << piece;
    }
    if (driver->check) {
        auto checked = driver->check(**reopened, false);
        ASSERT_TRUE(checked) << checked.error().desc;
        EXPECT_EQ(checked->corruptions, 0);
        EXPECT_EQ(checked->leaks, 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Formats, ConcurrencyTest, ::testing::Values("raw", "vdi", "vpc"));

}  // namespace
