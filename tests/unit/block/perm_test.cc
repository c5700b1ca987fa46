// QEMU's permission model between the nodes of one graph: what a node takes on its
// children follows from their role (a format's metadata, a raw window's data, a backing
// file), a user that refuses to share what another holds fails with QEMU's "Permission
// conflict" text, and a reopen to read-write takes the new permissions or changes nothing.
// The messages are those Debian's QEMU 7.2 gives for the same blockdev-add sequences.
#include <fcntl.h>

#include <set>

#include "block/block-backend.h"
#include "block/drivers.h"
#include "block/file-posix.h"
#include "block/reopen.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::ro;
using block_test::rw;

namespace {

// The lock bytes (QEMU's 100+bit held, 200+bit unshared) someone has taken on the file.
std::set<int> locked_bytes(const std::string& path)
{
    qemu::UniqueFd fd(::open(path.c_str(), O_RDONLY));
    std::set<int> bytes;
    for (int byte : {100, 101, 102, 103, 200, 201, 202, 203}) {
        struct flock fl { };
        fl.l_whence = SEEK_SET;
        fl.l_start = byte;
        fl.l_len = 1;
        fl.l_type = F_WRLCK;
        if (fcntl(fd.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
            bytes.insert(byte);
        }
    }
    return bytes;
}

class PermTest : public BlockTest {
protected:
    std::string vdi(const std::string& name)
    {
        std::string p = path(name);
        EXPECT_TRUE(kVdiDriver.create({}, CreateOptions{.filename = p, .size = 1 << 20}));
        return p;
    }

    // blockdev-add: the node, or the error text.
    std::string add(BlockOptions options, OpenFlags flags = rw())
    {
        std::string name = options.at("node-name");
        auto node = graph().open(std::nullopt, std::move(options), flags);
        if (!node) {
            return node.error().desc;
        }
        m_nodes[name] = *node;
        return "ok";
    }

    // blockdev-del
    void del(const std::string& name) { m_nodes.erase(name); }

    BlockNode& node(const std::string& name) { return *m_nodes.at(name); }

    void TearDown() override
    {
        m_nodes.clear();
        BlockTest::TearDown();
    }

    std::map<std::string, std::shared_ptr<BlockNode>> m_nodes;
};

// Held: consistent read (100), write (101), resize (103); unshared: write (201), resize (203).
const std::set<int> kWritableFormat{100, 101, 103, 201, 203};
const std::set<int> kReadOnlyFormat{100, 201, 203};

TEST_F(PermTest, AWritableFormatWritesItsFileWithoutAnyUser)
{
    std::string a = vdi("a.vdi");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.filename", a}}), "ok");
    // QEMU's qemu-img info then fails: 'Failed to get shared "write" lock'.
    EXPECT_EQ(locked_bytes(a), kWritableFormat);
    EXPECT_EQ(node("v").file()->perm(), perm::kConsistentRead | perm::kWrite | perm::kResize);
    del("v");
    EXPECT_TRUE(locked_bytes(a).empty());

    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.filename", a}}, ro()), "ok");
    EXPECT_EQ(locked_bytes(a), kReadOnlyFormat);
}

TEST_F(PermTest, ConflictsNameTheNodeThatRequiresAndTheOneThatRefuses)
{
    std::string a = vdi("a.vdi");
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "f"}, {"filename", a}}), "ok");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v1"}, {"file", "f"}}), "ok");
    EXPECT_EQ(add({{"driver", "vdi"}, {"node-name", "v2"}, {"file", "f"}}),
        "Permission conflict on node 'f': permissions 'write, resize' are both required by node 'v1' "
        "(uses node 'f' as 'file' child) and unshared by node 'v2' (uses node 'f' as 'file' child).");
    EXPECT_EQ(add({{"driver", "vdi"}, {"node-name", "v3"}, {"file", "f"}}, ro()),
        "Permission conflict on node 'f': permissions 'write, resize' are both required by node 'v1' "
        "(uses node 'f' as 'file' child) and unshared by node 'v3' (uses node 'f' as 'file' child).");
    // Raw without a window passes its users' permissions through and takes nothing itself.
    EXPECT_EQ(add({{"driver", "raw"}, {"node-name", "r1"}, {"file", "f"}}), "ok");
    // With one its file holds data whose size it relies on.
    EXPECT_EQ(add({{"driver", "raw"}, {"node-name", "r2"}, {"file", "f"}, {"offset", "512"}}),
        "Permission conflict on node 'f': permissions 'resize' are both required by node 'v1' "
        "(uses node 'f' as 'file' child) and unshared by node 'r2' (uses node 'f' as 'file' child).");
    EXPECT_FALSE(graph().find_node("v2") || graph().find_node("v3") || graph().find_node("r2"));
    del("r1");
    del("v1");
    EXPECT_EQ(add({{"driver", "vdi"}, {"node-name", "v4"}, {"file", "f"}}), "ok");
    EXPECT_EQ(locked_bytes(a), kWritableFormat);
}

TEST_F(PermTest, ARawWindowRefusesResizeToALaterWriter)
{
    std::string b = vdi("b.vdi");
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "g"}, {"filename", b}}), "ok");
    ASSERT_EQ(add({{"driver", "raw"}, {"node-name", "q1"}, {"file", "g"}, {"offset", "512"}}), "ok");
    EXPECT_EQ(add({{"driver", "vdi"}, {"node-name", "q2"}, {"file", "g"}}),
        "Permission conflict on node 'g': permissions 'resize' are both required by node 'q2' "
        "(uses node 'g' as 'file' child) and unshared by node 'q1' (uses node 'g' as 'file' child).");
    EXPECT_EQ(add({{"driver", "raw"}, {"node-name", "q3"}, {"file", "g"}}, ro()), "ok");
    // A backend is named by its id.
    auto blk =
        BlockBackend::attach(node("q1").shared_from_this(), perm::kConsistentRead, perm::kAll & ~perm::kWrite, "d0");
    ASSERT_TRUE(blk) << blk.error().desc;
    auto writer = BlockBackend::attach(node("q1").shared_from_this(), perm::kConsistentRead | perm::kWrite, perm::kAll);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().desc,
        "Permission conflict on node 'q1': permissions 'write' are both required by an unnamed block device "
        "(uses node 'q1' as 'root' child) and unshared by block device 'd0' (uses node 'q1' as 'root' child).");
}

TEST_F(PermTest, ReopenToReadWriteTakesWriteOnTheFileOrChangesNothing)
{
    std::string a = vdi("a.vdi");
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "f"}, {"filename", a}}), "ok");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v1"}, {"file", "f"}}, ro()), "ok");
    ASSERT_EQ(add({{"driver", "raw"}, {"node-name", "r2"}, {"file", "f"}, {"offset", "512"}}), "ok");
    EXPECT_EQ(locked_bytes(a), kReadOnlyFormat);

    BlockOptions writable{{"driver", "vdi"}, {"node-name", "v1"}, {"file", "f"}, {"read-only", "off"}};
    auto done = reopen(node("v1"), writable);
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().desc,
        "Permission conflict on node 'f': permissions 'resize' are both required by node 'v1' "
        "(uses node 'f' as 'file' child) and unshared by node 'r2' (uses node 'f' as 'file' child).");
    EXPECT_TRUE(node("v1").read_only());
    EXPECT_EQ(locked_bytes(a), kReadOnlyFormat);

    del("r2");
    done = reopen(node("v1"), writable);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_FALSE(node("v1").read_only());
    EXPECT_EQ(locked_bytes(a), kWritableFormat);

    writable["read-only"] = "on";
    done = reopen(node("v1"), writable);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_EQ(locked_bytes(a), kReadOnlyFormat);
}

TEST_F(PermTest, ReopenKeepsTheReadOnlyAReferencedFileWasGiven)
{
    std::string b = vdi("b.vdi");
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "g"}, {"filename", b}, {"read-only", "on"}}), "ok");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "w1"}, {"file", "g"}}, ro()), "ok");
    auto done = reopen(node("w1"), {{"driver", "vdi"}, {"node-name", "w1"}, {"file", "g"}, {"read-only", "off"}});
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().desc, "Block node is read-only");
    EXPECT_TRUE(node("w1").read_only());
    EXPECT_TRUE(node("g").read_only());
    EXPECT_EQ(locked_bytes(b), kReadOnlyFormat);
    EXPECT_EQ(add({{"driver", "vdi"}, {"node-name", "w2"}, {"file", "g"}}),
        "Permission conflict on node 'g': permissions 'write, resize' are both required by node 'w2' "
        "(uses node 'g' as 'file' child) and unshared by node 'w1' (uses node 'g' as 'file' child).");
}

// bdrv_reopen_queue_child: a reopen reaches only the children the node opened from its own
// options. A file added on its own and named by reference keeps its read-only and its
// descriptor, and takes no options through the parent; a file opened inline follows.
TEST_F(PermTest, ReopenLeavesAFileNamedByReferenceAlone)
{
    std::string a = vdi("a.vdi");
    std::string b = vdi("b.vdi");
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "f"}, {"filename", a}}), "ok");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v"}, {"file", "f"}}), "ok");
    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "w"}, {"file.driver", "file"}, {"file.node-name", "wf"},
                  {"file.filename", b}}),
        "ok");

    auto done = reopen(node("v"), {{"driver", "vdi"}, {"node-name", "v"}, {"file", "f"}, {"read-only", "on"}});
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE(node("v").read_only());
    EXPECT_FALSE(node("f").read_only());
    EXPECT_TRUE(file_posix::file_host_access(node("f")).read_write);

    done = reopen(node("v"),
        {{"driver", "vdi"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.node-name", "f"},
            {"file.filename", a}});
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().desc, "Cannot change the option 'file.driver'");

    done = reopen(node("w"), {{"driver", "vdi"}, {"node-name", "w"}, {"file", "wf"}, {"read-only", "on"}});
    ASSERT_TRUE(done) << done.error().desc;
    BlockNode& wf = *node("w").file();
    EXPECT_TRUE(wf.read_only());
    EXPECT_FALSE(file_posix::file_host_access(wf).read_write);
}

// bdrv_node_refresh_perm after a reopen: the permissions are those of the new state of every
// node the reopen reaches, so a format and its file become read-only together; a writer
// that remains is refused with the text for a node the reopen would make read-only.
TEST_F(PermTest, ReopenToReadOnlyCountsTheNewStateOfEveryNode)
{
    std::string a = vdi("a.vdi");
    BlockOptions inline_file{
        {"driver", "vdi"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.node-name", "vf"}, {"file.filename", a}};
    ASSERT_EQ(add(inline_file), "ok");
    {
        auto blk = BlockBackend::attach(node("v").shared_from_this(), perm::kConsistentRead | perm::kWrite, perm::kAll);
        ASSERT_TRUE(blk) << blk.error().desc;
        auto done = reopen(node("v"), {{"driver", "vdi"}, {"node-name", "v"}, {"file", "vf"}, {"read-only", "on"}});
        ASSERT_FALSE(done);
        EXPECT_EQ(done.error().desc, "Read-only block node 'v' cannot support read-write users");
        EXPECT_FALSE(node("v").read_only());
    }
    BlockOptions read_only = inline_file;
    read_only["read-only"] = "on";
    auto done = reopen(node("v"), read_only);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE(node("v").file()->read_only());
    EXPECT_EQ(locked_bytes(a), kReadOnlyFormat);

    BlockOptions file_read_only = inline_file;
    file_read_only["file.read-only"] = "on";
    ASSERT_TRUE(reopen(node("v"), inline_file));
    done = reopen(node("v"), file_read_only);
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().desc, "Read-only block node 'vf' cannot support read-write users");
    EXPECT_FALSE(node("v").file()->read_only());
}

// -drive's auto-read-only: the file is open read-only until write permission arrives, and a
// writable format asks for it as soon as it is opened over the file (raw_check_perm), so
// the fd set must hold a read-write member then, not at the first write.
TEST_F(PermTest, AnAutoReadOnlyFileTakesItsWriteDescriptorWhenAWriterComes)
{
    std::string a = vdi("a.vdi");
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(a.c_str(), O_RDONLY)), std::nullopt));
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(a.c_str(), O_RDWR)), std::nullopt));
    ASSERT_TRUE(m_registry->add(2, qemu::UniqueFd(::open(a.c_str(), O_RDONLY)), std::nullopt));
    for (const char* name : {"f1", "f2"}) {
        std::string set = std::string("/dev/fdset/") + name[1];
        ASSERT_EQ(add({{"driver", "file"}, {"node-name", name}, {"filename", set}}, ro()), "ok");
        node(name).mutable_flags().read_write = true;
        node(name).mutable_flags().auto_read_only = true;
        EXPECT_FALSE(file_posix::file_host_access(node(name)).read_write);
    }
    // Raw passes through what its users hold: nothing yet.
    ASSERT_EQ(add({{"driver", "raw"}, {"node-name", "r"}, {"file", "f2"}}), "ok");
    EXPECT_FALSE(file_posix::file_host_access(node("f2")).read_write);

    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v1"}, {"file", "f1"}}), "ok");
    EXPECT_TRUE(file_posix::file_host_access(node("f1")).read_write);

    del("r");
    int fds = block_test::open_fd_count();
    std::string refused = add({{"driver", "vdi"}, {"node-name", "v2"}, {"file", "f2"}});
    EXPECT_EQ(refused, "Failed to find file descriptor with matching flags=0x2");
    EXPECT_FALSE(file_posix::file_host_access(node("f2")).read_write);
    EXPECT_EQ(block_test::open_fd_count(), fds);
}

// raw_check_perm both ways: an auto-read-only file node opened on its own holds a read-only
// descriptor (and is not read-only in name), a writer brings a read-write one, and the last
// writer's leaving brings the read-only one back. Where the set no longer has a read-only
// member the writable descriptor stays rather than failing the writer's removal.
TEST_F(PermTest, AnAutoReadOnlyFileGoesBackToReadOnlyWhenTheLastWriterLeaves)
{
    std::string a = vdi("a.vdi");
    int ro_member = ::open(a.c_str(), O_RDONLY);
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(ro_member), std::nullopt));
    ASSERT_TRUE(m_registry->add(1, qemu::UniqueFd(::open(a.c_str(), O_RDWR)), std::nullopt));
    OpenFlags auto_ro = rw();
    auto_ro.auto_read_only = true;
    ASSERT_EQ(add({{"driver", "file"}, {"node-name", "f"}, {"filename", "/dev/fdset/1"}}, auto_ro), "ok");
    EXPECT_FALSE(node("f").read_only());
    EXPECT_FALSE(file_posix::file_host_access(node("f")).read_write);
    int fds = block_test::open_fd_count();

    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v"}, {"file", "f"}}), "ok");
    EXPECT_TRUE(file_posix::file_host_access(node("f")).read_write);
    del("v");
    EXPECT_FALSE(file_posix::file_host_access(node("f")).read_write);
    EXPECT_EQ(block_test::open_fd_count(), fds);
    EXPECT_TRUE(locked_bytes(a).empty());

    ASSERT_EQ(add({{"driver", "vdi"}, {"node-name", "v"}, {"file", "f"}}), "ok");
    ASSERT_TRUE(m_registry->remove(1, ro_member));
    del("v");
    EXPECT_TRUE(file_posix::file_host_access(node("f")).read_write);
    EXPECT_TRUE(locked_bytes(a).empty());

    // Without a read-only member the node cannot open at all, as in QEMU.
    ASSERT_TRUE(m_registry->add(2, qemu::UniqueFd(::open(a.c_str(), O_RDWR)), std::nullopt));
    EXPECT_EQ(add({{"driver", "file"}, {"node-name", "g"}, {"filename", "/dev/fdset/2"}}, auto_ro),
        "Failed to find file descriptor with matching flags=0x0");
}

// A reopen to read-write under auto-read-only: the writable format takes write on its file
// at once, and the file's descriptor must stay read-write for the format's writes.
TEST_F(PermTest, AReopenToReadWriteUnderAutoReadOnlyKeepsTheWriteDescriptor)
{
    std::string a = vdi("a.vdi");
    BlockOptions options{{"driver", "vdi"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.filename", a}};
    ASSERT_EQ(add(options, ro()), "ok");
    EXPECT_FALSE(file_posix::file_host_access(*node("v").file()).read_write);
    options["read-only"] = "off";
    options["auto-read-only"] = "on";
    auto done = reopen(node("v"), options);
    ASSERT_TRUE(done) << done.error().desc;
    EXPECT_TRUE(file_posix::file_host_access(*node("v").file()).read_write);
    EXPECT_TRUE(node("v").pwrite(0, std::vector<uint8_t>(512, 0x5a)));
    EXPECT_EQ(locked_bytes(a), kWritableFormat);
}

// A flat extent holds only data: a writable monolithicFlat image without users takes
// nothing beyond reading on it, while its descriptor file is written as metadata.
TEST_F(PermTest, AFlatVmdkExtentIsDataAndItsDescriptorMetadata)
{
    const BlockDriver* vmdk = find_driver("vmdk");
    ASSERT_NE(vmdk, nullptr);
    std::string desc = path("flat.vmdk");
    ASSERT_TRUE(
        vmdk->create({}, CreateOptions{.filename = desc, .size = 1 << 20, .opts = {{"subformat", "monolithicFlat"}}}));
    ASSERT_EQ(add({{"driver", "vmdk"}, {"node-name", "v"}, {"file.driver", "file"}, {"file.filename", desc}}), "ok");
    BlockNode* extent = node("v").child("extents.0");
    ASSERT_NE(extent, nullptr);
    EXPECT_EQ(extent->perm(), 0u);
    EXPECT_EQ(extent->shared_perm(), perm::kAll & ~perm::kResize);
    EXPECT_EQ(locked_bytes(path("flat-flat.vmdk")), (std::set<int>{203}));
    EXPECT_EQ(node("v").file()->perm(), perm::kConsistentRead | perm::kWrite | perm::kResize);

    // A writer through the image writes and may grow the extent.
    auto blk = BlockBackend::attach(node("v").shared_from_this(), perm::kConsistentRead | perm::kWrite, perm::kAll);
    ASSERT_TRUE(blk) << blk.error().desc;
    EXPECT_EQ(extent->perm(), perm::kConsistentRead | perm::kWrite | perm::kResize);
}

}  // namespace
