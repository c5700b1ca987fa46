// Dirty bitmaps (block/dirty-bitmap.h): the bits behave as QEMU's HBitmap keeps them
// (util/hbitmap.c: one bit per granularity-sized chunk, at least one 64-bit word, whole
// chunks counted, truncate clearing what falls off) and a node's list of bitmaps behaves as
// block/dirty-bitmap.c and bdrv_co_write_req_finish use it (newest first, only recording
// bitmaps marked, a write past the end growing every bitmap to whole sectors).
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "block/dirty-bitmap.h"

using qemu::ErrorClass;
using qemu::block::DirtyBitmap;
using qemu::block::DirtyBitmaps;

namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

std::shared_ptr<DirtyBitmap> make_bitmap(uint32_t granularity, int64_t size, std::string name = "bitmap")
{
    auto made = DirtyBitmap::make(std::move(name), granularity, size);
    if (!made) {
        ADD_FAILURE() << "DirtyBitmap::make(" << granularity << ", " << size << "): " << made.error().desc;
        return nullptr;
    }
    return *made;
}

// The chunks whose bits are set, in order, read from words().
std::vector<uint64_t> dirty_chunks(const DirtyBitmap& bitmap)
{
    std::vector<uint64_t> chunks;
    const std::vector<uint64_t> words = bitmap.words();
    for (uint64_t i = 0; i < words.size(); ++i) {
        for (uint64_t word = words[i]; word != 0; word &= word - 1) {
            chunks.push_back(i * 64 + static_cast<uint64_t>(std::countr_zero(word)));
        }
    }
    return chunks;
}

// Marks chunk `chunk` alone, by its first byte.
void mark_chunk(DirtyBitmap& bitmap, uint64_t chunk)
{
    bitmap.set_range(static_cast<int64_t>(chunk * bitmap.granularity()), 1);
}

std::vector<uint64_t> chunk_range(uint64_t first, uint64_t last)
{
    std::vector<uint64_t> chunks;
    for (uint64_t chunk = first; chunk <= last; ++chunk) {
        chunks.push_back(chunk);
    }
    return chunks;
}

// A discard marks what it covers, but only a write grows a node (QEMU's
// bdrv_co_write_req_finish skips discards); bad granularities are refused.
TEST(DirtyBitmaps, DiscardsMarkWithoutGrowing)
{
    DirtyBitmaps bitmaps;
    auto bitmap = make_bitmap(512, 4096);
    bitmaps.add(bitmap);
    bitmaps.note_discard(3584, 4096);
    EXPECT_EQ(bitmap->size(), 4096);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{7}));
    for (uint32_t bad : {0u, 256u, 1000u}) {
        auto made = DirtyBitmap::make("x", bad, 4096);
        ASSERT_FALSE(made) << bad;
        EXPECT_EQ(made.error().desc, "Granularity must be power of 2 and at least 512");
    }
}

}  // namespace

// --- DirtyBitmap::make -----------------------------------------------------------------

TEST(DirtyBitmapMake, StartsCleanAndRecordingWithItsNameAndGranularity)
{
    auto bitmap = make_bitmap(65536, 10 * kMiB, "backup-0");
    ASSERT_NE(bitmap, nullptr);
    EXPECT_EQ(bitmap->name(), "backup-0");
    EXPECT_EQ(bitmap->granularity(), 65536u);
    EXPECT_EQ(bitmap->size(), 10 * kMiB);
    EXPECT_TRUE(bitmap->recording());
    EXPECT_EQ(bitmap->count(), 0);
    // 160 chunks: three words, all clear.
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0, 0, 0}));
}

// hbitmap_alloc: every level holds MAX(BITS_TO_LONGS(size), 1) words, so even an empty
// bitmap has one.
TEST(DirtyBitmapMake, SizeZeroStillHasOneWord)
{
    auto bitmap = make_bitmap(65536, 0);
    ASSERT_NE(bitmap, nullptr);
    EXPECT_EQ(bitmap->size(), 0);
    EXPECT_EQ(bitmap->count(), 0);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0}));
}

TEST(DirtyBitmapMake, WordsAreChunksOver64RoundedUpAndAtLeastOne)
{
    struct Case {
        uint32_t granularity;
        int64_t size;
        size_t words;
    };
    const Case cases[] = {
        {512, 0, 1}, {512, 1, 1}, {512, 512, 1}, {512, 512 * 64, 1},  // 64 chunks: exactly one word
        {512, 512 * 64 + 1, 2},  // a 65th, partial chunk needs a second
        {512, 512 * 128, 2}, {512, 512 * 128 + 511, 3}, {4096, 1000, 1},
        {65536, 65536 * 64 * 3 - 1, 3},  // 192 chunks, the last one partial
        {65536, kMiB * 1024, 256},  // 1 GiB: 16384 chunks
        {2 * kMiB, 5 * kMiB, 1}, {uint32_t{1} << 31, int64_t{1} << 40, 8},  // 512 chunks of 2 GiB
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("granularity " + std::to_string(c.granularity) + ", size " + std::to_string(c.size));
        auto bitmap = make_bitmap(c.granularity, c.size);
        ASSERT_NE(bitmap, nullptr);
        EXPECT_EQ(bitmap->words().size(), c.words);
        EXPECT_EQ(bitmap->count(), 0);
    }
}

// QEMU's HBitmap would abort on such a size (hbitmap_alloc asserts it is at most 2^41
// chunks); here the make fails with an error instead.
TEST(DirtyBitmapMake, TooLargeToAllocateFailsWithAnError)
{
    // 512-byte chunks over INT64_MAX bytes: 2^54 chunks, 2^48 words, 2^51 bytes.
    auto huge = DirtyBitmap::make("huge", 512, std::numeric_limits<int64_t>::max());
    ASSERT_FALSE(huge.has_value());
    EXPECT_EQ(huge.error().cls, ErrorClass::GenericError);
    EXPECT_EQ(huge.error().desc, "Cannot allocate a dirty bitmap of 2251799813685248 bytes");

    // Just past the limit of 2^30 words: 2^36 + 1 chunks of 512 bytes.
    auto over = DirtyBitmap::make("over", 512, (int64_t{1} << 45) + 512);
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(over.error().desc, "Cannot allocate a dirty bitmap of 8589934600 bytes");
}

// --- set_range / count -----------------------------------------------------------------

// hbitmap_set: first = start >> granularity, last = (start + count - 1) >> granularity.
TEST(DirtyBitmapSetRange, MarksEveryChunkTheRangeTouches)
{
    auto bitmap = make_bitmap(65536, kMiB);
    ASSERT_NE(bitmap, nullptr);
    // Bytes 1000..70999: chunk 0 and the start of chunk 1.
    bitmap->set_range(1000, 70000);
    EXPECT_EQ(bitmap->count(), 131072);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0b11}));
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0, 1}));
}

TEST(DirtyBitmapSetRange, ChunkBoundariesAreExact)
{
    auto bitmap = make_bitmap(65536, kMiB);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(65535, 1);  // the last byte of chunk 0
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0}));
    bitmap->set_range(3 * 65536, 65536);  // exactly chunk 3
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0, 3}));
    bitmap->set_range(6 * 65536 - 1, 2);  // the last byte of 5 and the first of 6
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0, 3, 5, 6}));
    EXPECT_EQ(bitmap->count(), 4 * 65536);
}

// Chunk n is bit n % 64 of word n / 64 (the last level of an HBitmap on a 64-bit host).
TEST(DirtyBitmapSetRange, ChunkNIsBitNMod64OfWordNDiv64)
{
    auto bitmap = make_bitmap(512, 512 * 200);
    ASSERT_NE(bitmap, nullptr);
    for (uint64_t chunk : std::vector<uint64_t>{0, 63, 64, 127, 130, 199}) {
        mark_chunk(*bitmap, chunk);
    }
    EXPECT_EQ(bitmap->words(),
        (std::vector<uint64_t>{
            uint64_t{1} | uint64_t{1} << 63,
            uint64_t{1} | uint64_t{1} << 63,
            uint64_t{1} << 2,
            uint64_t{1} << 7,
        }));
    EXPECT_EQ(bitmap->count(), 6 * 512);
}

// QEMU asserts a range stays inside the bitmap; here what lies past the end is dropped.
TEST(DirtyBitmapSetRange, RangesPastTheEndAreClipped)
{
    // 17 chunks, the last one 1000 bytes long.
    auto bitmap = make_bitmap(65536, kMiB + 1000);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(kMiB, 10 * kMiB);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{16}));
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{uint64_t{1} << 16}));

    // Entirely past the end, or up to the largest offset there is: nothing new.
    bitmap->set_range(100 * kMiB, 1);
    bitmap->set_range(kMiB + 1000, 1);
    bitmap->set_range(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{16}));

    // A range from the start over everything and beyond marks exactly the 17 chunks.
    bitmap->set_range(0, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(dirty_chunks(*bitmap), chunk_range(0, 16));
    EXPECT_EQ(bitmap->words().size(), 1u);
    EXPECT_EQ(bitmap->count(), 17 * 65536);
}

TEST(DirtyBitmapSetRange, ZeroOrNegativeLengthsAndNegativeOffsetsMarkNothing)
{
    auto bitmap = make_bitmap(512, 64 * kKiB);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(4096, 0);
    bitmap->set_range(4096, -1);
    bitmap->set_range(4096, std::numeric_limits<int64_t>::min());
    bitmap->set_range(-512, 1024);
    EXPECT_EQ(bitmap->count(), 0);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0, 0}));
}

TEST(DirtyBitmapSetRange, EmptyBitmapTakesNoMarks)
{
    auto bitmap = make_bitmap(65536, 0);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(0, 65536);
    EXPECT_EQ(bitmap->count(), 0);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0}));
}

// bdrv_get_dirty_count is hbitmap_count: the dirty chunks shifted by the granularity, so a
// partial last chunk counts whole and the count can exceed the size.
TEST(DirtyBitmapCount, CountsWholeChunksIncludingAPartialLastOne)
{
    auto bitmap = make_bitmap(512, 1000);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(999, 1);
    EXPECT_EQ(bitmap->count(), 512);
    bitmap->set_range(0, 1000);
    EXPECT_EQ(bitmap->count(), 1024);
    EXPECT_GT(bitmap->count(), bitmap->size());
}

TEST(DirtyBitmapCount, MarkingAChunkAgainDoesNotCountItTwice)
{
    auto bitmap = make_bitmap(4096, kMiB);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(0, 8192);
    bitmap->set_range(100, 1);
    bitmap->set_range(4096, 4096);
    bitmap->set_range(0, 12288);
    EXPECT_EQ(bitmap->count(), 12288);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0, 1, 2}));
}

// --- clear / recording -----------------------------------------------------------------

TEST(DirtyBitmapClear, ClearsEveryBitAndKeepsTheSize)
{
    auto bitmap = make_bitmap(512, 512 * 130);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(0, 512 * 130);
    EXPECT_EQ(bitmap->count(), 130 * 512);
    bitmap->clear();
    EXPECT_EQ(bitmap->count(), 0);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0, 0, 0}));
    EXPECT_EQ(bitmap->size(), 512 * 130);

    // It takes marks again afterwards, counted from zero.
    mark_chunk(*bitmap, 129);
    EXPECT_EQ(bitmap->count(), 512);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{129}));
}

// Recording is what note_write looks at; the bitmap's own set_range marks regardless, as
// QEMU's bdrv_set_dirty_bitmap does for a disabled bitmap.
TEST(DirtyBitmapRecording, TogglesAndDoesNotGateSetRange)
{
    auto bitmap = make_bitmap(65536, kMiB);
    ASSERT_NE(bitmap, nullptr);
    EXPECT_TRUE(bitmap->recording());
    bitmap->set_recording(false);
    EXPECT_FALSE(bitmap->recording());
    bitmap->set_range(0, 1);
    EXPECT_EQ(bitmap->count(), 65536);
    bitmap->set_recording(true);
    EXPECT_TRUE(bitmap->recording());
    bitmap->set_recording(true);
    EXPECT_TRUE(bitmap->recording());
}

// --- resize ----------------------------------------------------------------------------

// hbitmap_truncate: shrinking resets from the first chunk wholly past the new end and
// gives back the words no longer needed; growing again finds the old bits gone.
TEST(DirtyBitmapResize, ShrinkingClearsBitsPastTheNewEnd)
{
    auto bitmap = make_bitmap(512, 512 * 130);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(0, 512 * 130);
    EXPECT_EQ(bitmap->count(), 130 * 512);

    // 71 chunks, the last one 100 bytes long: kept, it still overlaps the bitmap.
    ASSERT_TRUE(bitmap->resize(512 * 70 + 100).has_value());
    EXPECT_EQ(bitmap->size(), 512 * 70 + 100);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{~uint64_t{0}, 0x7f}));
    EXPECT_EQ(bitmap->count(), 71 * 512);

    // Back to the old size: the chunks that fell off come back clean.
    ASSERT_TRUE(bitmap->resize(512 * 130).has_value());
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{~uint64_t{0}, 0x7f, 0}));
    EXPECT_EQ(bitmap->count(), 71 * 512);
    EXPECT_EQ(dirty_chunks(*bitmap), chunk_range(0, 70));
}

TEST(DirtyBitmapResize, ShrinkingWithinOneWordMasksTheTail)
{
    auto bitmap = make_bitmap(65536, 10 * 65536);
    ASSERT_NE(bitmap, nullptr);
    bitmap->set_range(0, 10 * 65536);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0x3ff}));

    // 65537 bytes: chunk 1 still holds the last byte, so it stays.
    ASSERT_TRUE(bitmap->resize(65537).has_value());
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0b11}));
    EXPECT_EQ(bitmap->count(), 2 * 65536);

    ASSERT_TRUE(bitmap->resize(0).has_value());
    EXPECT_EQ(bitmap->size(), 0);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0}));
    EXPECT_EQ(bitmap->count(), 0);
}

// A size change within the last chunk leaves the bits alone, as hbitmap_truncate returns
// early when the chunk count is unchanged.
TEST(DirtyBitmapResize, SameChunkCountKeepsEveryBit)
{
    auto bitmap = make_bitmap(65536, 3 * 65536);
    ASSERT_NE(bitmap, nullptr);
    mark_chunk(*bitmap, 2);
    ASSERT_TRUE(bitmap->resize(2 * 65536 + 1).has_value());
    EXPECT_EQ(bitmap->size(), 2 * 65536 + 1);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{2}));
    EXPECT_EQ(bitmap->count(), 65536);
}

TEST(DirtyBitmapResize, GrowingKeepsOldBitsAndStartsTheNewPartClean)
{
    auto bitmap = make_bitmap(65536, 10 * 65536);
    ASSERT_NE(bitmap, nullptr);
    mark_chunk(*bitmap, 0);
    mark_chunk(*bitmap, 9);

    ASSERT_TRUE(bitmap->resize(200 * 65536).has_value());
    EXPECT_EQ(bitmap->size(), 200 * 65536);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{1 | uint64_t{1} << 9, 0, 0, 0}));
    EXPECT_EQ(bitmap->count(), 2 * 65536);

    // And the new part takes marks.
    bitmap->set_range(199 * 65536, 65536);
    EXPECT_EQ(dirty_chunks(*bitmap), (std::vector<uint64_t>{0, 9, 199}));
    EXPECT_EQ(bitmap->count(), 3 * 65536);
}

TEST(DirtyBitmapResize, TooLargeFailsAndLeavesTheBitmapAsItWas)
{
    auto bitmap = make_bitmap(512, 4096);
    ASSERT_NE(bitmap, nullptr);
    mark_chunk(*bitmap, 3);
    auto resized = bitmap->resize(std::numeric_limits<int64_t>::max());
    ASSERT_FALSE(resized.has_value());
    EXPECT_EQ(resized.error().desc, "Cannot allocate a dirty bitmap of 2251799813685248 bytes");
    EXPECT_EQ(bitmap->size(), 4096);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{uint64_t{1} << 3}));
    EXPECT_EQ(bitmap->count(), 512);
}

// --- merge -----------------------------------------------------------------------------

TEST(DirtyBitmapMerge, SameGranularityOrsTheBits)
{
    auto target = make_bitmap(65536, 100 * 65536, "target");
    auto source = make_bitmap(65536, 100 * 65536, "source");
    ASSERT_NE(target, nullptr);
    ASSERT_NE(source, nullptr);
    mark_chunk(*target, 0);
    mark_chunk(*target, 5);
    mark_chunk(*source, 5);
    mark_chunk(*source, 70);
    mark_chunk(*source, 99);

    target->merge(*source);
    EXPECT_EQ(dirty_chunks(*target), (std::vector<uint64_t>{0, 5, 70, 99}));
    EXPECT_EQ(target->count(), 4 * 65536);
    // The source is left as it was.
    EXPECT_EQ(dirty_chunks(*source), (std::vector<uint64_t>{5, 70, 99}));
    EXPECT_EQ(source->count(), 3 * 65536);
}

TEST(DirtyBitmapMerge, MergingAnEmptySourceOrItselfChangesNothing)
{
    auto target = make_bitmap(512, 512 * 100, "target");
    auto empty = make_bitmap(512, 512 * 100, "empty");
    ASSERT_NE(target, nullptr);
    ASSERT_NE(empty, nullptr);
    mark_chunk(*target, 42);
    target->merge(*empty);
    EXPECT_EQ(dirty_chunks(*target), (std::vector<uint64_t>{42}));
    target->merge(*target);
    EXPECT_EQ(dirty_chunks(*target), (std::vector<uint64_t>{42}));
    EXPECT_EQ(target->count(), 512);
}

// hbitmap_sparse_merge: each dirty area of the source, in bytes and clipped to its size,
// is set in the target. A 2 MiB chunk covers 32 chunks of 64 KiB.
TEST(DirtyBitmapMerge, CoarserSourceMarksEveryFineChunkItCovers)
{
    // 5 MiB: 80 fine chunks; 3 coarse ones, the last only 1 MiB long.
    auto target = make_bitmap(65536, 5 * kMiB, "fine");
    auto source = make_bitmap(2 * kMiB, 5 * kMiB, "coarse");
    ASSERT_NE(target, nullptr);
    ASSERT_NE(source, nullptr);
    source->set_range(0, 1);
    source->set_range(4 * kMiB + 12345, 1);
    EXPECT_EQ(dirty_chunks(*source), (std::vector<uint64_t>{0, 2}));

    target->merge(*source);
    std::vector<uint64_t> expected = chunk_range(0, 31);
    for (uint64_t chunk : chunk_range(64, 79)) {
        expected.push_back(chunk);
    }
    EXPECT_EQ(dirty_chunks(*target), expected);
    EXPECT_EQ(target->words(), (std::vector<uint64_t>{0xffffffff, 0xffff}));
    EXPECT_EQ(target->count(), 48 * 65536);
}

TEST(DirtyBitmapMerge, FinerSourceMarksTheCoveringCoarseChunk)
{
    auto target = make_bitmap(2 * kMiB, 5 * kMiB, "coarse");
    auto source = make_bitmap(65536, 5 * kMiB, "fine");
    ASSERT_NE(target, nullptr);
    ASSERT_NE(source, nullptr);
    mark_chunk(*source, 33);  // in the second 2 MiB
    mark_chunk(*source, 79);  // the last 64 KiB, in the third
    target->merge(*source);
    EXPECT_EQ(dirty_chunks(*target), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(target->count(), 4 * kMiB);

    // Chunks 31 and 32 straddle the first boundary: both coarse chunks they fall in.
    target->clear();
    source->clear();
    mark_chunk(*source, 31);
    mark_chunk(*source, 32);
    target->merge(*source);
    EXPECT_EQ(dirty_chunks(*target), (std::vector<uint64_t>{0, 1}));
}

// --- DirtyBitmaps ----------------------------------------------------------------------

TEST(DirtyBitmaps, ListsNewestFirstAndFindsAndRemovesByName)
{
    DirtyBitmaps bitmaps;
    EXPECT_TRUE(bitmaps.list().empty());
    EXPECT_EQ(bitmaps.find("a"), nullptr);

    auto a = make_bitmap(65536, kMiB, "a");
    auto b = make_bitmap(65536, kMiB, "b");
    auto c = make_bitmap(65536, kMiB, "c");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(c, nullptr);
    bitmaps.add(a);
    bitmaps.add(b);
    bitmaps.add(c);
    EXPECT_EQ(bitmaps.list(), (std::vector<std::shared_ptr<DirtyBitmap>>{c, b, a}));
    EXPECT_EQ(bitmaps.find("a"), a);
    EXPECT_EQ(bitmaps.find("b"), b);
    EXPECT_EQ(bitmaps.find("c"), c);
    EXPECT_EQ(bitmaps.find("d"), nullptr);
    EXPECT_EQ(bitmaps.find("A"), nullptr);

    EXPECT_TRUE(bitmaps.remove("b"));
    EXPECT_FALSE(bitmaps.remove("b"));
    EXPECT_FALSE(bitmaps.remove("d"));
    EXPECT_EQ(bitmaps.find("b"), nullptr);
    EXPECT_EQ(bitmaps.list(), (std::vector<std::shared_ptr<DirtyBitmap>>{c, a}));

    // A removed bitmap lives on for whoever still holds it, and no longer takes writes.
    bitmaps.note_write(0, 1);
    EXPECT_EQ(b->count(), 0);
    EXPECT_EQ(a->count(), 65536);
}

TEST(DirtyBitmaps, NoteWriteMarksOnlyRecordingBitmaps)
{
    DirtyBitmaps bitmaps;
    auto on = make_bitmap(65536, kMiB, "on");
    auto off = make_bitmap(65536, kMiB, "off");
    auto fine = make_bitmap(512, kMiB, "fine");
    ASSERT_NE(on, nullptr);
    ASSERT_NE(off, nullptr);
    ASSERT_NE(fine, nullptr);
    off->set_recording(false);
    bitmaps.add(on);
    bitmaps.add(off);
    bitmaps.add(fine);

    bitmaps.note_write(1000, 70000);
    EXPECT_EQ(on->count(), 131072);
    EXPECT_EQ(off->count(), 0);
    // Bytes 1000..70999 are 512-byte chunks 1..138.
    EXPECT_EQ(dirty_chunks(*fine), chunk_range(1, 138));
    EXPECT_EQ(fine->count(), 138 * 512);

    // Zero-length requests mark nothing.
    bitmaps.note_write(4 * 65536, 0);
    EXPECT_EQ(on->count(), 131072);

    // Recording again, the bitmap takes the next write.
    off->set_recording(true);
    bitmaps.note_write(5 * 65536, 1);
    EXPECT_EQ(dirty_chunks(*off), (std::vector<uint64_t>{5}));
    EXPECT_EQ(dirty_chunks(*on), (std::vector<uint64_t>{0, 1, 5}));
}

// bdrv_co_write_req_finish: a write ending past total_sectors truncates every bitmap to
// the new end in whole sectors, recording or not, before the recording ones are marked.
TEST(DirtyBitmaps, NoteWritePastTheEndGrowsToWholeSectorsAndMarksTheNewArea)
{
    DirtyBitmaps bitmaps;
    auto on = make_bitmap(512, 4096, "on");
    auto off = make_bitmap(512, 4096, "off");
    ASSERT_NE(on, nullptr);
    ASSERT_NE(off, nullptr);
    off->set_recording(false);
    bitmaps.add(on);
    bitmaps.add(off);

    // Ends at 5000: the bitmaps become 5120 bytes, 10 chunks; bytes 4000..4999 are
    // chunks 7, 8 and 9.
    bitmaps.note_write(4000, 1000);
    EXPECT_EQ(on->size(), 5120);
    EXPECT_EQ(on->words(), (std::vector<uint64_t>{0x380}));
    EXPECT_EQ(on->count(), 3 * 512);
    EXPECT_EQ(off->size(), 5120);
    EXPECT_EQ(off->count(), 0);

    // A write inside the bitmap leaves the size alone.
    bitmaps.note_write(0, 512);
    EXPECT_EQ(on->size(), 5120);
    EXPECT_EQ(dirty_chunks(*on), (std::vector<uint64_t>{0, 7, 8, 9}));

    // One ending exactly on a sector boundary grows to that boundary.
    bitmaps.note_write(5120, 512);
    EXPECT_EQ(on->size(), 5632);
    EXPECT_EQ(off->size(), 5632);
    EXPECT_EQ(dirty_chunks(*on), (std::vector<uint64_t>{0, 7, 8, 9, 10}));
}

TEST(DirtyBitmaps, NoteWritePastTheEndOfACoarseBitmapMarksItsNewLastChunk)
{
    DirtyBitmaps bitmaps;
    auto bitmap = make_bitmap(65536, 2 * 65536);
    ASSERT_NE(bitmap, nullptr);
    bitmaps.add(bitmap);
    // Ends at 132072: 132096 bytes, a partial third chunk.
    bitmaps.note_write(2 * 65536, 1000);
    EXPECT_EQ(bitmap->size(), 132096);
    EXPECT_EQ(bitmap->words(), (std::vector<uint64_t>{0b100}));
    EXPECT_EQ(bitmap->count(), 65536);
}

// bdrv_dirty_bitmap_truncate: every bitmap of the node follows its new length.
TEST(DirtyBitmaps, ResizeAppliesToEveryBitmap)
{
    DirtyBitmaps bitmaps;
    auto fine = make_bitmap(512, 64 * kKiB, "fine");
    auto coarse = make_bitmap(65536, 64 * kKiB, "coarse");
    auto off = make_bitmap(4096, 64 * kKiB, "off");
    ASSERT_NE(fine, nullptr);
    ASSERT_NE(coarse, nullptr);
    ASSERT_NE(off, nullptr);
    off->set_recording(false);
    bitmaps.add(fine);
    bitmaps.add(coarse);
    bitmaps.add(off);
    for (const auto& bitmap : bitmaps.list()) {
        bitmap->set_range(0, 64 * kKiB);
    }

    bitmaps.resize(1000);
    for (const auto& bitmap : bitmaps.list()) {
        SCOPED_TRACE(bitmap->name());
        EXPECT_EQ(bitmap->size(), 1000);
        EXPECT_EQ(bitmap->words().size(), 1u);
    }
    EXPECT_EQ(dirty_chunks(*fine), (std::vector<uint64_t>{0, 1}));
    EXPECT_EQ(fine->count(), 1024);
    EXPECT_EQ(dirty_chunks(*coarse), (std::vector<uint64_t>{0}));
    EXPECT_EQ(coarse->count(), 65536);
    EXPECT_EQ(dirty_chunks(*off), (std::vector<uint64_t>{0}));
    EXPECT_EQ(off->count(), 4096);

    bitmaps.resize(kMiB);
    for (const auto& bitmap : bitmaps.list()) {
        SCOPED_TRACE(bitmap->name());
        EXPECT_EQ(bitmap->size(), kMiB);
    }
    EXPECT_EQ(fine->words().size(), 32u);
    EXPECT_EQ(coarse->words().size(), 1u);
    EXPECT_EQ(off->words().size(), 4u);
    EXPECT_EQ(fine->count(), 1024);
    EXPECT_EQ(coarse->count(), 65536);
    EXPECT_EQ(off->count(), 4096);
}

// --- threads ---------------------------------------------------------------------------

// Four threads mark disjoint chunks of one bitmap, 1000 each, in a fixed order while a
// fifth reads: every mark lands and is counted once.
TEST(DirtyBitmapThreads, ConcurrentSetRangesOnDisjointRangesAllLand)
{
    constexpr uint64_t kThreads = 4;
    constexpr uint64_t kChunksPerThread = 2048;
    constexpr uint64_t kMarks = 1000;
    auto bitmap = make_bitmap(512, static_cast<int64_t>(512 * kThreads * kChunksPerThread));
    ASSERT_NE(bitmap, nullptr);

    std::vector<std::thread> writers;
    for (uint64_t t = 0; t < kThreads; ++t) {
        writers.emplace_back([&bitmap, t] {
            for (uint64_t i = 0; i < kMarks; ++i) {
                // 3 is prime to 2048: the 1000 chunks are distinct, and scattered.
                const uint64_t chunk = t * kChunksPerThread + (i * 3) % kChunksPerThread;
                bitmap->set_range(static_cast<int64_t>(chunk * 512 + i % 512), 1);
            }
        });
    }
    std::thread reader([&bitmap] {
        int64_t last = 0;
        for (int i = 0; i < 1000; ++i) {
            const int64_t now = bitmap->count();
            EXPECT_GE(now, last);
            EXPECT_EQ(now % 512, 0);
            last = now;
        }
    });
    for (std::thread& writer : writers) {
        writer.join();
    }
    reader.join();

    EXPECT_EQ(bitmap->count(), static_cast<int64_t>(kThreads * kMarks * 512));
    const std::vector<uint64_t> words = bitmap->words();
    uint64_t bits = 0;
    for (uint64_t word : words) {
        bits += static_cast<uint64_t>(std::popcount(word));
    }
    EXPECT_EQ(bits, kThreads * kMarks);
    for (uint64_t t = 0; t < kThreads; ++t) {
        for (uint64_t i = 0; i < kMarks; ++i) {
            const uint64_t chunk = t * kChunksPerThread + (i * 3) % kChunksPerThread;
            ASSERT_TRUE((words[chunk / 64] >> (chunk % 64)) & 1) << "chunk " << chunk;
        }
    }
}

// The same through a node's list: concurrent note_writes on disjoint sectors mark every
// recording bitmap exactly.
TEST(DirtyBitmapThreads, ConcurrentNoteWritesMarkEveryRecordingBitmap)
{
    constexpr int64_t kThreads = 4;
    constexpr int64_t kMarks = 1000;
    DirtyBitmaps bitmaps;
    auto fine = make_bitmap(512, 512 * kThreads * kMarks, "fine");
    auto coarse = make_bitmap(65536, 512 * kThreads * kMarks, "coarse");
    auto off = make_bitmap(512, 512 * kThreads * kMarks, "off");
    ASSERT_NE(fine, nullptr);
    ASSERT_NE(coarse, nullptr);
    ASSERT_NE(off, nullptr);
    off->set_recording(false);
    bitmaps.add(fine);
    bitmaps.add(coarse);
    bitmaps.add(off);

    std::vector<std::thread> writers;
    for (int64_t t = 0; t < kThreads; ++t) {
        writers.emplace_back([&bitmaps, t] {
            for (int64_t i = 0; i < kMarks; ++i) {
                bitmaps.note_write((i * kThreads + t) * 512, 512);
            }
        });
    }
    for (std::thread& writer : writers) {
        writer.join();
    }
    EXPECT_EQ(fine->count(), 512 * kThreads * kMarks);
    // 2048000 bytes in 64 KiB chunks: 32 chunks, the last partial.
    EXPECT_EQ(coarse->count(), 32 * 65536);
    EXPECT_EQ(off->count(), 0);
    EXPECT_EQ(fine->size(), 512 * kThreads * kMarks);
}
