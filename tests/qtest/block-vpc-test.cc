// VHD images in the emulator: blockdev-add of a vpc node over a file child on /dev/fdset/N
// (the fd passed with add-fd), -drive format=vpc, and HMP qemu-io writes that allocate
// blocks, checked afterwards in the file itself (BAT entry, moved footer) and by reading it
// back through the block layer.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "block/block-backend.h"
#include "block/drivers.h"
#include "tests/qtest/libqtest.h"
#include "util/bswap.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kArgs = "-nodefaults -machine none";
constexpr int64_t MiB = 1024 * 1024;

class VpcImage {
public:
    explicit VpcImage(uint64_t size)
    {
        static int counter = 0;
        m_path = std::string(g_get_tmp_dir()) + "/block-vpc-test-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++) + ".vhd";
        auto created = qemu::block::kVpcDriver.create({}, {.filename = m_path, .size = size});
        EXPECT_TRUE(created) << created.error().desc;
    }
    ~VpcImage() { ::unlink(m_path.c_str()); }
    VpcImage(const VpcImage&) = delete;
    VpcImage& operator=(const VpcImage&) = delete;

    const std::string& path() const { return m_path; }
    qemu::UniqueFd open(int flags) const { return qemu::UniqueFd(::open(m_path.c_str(), flags | O_CLOEXEC)); }

    std::vector<uint8_t> bytes() const
    {
        std::vector<uint8_t> out;
        qemu::UniqueFd fd = open(O_RDONLY);
        uint8_t buf[65536];
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
            out.insert(out.end(), buf, buf + n);
        }
        return out;
    }

    // Reads guest bytes through our block layer, as a second opinion on what was written.
    std::vector<uint8_t> guest_read(int64_t offset, size_t length) const
    {
        qemu::block::BlockGraph graph;
        auto blk = qemu::block::BlockBackend::open(graph, m_path, {{"driver", "vpc"}}, {});
        EXPECT_TRUE(blk) << blk.error().desc;
        std::vector<uint8_t> out(length);
        if (blk) {
            EXPECT_TRUE((*blk)->pread(offset, out));
        }
        return out;
    }

private:
    std::string m_path;
};

TEST(BlockVpc, BlockdevAddOverFdsetAllocatesBlocksThroughQemuIo)
{
    VpcImage image(64 * MiB);
    auto qts = QTestState::init(kArgs);
    qemu::UniqueFd rw = image.open(O_RDWR);
    int fd = rw.get();
    JsonValue added = qts->qmp_fds(std::span<const int>(&fd, 1), "{'execute': 'add-fd', 'arguments': {'fdset-id': 1}}");
    ASSERT_TRUE(added.contains("return")) << qemu::json_to_string(added);
    qts->qmp_assert_success("{'execute': 'blockdev-add', 'arguments': {'driver': 'vpc', 'node-name': 'v0', "
                            "'file': {'driver': 'file', 'filename': '/dev/fdset/1'}}}");
    JsonValue nodes = qts->qmp_assert_success("{'execute': 'query-named-block-nodes'}");
    bool found = false;
    for (const JsonValue& node : nodes) {
        if (node["node-name"] == "v0") {
            found = true;
            EXPECT_EQ(node["drv"], "vpc");
            EXPECT_EQ(node["image"]["virtual-size"], 67125248);
            EXPECT_EQ(node["image"]["cluster-size"], 2 * MiB);
        }
    }
    EXPECT_TRUE(found) << qemu::json_to_string(nodes);
    EXPECT_EQ(qts->hmp("qemu-io v0 \"write -P 0x42 2M 4k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io v0 \"write -P 0x43 0 512\""), "");
    EXPECT_EQ(qts->hmp("qemu-io v0 \"read -P 0x42 2M 4k\""), "");
    qts->qmp_assert_success("{'execute': 'blockdev-del', 'arguments': {'node-name': 'v0'}}");
    qts.reset();

    auto bytes = image.bytes();
    ASSERT_EQ(bytes.size(), 2560u + 2 * (512 + 2 * MiB));
    EXPECT_EQ(qemu::load_be32(bytes, 1536 + 4), 0x4u);
    EXPECT_EQ(qemu::load_be32(bytes, 1536), 0x1005u);
    EXPECT_EQ(
        std::vector<uint8_t>(bytes.end() - 512, bytes.end()), std::vector<uint8_t>(bytes.begin(), bytes.begin() + 512));
    EXPECT_EQ(image.guest_read(2 * MiB, 4096), std::vector<uint8_t>(4096, 0x42));
    EXPECT_EQ(image.guest_read(0, 512), std::vector<uint8_t>(512, 0x43));
}

TEST(BlockVpc, DriveWithFormatVpcReadsAndWrites)
{
    VpcImage image(8 * MiB);
    auto qts = QTestState::init(std::string(kArgs) + " -drive if=none,id=drive0,format=vpc,file=" + image.path());
    JsonValue block = qts->qmp_assert_success("{'execute': 'query-block'}");
    ASSERT_EQ(block.size(), 1u);
    EXPECT_EQ(block[0]["inserted"]["drv"], "vpc");
    EXPECT_EQ(block[0]["inserted"]["image"]["format"], "vpc");
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"write -P 0x5a 4M 64k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"read -P 0x5a 4M 64k\""), "");
    EXPECT_EQ(qts->hmp("qemu-io drive0 \"read -P 0 0 64k\""), "");
    qts.reset();
    EXPECT_EQ(image.guest_read(4 * MiB, 65536), std::vector<uint8_t>(65536, 0x5a));
}

}  // namespace
