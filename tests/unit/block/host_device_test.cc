// The host_device protocol: device nodes are routed to it, it refuses regular files with
// QEMU's text, sizes come from the device, devices never grow, and I/O, discard and zeroes
// reach a real block device (a loop device, when the machine lets us make one).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "block/drivers.h"
#include "block/file-posix.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::open_fd_count;
using block_test::ro;
using block_test::rw;

namespace {

// A loop device over a scratch file, detached again on destruction; empty if the machine
// (no root, no /dev/loop-control) cannot give one.
class LoopDevice {
public:
    explicit LoopDevice(const std::string& backing)
    {
        std::string cmd = "losetup -f --show '" + backing + "' 2>/dev/null";
        if (FILE* out = popen(cmd.c_str(), "r")) {
            char line[256] = {};
            if (fgets(line, sizeof line, out)) {
                m_name = line;
                while (!m_name.empty() && m_name.back() == '\n') {
                    m_name.pop_back();
                }
            }
            if (pclose(out) != 0) {
                m_name.clear();
            }
        }
    }
    ~LoopDevice()
    {
        if (!m_name.empty()) {
            std::string cmd = "losetup -d " + m_name;
            [[maybe_unused]] int ignored = std::system(cmd.c_str());
        }
    }
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;
    const std::string& name() const { return m_name; }

private:
    std::string m_name;
};

BlockOptions hdev_options(const std::string& filename)
{
    return {{"driver", "host_device"}, {"filename", filename}};
}

}  // namespace

TEST(HostDeviceProbe, DeviceNodesGoToHostDeviceEverythingElseToFile)
{
    EXPECT_EQ(protocol_for_filename("/dev/null"), &kHostDeviceDriver);
    EXPECT_EQ(protocol_for_filename("/dev/zero"), &kHostDeviceDriver);
    EXPECT_EQ(protocol_for_filename("/etc/hostname"), &kFileDriver);
    EXPECT_EQ(protocol_for_filename("/nonexistent/x"), &kFileDriver);
    // An fd set is never a device, whatever its members are.
    EXPECT_EQ(protocol_for_filename("/dev/fdset/0"), &kFileDriver);
    EXPECT_EQ(protocol_for_filename("host_device:/tmp/x"), &kHostDeviceDriver);
    EXPECT_EQ(protocol_for_filename("file:/dev/null"), &kFileDriver);
    EXPECT_EQ(protocol_for_filename("nbd:x"), nullptr);
}

TEST_F(BlockTest, CharacterDeviceOpensAsAnEmptyRawImage)
{
    int before = open_fd_count();
    {
        auto node = graph().open("/dev/null", {}, ro());
        ASSERT_TRUE(node) << node.error().desc;
        EXPECT_EQ((*node)->driver().format_name, "raw");
        EXPECT_EQ((*node)->file()->driver().format_name, "host_device");
        auto length = (*node)->length();
        ASSERT_TRUE(length);
        EXPECT_EQ(*length, 0);
        auto allocated = (*node)->allocated_file_size();
        ASSERT_TRUE(allocated);
        EXPECT_EQ(*allocated, 0);
    }
    EXPECT_EQ(open_fd_count(), before);
}

TEST_F(BlockTest, HostDeviceRefusesRegularFiles)
{
    std::string img = make_image("plain.img", 512);
    auto node = graph().open(std::nullopt, hdev_options(img), ro());
    ASSERT_FALSE(node);
    EXPECT_EQ(node.error().desc, "'host_device' driver requires '" + img + "' to be either a character or block device");
    // And the file driver refuses devices.
    auto file = graph().open(std::nullopt, {{"driver", "file"}, {"filename", "/dev/null"}}, ro());
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().desc, "'file' driver requires '/dev/null' to be a regular file");
}

TEST_F(BlockTest, HostDeviceCreateOnlyChecksTheDevice)
{
    EXPECT_TRUE(kHostDeviceDriver.create(graph().context(), CreateOptions{.filename = "/dev/null", .size = 0}));
    auto grow = kHostDeviceDriver.create(graph().context(), CreateOptions{.filename = "/dev/null", .size = 512});
    ASSERT_FALSE(grow);
    EXPECT_EQ(grow.error().desc, "Cannot grow device files");
    auto prealloc = kHostDeviceDriver.create(
        graph().context(), CreateOptions{.filename = "/dev/null", .opts = {{"preallocation", "full"}}});
    ASSERT_FALSE(prealloc);
    EXPECT_EQ(prealloc.error().desc, "Unsupported preallocation mode 'full'");
    auto missing = kHostDeviceDriver.create(graph().context(), CreateOptions{.filename = path("none")});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc,
        "Protocol driver 'host_device' does not support image creation, and opening the image failed: Could not "
        "open '" +
            path("none") + "': No such file or directory");
}

TEST_F(BlockTest, LoopDeviceReadsWritesDiscardsAndKeepsItsSize)
{
    std::string backing = make_image("loop.img", std::vector<uint8_t>(1 << 20, 0x11));
    LoopDevice loop(backing);
    if (loop.name().empty()) {
        GTEST_SKIP() << "no loop device available here";
    }
    int before = open_fd_count();
    {
        OpenFlags flags = rw();
        flags.unmap = true;
        auto node = graph().open(loop.name(), {{"driver", "raw"}}, flags);
        ASSERT_TRUE(node) << node.error().desc;
        EXPECT_EQ((*node)->file()->driver().format_name, "host_device");
        ASSERT_EQ((*node)->length().value_or(-1), 1 << 20);
        std::vector<uint8_t> data(8192, 0x5a);
        ASSERT_TRUE((*node)->pwrite(4096, data));
        ASSERT_TRUE((*node)->pwrite_zeroes(65536, 4096));
        ASSERT_TRUE((*node)->discard(131072, 65536));
        ASSERT_TRUE((*node)->flush());
        std::vector<uint8_t> back(8192);
        ASSERT_TRUE((*node)->pread(4096, back));
        EXPECT_EQ(back, data);
        std::vector<uint8_t> zeroes(4096);
        ASSERT_TRUE((*node)->pread(65536, zeroes));
        EXPECT_EQ(zeroes, std::vector<uint8_t>(4096, 0));
        // Everything is data on a device: no SEEK_HOLE answers for it.
        auto status = (*node)->block_status(true, 0, 1 << 20);
        ASSERT_TRUE(status);
        EXPECT_TRUE(status->flags & status::kData);
        EXPECT_EQ(status->bytes, 1 << 20);
        auto grow = (*node)->truncate(2 << 20);
        ASSERT_FALSE(grow);
        EXPECT_EQ(grow.error().desc, "Cannot resize device files");
        EXPECT_TRUE((*node)->truncate(1 << 20));
    }
    EXPECT_EQ(open_fd_count(), before);
    // The writes went to the device, so into the backing file.
    std::vector<uint8_t> file(1 << 20);
    qemu::UniqueFd fd(::open(backing.c_str(), O_RDONLY));
    ASSERT_EQ(::pread(fd.get(), file.data(), file.size(), 0), static_cast<ssize_t>(file.size()));
    EXPECT_EQ(file[4096], 0x5a);
    EXPECT_EQ(file[65536], 0);
    EXPECT_EQ(file[0], 0x11);
}

// host_cdrom: a host_device opened with O_NONBLOCK, with QEMU's texts for what is not a
// device: a regular file, a directory opened read-only (it opens, then fails the check),
// and a directory opened read-write (the open itself fails).
TEST_F(BlockTest, HostCdromRefusesWhatIsNotADeviceWithQemusTexts)
{
    std::string file = make_image("img.raw", 4096);
    auto regular = graph().open(std::nullopt, {{"driver", "host_cdrom"}, {"filename", file}}, ro());
    ASSERT_FALSE(regular);
    EXPECT_EQ(
        regular.error().desc, "'host_cdrom' driver requires '" + file + "' to be either a character or block device");

    auto dir_ro = graph().open(std::nullopt, {{"driver", "host_cdrom"}, {"filename", m_dir}}, ro());
    ASSERT_FALSE(dir_ro);
    EXPECT_EQ(
        dir_ro.error().desc, "'host_cdrom' driver requires '" + m_dir + "' to be either a character or block device");
    auto dir_rw = graph().open(std::nullopt, {{"driver", "host_cdrom"}, {"filename", m_dir}}, rw());
    ASSERT_FALSE(dir_rw);
    EXPECT_EQ(dir_rw.error().desc, "Could not open '" + m_dir + "': Is a directory");

    auto hdev_dir = graph().open(std::nullopt, hdev_options(m_dir), ro());
    ASSERT_FALSE(hdev_dir);
    EXPECT_EQ(hdev_dir.error().desc,
        "'host_device' driver requires '" + m_dir + "' to be either a character or block device");
}

TEST_F(BlockTest, HostCdromOpensACharacterDeviceNonBlockingAndIsNeverProbed)
{
    int before = open_fd_count();
    {
        auto node = graph().open(std::nullopt, {{"driver", "host_cdrom"}, {"filename", "/dev/null"}}, ro());
        ASSERT_TRUE(node) << node.error().desc;
        EXPECT_EQ(&(*node)->driver(), &kHostCdromDriver);
        EXPECT_TRUE(file_posix::state_of(**node).open_flags & O_NONBLOCK);
        EXPECT_EQ((*node)->length().value_or(-1), 0);
    }
    EXPECT_EQ(open_fd_count(), before);
    EXPECT_EQ(protocol_for_filename("host_cdrom:/dev/null"), &kHostCdromDriver);
    EXPECT_EQ(protocol_for_filename("/dev/null"), &kHostDeviceDriver);
}
