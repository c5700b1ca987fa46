// Image locking: the bytes we lock are QEMU's (100+bit held, 200+bit not shared), a holder
// that QEMU would be (a VM refusing to share writes) makes us fail with QEMU's message, and
// locking=off, closing and fd-set duplicates behave.
#include <fcntl.h>

#include <set>

#include "block/file-posix.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;

namespace {

// Which of the bytes 0..299 someone other than fd's open file description has locked.
std::set<int> locked_bytes(int fd)
{
    std::set<int> bytes;
    for (int byte = 0; byte < 300; ++byte) {
        struct flock fl { };
        fl.l_whence = SEEK_SET;
        fl.l_start = byte;
        fl.l_len = 1;
        fl.l_type = F_WRLCK;
        if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
            bytes.insert(byte);
        }
    }
    return bytes;
}

void lock_byte(int fd, int byte)
{
    struct flock fl { };
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    fl.l_type = F_RDLCK;
    ASSERT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
}

}  // namespace

TEST_F(BlockTest, ReadWriteUserLocksBytes100And101)
{
    std::string img = make_image("a.img", 4096);
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    {
        auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101}));
    }
    EXPECT_TRUE(locked_bytes(observer.get()).empty());
}

TEST_F(BlockTest, ReadOnlyUserLocksOnlyConsistentRead)
{
    std::string img = make_image("a.img", 4096);
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro()});
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100}));
}

TEST_F(BlockTest, NoShareUserAlsoLocksTheUnsharedBytes)
{
    std::string img = make_image("a.img", 4096);
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw(), .no_share = true});
    ASSERT_TRUE(blk) << blk.error().desc;
    // Holds consistent read + write; refuses to share write and resize.
    EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101, 201, 203}));
}

TEST_F(BlockTest, WriterIsRefusedWhileAVmKeepsWritesToItself)
{
    std::string img = make_image("a.img", 4096);
    // What a QEMU with a virtio-blk raw drive holds: 100, 101 and 201.
    qemu::UniqueFd vm(::open(img.c_str(), O_RDWR));
    lock_byte(vm.get(), 100);
    lock_byte(vm.get(), 101);
    lock_byte(vm.get(), 201);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_FALSE(blk);
    EXPECT_EQ(blk.error().desc, "Failed to get \"write\" lock\nIs another process using the image [" + img + "]?");
    // Our failed attempt left nothing behind.
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101, 201}));
    // A reader is fine, and locking=off ignores the VM altogether.
    EXPECT_TRUE(BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro()}));
    EXPECT_TRUE(BlockBackend::open(graph(), img, {{"driver", "raw"}, {"file.locking", "off"}}, {.flags = rw()}));
}

TEST_F(BlockTest, ExclusiveUserIsRefusedWhileSomeoneWrites)
{
    std::string img = make_image("a.img", 4096);
    auto writer = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(writer) << writer.error().desc;
    auto exclusive = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro(), .no_share = true});
    ASSERT_FALSE(exclusive);
    EXPECT_EQ(exclusive.error().desc,
        "Failed to get shared \"write\" lock\nIs another process using the image [" + img + "]?");
    EXPECT_TRUE(
        BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = ro(), .no_share = true, .force_share = true}));
}

TEST_F(BlockTest, TakingWriteLaterChecksAgain)
{
    std::string img = make_image("a.img", 4096);
    auto blk = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(blk);
    ASSERT_TRUE((*blk)->set_perm(perm::kConsistentRead, perm::kAll));
    qemu::UniqueFd vm(::open(img.c_str(), O_RDWR));
    lock_byte(vm.get(), 201);
    auto again = (*blk)->set_perm(perm::kConsistentRead | perm::kWrite, perm::kAll);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().desc, "Failed to get \"write\" lock\nIs another process using the image [" + img + "]?");
    EXPECT_EQ((*blk)->perm(), perm::kConsistentRead);
}

TEST_F(BlockTest, FdSetDuplicateReleasesItsLocksOnClose)
{
    // The duplicate shares the member's open file description, so only an explicit unlock
    // drops the bytes while the member stays in its set.
    std::string img = make_image("a.img", 4096);
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(img.c_str(), O_RDWR)), std::nullopt));
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    {
        auto blk = BlockBackend::open(graph(), "/dev/fdset/1", {{"driver", "raw"}}, {.flags = rw()});
        ASSERT_TRUE(blk) << blk.error().desc;
        EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101}));
    }
    EXPECT_TRUE(m_registry->has_set(1));
    EXPECT_TRUE(locked_bytes(observer.get()).empty());
}

TEST_F(BlockTest, LockByteHelpersUseQemusOffsets)
{
    std::string img = make_image("a.img", 512);
    qemu::UniqueFd fd(::open(img.c_str(), O_RDWR));
    ASSERT_TRUE(file_posix::apply_lock_bytes(fd.get(), perm::kAll, perm::kResize, false));
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101, 102, 103, 203}));
    auto check = file_posix::check_lock_bytes(observer.get(), perm::kResize, perm::kAll);
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().desc, "Failed to get \"resize\" lock");
    auto shared = file_posix::check_lock_bytes(observer.get(), 0, perm::kAll & ~perm::kWriteUnchanged);
    ASSERT_FALSE(shared);
    EXPECT_EQ(shared.error().desc, "Failed to get shared \"write unchanged\" lock");
}

TEST_F(BlockTest, NodePermissionsAreTheUnionOfItsUsers)
{
    std::string img = make_image("a.img", 4096);
    qemu::UniqueFd observer(::open(img.c_str(), O_RDONLY));
    auto node = graph().open(img, {{"driver", "raw"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    auto reader = BlockBackend::attach(*node, perm::kConsistentRead, perm::kAll);
    ASSERT_TRUE(reader) << reader.error().desc;
    {
        auto writer = BlockBackend::attach(*node, perm::kConsistentRead | perm::kWrite, perm::kAll);
        ASSERT_TRUE(writer) << writer.error().desc;
        EXPECT_EQ((*node)->perm(), perm::kConsistentRead | perm::kWrite);
        EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100, 101}));
    }
    // The writer left; the reader's lock stays.
    EXPECT_EQ((*node)->perm(), perm::kConsistentRead);
    EXPECT_EQ(locked_bytes(observer.get()), (std::set<int>{100}));
    reader->reset();
    EXPECT_EQ((*node)->perm(), 0u);
    EXPECT_TRUE(locked_bytes(observer.get()).empty());
}

TEST_F(BlockTest, ForceShareIsOnlyForReadOnlyImages)
{
    std::string img = make_image("a.img", 4096);
    auto rw_node = graph().open(img, {{"driver", "raw"}, {"force-share", "on"}}, rw());
    ASSERT_FALSE(rw_node);
    EXPECT_EQ(rw_node.error().desc, "force-share=on can only be used with read-only images");
    auto writer = BlockBackend::open(graph(), img, {{"driver", "raw"}}, {.flags = rw()});
    ASSERT_TRUE(writer);
    auto sharing =
        BlockBackend::open(graph(), img, {{"driver", "raw"}, {"force-share", "on"}}, {.flags = ro(), .no_share = true});
    ASSERT_TRUE(sharing) << sharing.error().desc;
}
