// The `file` driver: opening (errors in QEMU's words, /dev/fdset/N, auto-read-only), I/O
// (vectored, O_DIRECT with unaligned requests), write-zeroes, discard, truncate and create.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "block/drivers.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::open_fd_count;
using block_test::ro;
using block_test::rw;

namespace {

BlockOptions file_options(const std::string& filename)
{
    return {{"driver", "file"}, {"filename", filename}};
}

int64_t allocated_bytes(const std::string& p)
{
    struct stat st { };
    stat(p.c_str(), &st);
    return static_cast<int64_t>(st.st_blocks) * 512;
}

}  // namespace

TEST_F(BlockTest, MissingFileIsQemusOpenError)
{
    auto node = graph().open(std::nullopt, file_options(path("nope")), rw());
    ASSERT_FALSE(node);
    EXPECT_EQ(node.error().desc, "Could not open '" + path("nope") + "': No such file or directory");
    EXPECT_EQ(node.error().errno_value, ENOENT);
}

TEST_F(BlockTest, FileDriverRequiresARegularFile)
{
    auto node = graph().open(std::nullopt, file_options(m_dir), ro());
    ASSERT_FALSE(node);
    EXPECT_EQ(node.error().desc, "'file' driver requires '" + m_dir + "' to be a regular file");
}

// raw_parse_flags: auto-read-only opens the file read-only whatever it allows, and only a
// writer asks for more (PermTest covers that part).
TEST_F(BlockTest, AutoReadOnlyOpensAFileThatIsNotWritable)
{
    if (geteuid() == 0) {
        GTEST_SKIP() << "root ignores file permissions";
    }
    std::string img = make_image("ro.img", 512);
    ASSERT_EQ(chmod(img.c_str(), 0400), 0);
    auto strict = graph().open(std::nullopt, file_options(img), rw());
    ASSERT_FALSE(strict);
    EXPECT_EQ(strict.error().desc, "Could not open '" + img + "': Permission denied");
    auto flags = rw();
    flags.auto_read_only = true;
    auto node = graph().open(std::nullopt, file_options(img), flags);
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_FALSE((*node)->read_only());
    auto writer = graph().set_perm(**node, PermUser{this, "a writer", "root"}, perm::kWrite, perm::kAll);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().desc, "Could not open '" + img + "': Permission denied");
}

TEST_F(BlockTest, FdSetNameOpensADuplicateAndGivesItBack)
{
    std::string img = make_image("set.img", 8192);
    qemu::UniqueFd member(::open(img.c_str(), O_RDWR));
    ASSERT_TRUE(m_registry->add(3, std::move(member), "rw"));
    int before = open_fd_count();
    {
        auto blk = BlockBackend::open(graph(), "/dev/fdset/3", {{"driver", "raw"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        EXPECT_EQ((*blk)->root().filename(), "/dev/fdset/3");
        EXPECT_EQ(open_fd_count(), before + 1);
        std::vector<uint8_t> buf(4096, 0x5c);
        ASSERT_TRUE((*blk)->pwrite(4096, buf));
        ASSERT_TRUE((*blk)->flush());
    }
    EXPECT_EQ(open_fd_count(), before);
    EXPECT_TRUE(m_registry->has_set(3));
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes[4095], 0);
    EXPECT_EQ(bytes[4096], 0x5c);
    EXPECT_EQ(bytes[8191], 0x5c);
}

TEST_F(BlockTest, FdSetWithoutAWritableMemberRefusesReadWrite)
{
    std::string img = make_image("set.img", 512);
    ASSERT_TRUE(m_registry->add(4, qemu::UniqueFd(::open(img.c_str(), O_RDONLY)), std::nullopt));
    auto node = graph().open(std::nullopt, file_options("/dev/fdset/4"), rw());
    ASSERT_FALSE(node);
    EXPECT_NE(node.error().desc.find("Failed to find file descriptor with matching flags"), std::string::npos)
        << node.error().desc;
    auto readonly = graph().open(std::nullopt, file_options("/dev/fdset/4"), ro());
    ASSERT_TRUE(readonly) << readonly.error().desc;
}

TEST_F(BlockTest, FdSetNamesAreNeverHostDevicesOrFloppies)
{
    // /dev/fdset/N is not a path: even if /dev/fd* names were special, these reach the file
    // driver, which sees the regular file behind the duplicate.
    std::string img = make_image("set.img", 512);
    ASSERT_TRUE(m_registry->add(0, qemu::UniqueFd(::open(img.c_str(), O_RDONLY)), std::nullopt));
    auto node = graph().open("/dev/fdset/0", {}, ro());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->driver().format_name, "raw");
    EXPECT_EQ((*node)->file()->driver().format_name, "file");
    auto missing = graph().open("/dev/fdset/9", {}, ro());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "Failed to find fdset /dev/fdset/9");
}

TEST_F(BlockTest, VectoredWriteAndReadAtByteOffsets)
{
    std::string img = make_image("a.img", 8192);
    auto node = graph().open(std::nullopt, file_options(img), rw());
    ASSERT_TRUE(node) << node.error().desc;
    std::vector<uint8_t> a(3, 0xa1), b(1000, 0xb2);
    iovec out[] = {{a.data(), a.size()}, {b.data(), b.size()}};
    ASSERT_TRUE((*node)->pwritev(1, out));
    std::vector<uint8_t> back(1005, 0xff);
    ASSERT_TRUE((*node)->pread(0, back));
    EXPECT_EQ(back[0], 0);
    EXPECT_EQ(back[1], 0xa1);
    EXPECT_EQ(back[3], 0xa1);
    EXPECT_EQ(back[4], 0xb2);
    EXPECT_EQ(back[1003], 0xb2);
    EXPECT_EQ(back[1004], 0);
}

TEST_F(BlockTest, ODirectHandlesUnalignedRequestsThroughBounceBuffers)
{
    std::string img = make_image("direct.img", 16384, 0x33);
    auto flags = rw();
    flags.cache_direct = true;
    auto node = graph().open(std::nullopt, file_options(img), flags);
    if (!node && node.error().desc.find("O_DIRECT") != std::string::npos) {
        GTEST_SKIP() << node.error().desc;
    }
    ASSERT_TRUE(node) << node.error().desc;
    std::vector<uint8_t> small(3, 0x44);
    ASSERT_TRUE((*node)->pwrite(1, small));
    std::vector<uint8_t> cross(200, 0x66);
    ASSERT_TRUE((*node)->pwrite(4000, cross));
    // An unaligned read into an unaligned buffer.
    std::vector<uint8_t> storage(300);
    std::span<uint8_t> back(storage.data() + 1, 210);
    ASSERT_TRUE((*node)->pread(3995, back));
    EXPECT_EQ(back[0], 0x33);
    EXPECT_EQ(back[4], 0x33);
    EXPECT_EQ(back[5], 0x66);
    EXPECT_EQ(back[204], 0x66);
    EXPECT_EQ(back[205], 0x33);
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes.size(), 16384u);
    EXPECT_EQ(bytes[0], 0x33);
    EXPECT_EQ(bytes[1], 0x44);
    EXPECT_EQ(bytes[3], 0x44);
    EXPECT_EQ(bytes[4], 0x33);
}

TEST_F(BlockTest, WriteZeroesWithUnmapPunchesAHole)
{
    std::string img = make_image("z.img", 1 << 20, 0x77);
    auto flags = rw();
    flags.unmap = true;
    auto node = graph().open(std::nullopt, file_options(img), flags);
    ASSERT_TRUE(node) << node.error().desc;
    int64_t before = allocated_bytes(img);
    ASSERT_TRUE((*node)->pwrite_zeroes(65536, 262144, RequestFlags{.may_unmap = true}));
    std::vector<uint8_t> back(262144 + 2);
    ASSERT_TRUE((*node)->pread(65535, back));
    EXPECT_EQ(back.front(), 0x77);
    EXPECT_EQ(back.back(), 0x77);
    EXPECT_TRUE(std::all_of(back.begin() + 1, back.end() - 1, [](uint8_t b) { return b == 0; }));
    EXPECT_LT(allocated_bytes(img), before);
    EXPECT_EQ(file_bytes(img).size(), size_t{1} << 20);
}

TEST_F(BlockTest, DiscardPunchesOnlyWithUnmap)
{
    std::string img = make_image("d.img", 1 << 20, 0x12);
    {
        auto ignoring = graph().open(std::nullopt, file_options(img), rw());
        ASSERT_TRUE(ignoring);
        ASSERT_TRUE((*ignoring)->discard(0, 65536));
        EXPECT_EQ(file_bytes(img)[0], 0x12);
    }
    auto flags = rw();
    flags.unmap = true;
    auto node = graph().open(std::nullopt, file_options(img), flags);
    ASSERT_TRUE(node);
    ASSERT_TRUE((*node)->discard(0, 65536));
    auto bytes = file_bytes(img);
    EXPECT_EQ(bytes[0], 0);
    EXPECT_EQ(bytes[65535], 0);
    EXPECT_EQ(bytes[65536], 0x12);
    auto status = (*node)->block_status(true, 0, 1 << 20);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->flags & status::kZero);
    EXPECT_EQ(status->bytes, 65536);
}

TEST_F(BlockTest, TruncateGrowsShrinksAndPreallocates)
{
    std::string img = make_image("t.img", 0);
    auto node = graph().open(std::nullopt, file_options(img), rw());
    ASSERT_TRUE(node);
    ASSERT_TRUE((*node)->truncate(1 << 20));
    EXPECT_EQ(*(*node)->length(), 1 << 20);
    // Growing from empty allocates the first block, as QEMU does for later alignment probes.
    EXPECT_GE(allocated_bytes(img), 4096);
    ASSERT_TRUE((*node)->truncate(2 << 20, Prealloc::Falloc));
    EXPECT_GE(allocated_bytes(img), 1 << 20);
    ASSERT_TRUE((*node)->truncate(3 << 20, Prealloc::Full));
    EXPECT_EQ(*(*node)->length(), 3 << 20);
    auto shrink = (*node)->truncate(1 << 20, Prealloc::Falloc);
    ASSERT_FALSE(shrink);
    EXPECT_EQ(shrink.error().desc, "Cannot use preallocation for shrinking files");
    ASSERT_TRUE((*node)->truncate(512));
    EXPECT_EQ(file_bytes(img).size(), 512u);
    auto negative = (*node)->truncate(-1);
    ASSERT_FALSE(negative);
    EXPECT_EQ(negative.error().desc, "Image size cannot be negative");
}

TEST_F(BlockTest, TruncateOnReadOnlyNodeFails)
{
    std::string img = make_image("t.img", 512);
    auto node = graph().open(std::nullopt, file_options(img), ro());
    ASSERT_TRUE(node);
    auto grown = (*node)->truncate(4096);
    ASSERT_FALSE(grown);
    EXPECT_EQ(grown.error().desc, "Image is read-only");
}

TEST_F(BlockTest, CreateMakesAFileOfTheSizeAndClearsOldContent)
{
    std::string img = make_image("c.img", 8192, 0x99);
    ASSERT_TRUE(kFileDriver.create(graph().context(), CreateOptions{img, 1 << 20, Prealloc::Off}));
    auto bytes = file_bytes(img);
    ASSERT_EQ(bytes.size(), size_t{1} << 20);
    EXPECT_TRUE(std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; }));
    ASSERT_TRUE(kRawDriver.create(graph().context(), CreateOptions{path("new.img"), 4096, Prealloc::Falloc}));
    EXPECT_EQ(file_bytes(path("new.img")).size(), 4096u);
}

TEST_F(BlockTest, InvalidFileOptionsAreRefused)
{
    std::string img = make_image("a.img", 512);
    auto options = file_options(img);
    options["locking"] = "sometimes";
    auto locking = graph().open(std::nullopt, options, ro());
    ASSERT_FALSE(locking);
    EXPECT_EQ(locking.error().desc, "invalid parameter value: sometimes");
    options = file_options(img);
    options["aio"] = "native";
    auto native = graph().open(std::nullopt, options, ro());
    ASSERT_FALSE(native);
    EXPECT_EQ(
        native.error().desc, "aio=native was specified, but it requires cache.direct=on, which was not specified.");
}

TEST_F(BlockTest, WriteThatRunsOutOfSpaceFailsCleanlyAndKeepsEarlierData)
{
    // A file-size limit stands in for a full disk: the kernel refuses the write past it
    // (EFBIG once SIGXFSZ is ignored) just as it would with ENOSPC.
    std::string img = make_image("full.img", 0);
    ASSERT_EQ(truncate(img.c_str(), 1 << 20), 0);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(blk) << blk.error().desc;
    std::vector<uint8_t> first(65536, 0x21);
    ASSERT_TRUE((*blk)->pwrite(0, first));

    struct rlimit old_limit {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = old_limit;
    limit.rlim_cur = (1 << 20) - 512;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
    // Inside the disk, but across the limit: part of it lands, then the kernel refuses.
    std::vector<uint8_t> second(4096, 0x22);
    auto past = (*blk)->pwrite((1 << 20) - 4096, second);
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);

    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().errno_value, EFBIG);
    auto bytes = file_bytes(img);
    ASSERT_EQ(bytes.size(), size_t{1} << 20);
    EXPECT_TRUE(std::all_of(bytes.begin(), bytes.begin() + 65536, [](uint8_t b) { return b == 0x21; }));
}
