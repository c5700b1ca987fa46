// Shared fixture for the block-layer tests: a scratch directory, image files with known
// content, and a graph whose warnings are captured instead of printed.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "util/fdset.h"

namespace block_test {

inline int open_fd_count()
{
    int count = 0;
    DIR* dir = opendir("/proc/self/fd");
    while (dirent* entry = readdir(dir)) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

class BlockTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        // /var/tmp rather than /tmp: it is disk-backed on more systems, so O_DIRECT works.
        char dir_template[] = "/var/tmp/block-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        m_dir = dir_template;
        m_graph = std::make_unique<qemu::block::BlockGraph>(qemu::OpenContext{m_registry.get()});
        m_graph->set_warning_sink([this](const std::string& text) { m_warnings.push_back(text); });
    }
    void TearDown() override
    {
        m_graph.reset();
        std::string cmd = "rm -rf " + m_dir;
        ASSERT_EQ(std::system(cmd.c_str()), 0);
    }

    std::string path(const std::string& name) const { return m_dir + "/" + name; }

    // Writes content to a new file and returns its path.
    std::string make_image(const std::string& name, const std::vector<uint8_t>& content)
    {
        std::string p = path(name);
        qemu::UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
        EXPECT_TRUE(fd.valid());
        EXPECT_EQ(::write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
        return p;
    }

    std::string make_image(const std::string& name, size_t size, uint8_t fill = 0)
    {
        return make_image(name, std::vector<uint8_t>(size, fill));
    }

    std::vector<uint8_t> file_bytes(const std::string& p)
    {
        std::vector<uint8_t> out;
        qemu::UniqueFd fd(::open(p.c_str(), O_RDONLY));
        uint8_t buf[65536];
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
            out.insert(out.end(), buf, buf + n);
        }
        return out;
    }

    qemu::block::BlockGraph& graph() { return *m_graph; }

    std::unique_ptr<qemu::FdSetRegistry> m_registry = std::make_unique<qemu::FdSetRegistry>();
    std::unique_ptr<qemu::block::BlockGraph> m_graph;
    std::vector<std::string> m_warnings;
    std::string m_dir;
};

inline qemu::block::OpenFlags rw()
{
    return qemu::block::OpenFlags{.read_write = true};
}

inline qemu::block::OpenFlags ro()
{
    return qemu::block::OpenFlags{};
}

}  // namespace block_test
