// util/batch-read: a batch reads exactly what one open_beneath and pread per file read,
// including files that end early, names it must refuse and a FIFO in a file's place, leaks
// no descriptor, and stays under the kernel's fs=deny seal (Landlock and the seccomp
// fallback) even for a ring set up before sealing.
#include "util/batch-read.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/util/run_in_child.h"
#include "util/sandbox.h"

namespace {

using qemu::BatchReader;
using qemu::BeneathRead;

class TempTree {
public:
    TempTree()
    {
        char dir_template[] = "/tmp/batch-read-test-XXXXXX";
        EXPECT_NE(mkdtemp(dir_template), nullptr);
        m_path = dir_template;
        EXPECT_EQ(mkdir((m_path + "/root").c_str(), 0700), 0);
        EXPECT_EQ(mkdir((m_path + "/root/sub").c_str(), 0700), 0);
        m_root = open((m_path + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        EXPECT_GE(m_root, 0);
    }
    ~TempTree()
    {
        close(m_root);
        std::string cleanup = "rm -rf '" + m_path + "'";
        EXPECT_EQ(std::system(cleanup.c_str()), 0);
    }
    void write(const std::string& relative, const std::string& content) const
    {
        int fd = open((m_path + "/" + relative).c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
        close(fd);
    }
    const std::string& path() const { return m_path; }
    int root() const { return m_root; }

private:
    std::string m_path;
    int m_root = -1;
};

// File i: i * 37 bytes of a pattern that differs per file.
std::string content_of(size_t i)
{
    std::string s(i * 37, '\0');
    for (size_t k = 0; k < s.size(); ++k) {
        s[k] = static_cast<char>('a' + (i + k) % 26);
    }
    return s;
}

size_t open_fd_count()
{
    size_t n = 0;
    DIR* dir = opendir("/proc/self/fd");
    while (dirent* e = readdir(dir)) {
        n += e->d_name[0] != '.';
    }
    closedir(dir);
    return n;
}

using util_test::run_in_child;

struct Request {
    std::string relative;
    uint64_t offset;
    size_t length;
};

// Reads every request in one batch, and again one at a time the plain way.
void read_both_ways(BatchReader& reader, int dir, const std::vector<Request>& requests,
    std::vector<BeneathRead>& batch, std::vector<BeneathRead>& plain, std::vector<std::string>& batch_bytes,
    std::vector<std::string>& plain_bytes)
{
    batch_bytes.assign(requests.size(), std::string());
    plain_bytes.assign(requests.size(), std::string());
    batch.clear();
    plain.clear();
    for (size_t i = 0; i < requests.size(); ++i) {
        batch_bytes[i].assign(requests[i].length, '\xee');
        plain_bytes[i].assign(requests[i].length, '\xee');
        auto span_of = [](std::string& s) { return std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()); };
        batch.push_back({.relative = requests[i].relative, .offset = requests[i].offset, .out = span_of(batch_bytes[i])});
        plain.push_back({.relative = requests[i].relative, .offset = requests[i].offset, .out = span_of(plain_bytes[i])});
    }
    reader.read(dir, batch, O_RDONLY | O_NONBLOCK);
    for (BeneathRead& r : plain) {
        qemu::read_beneath_plain(dir, r, O_RDONLY | O_NONBLOCK);
    }
}

TEST(BatchReader, ReadsWhatPlainReadsGiveForManyFilesAndLeaksNothing)
{
    TempTree tree;
    std::vector<Request> requests;
    // More files than one submission holds, in two directories.
    for (size_t i = 0; i < 150; ++i) {
        std::string name = (i % 3 == 0 ? "sub/file" : "file") + std::to_string(i);
        tree.write("root/" + name, content_of(i));
        // Whole files, ranges from the middle, and ranges reaching past the end.
        uint64_t offset = i % 4 == 1 ? i * 5 : 0;
        size_t length = i % 4 == 2 ? i * 37 + 100 : i * 37 - std::min<size_t>(offset, i * 37);
        requests.push_back({name, offset, length});
    }
    ASSERT_EQ(mkfifo((tree.path() + "/root/fifo").c_str(), 0600), 0);
    tree.write("outside", "secret");
    ASSERT_EQ(symlink("../outside", (tree.path() + "/root/escape").c_str()), 0);
    ASSERT_EQ(symlink("file1", (tree.path() + "/root/inner-link").c_str()), 0);
    size_t first_refused = requests.size();
    for (const char* name : {"missing", "../outside", "/etc/hostname", "escape", "", "sub/../file1"}) {
        requests.push_back({name, 0, 6});
    }
    requests.push_back({"fifo", 0, 16});  // opened without blocking, reads nothing
    requests.push_back({"inner-link", 0, 37});  // a symlink that stays inside is followed
    requests.push_back({"file2", 0, 0});

    BatchReader reader;
    size_t fds_before = open_fd_count();
    std::vector<BeneathRead> batch;
    std::vector<BeneathRead> plain;
    std::vector<std::string> batch_bytes;
    std::vector<std::string> plain_bytes;
    read_both_ways(reader, tree.root(), requests, batch, plain, batch_bytes, plain_bytes);
    EXPECT_EQ(open_fd_count(), fds_before);

    for (size_t i = 0; i < requests.size(); ++i) {
        SCOPED_TRACE(requests[i].relative);
        EXPECT_EQ(batch[i].result, plain[i].result);
        EXPECT_EQ(batch_bytes[i], plain_bytes[i]);
    }
    for (size_t i = 0; i < 150; ++i) {
        std::string expected = content_of(i).substr(std::min<size_t>(requests[i].offset, i * 37), requests[i].length);
        ASSERT_EQ(batch[i].result, static_cast<ssize_t>(expected.size()));
        EXPECT_EQ(batch_bytes[i].substr(0, expected.size()), expected);
    }
    for (size_t i = first_refused; i < first_refused + 6; ++i) {
        EXPECT_EQ(batch[i].result, -1) << requests[i].relative;
        EXPECT_EQ(batch_bytes[i], std::string(6, '\xee'));
    }
    EXPECT_LE(batch[first_refused + 6].result, 0);
    EXPECT_EQ(batch_bytes[first_refused + 7], content_of(1));
    EXPECT_EQ(batch[first_refused + 8].result, 0);
}

TEST(BatchReader, UsesIoUringWhereTheKernelOffersIt)
{
    // The point of the batch is the ring; this kernel (and CI's) has io_uring, so falling
    // back here would be a regression, not an environment quirk. Only a kernel switched
    // off by sysctl is excused.
    int disabled = 0;
    if (FILE* f = fopen("/proc/sys/kernel/io_uring_disabled", "re")) {
        if (fscanf(f, "%d", &disabled) != 1) {
            disabled = 0;
        }
        fclose(f);
    }
    if (disabled == 2) {
        GTEST_SKIP() << "io_uring is disabled on this host";
    }
    TempTree tree;
    tree.write("root/a", "alpha");
    tree.write("root/b", "beta");
    BatchReader reader;
    ASSERT_TRUE(reader.batching());
    std::string a(5, '\0');
    std::string b(4, '\0');
    std::vector<BeneathRead> reads = {
        {.relative = "a", .offset = 0, .out = {reinterpret_cast<uint8_t*>(a.data()), a.size()}},
        {.relative = "b", .offset = 0, .out = {reinterpret_cast<uint8_t*>(b.data()), b.size()}},
    };
    reader.read(tree.root(), reads, O_RDONLY);
    EXPECT_TRUE(reader.batching());
    EXPECT_EQ(a, "alpha");
    EXPECT_EQ(b, "beta");
}

TEST(BatchReader, SeccompSealRefusesARingMadeBeforeIt)
{
    TempTree tree;
    tree.write("root/a", "alpha");
    tree.write("root/b", "beta");
    EXPECT_EQ(run_in_child([&] {
        BatchReader reader;  // the ring exists before the seal
        if (!qemu::seal_filesystem_with_seccomp()) {
            return 1;
        }
        std::string a(5, '\0');
        std::string b(4, '\0');
        std::vector<BeneathRead> reads = {
            {.relative = "a", .offset = 0, .out = {reinterpret_cast<uint8_t*>(a.data()), a.size()}},
            {.relative = "b", .offset = 0, .out = {reinterpret_cast<uint8_t*>(b.data()), b.size()}},
        };
        reader.read(tree.root(), reads, O_RDONLY);
        // Neither the ring nor openat2 got through: the filter refuses both.
        if (reads[0].result != -1 || reads[1].result != -1 || a != std::string(5, '\0')) {
            return 2;
        }
        return reader.batching() ? 3 : 0;
    }),
        0);
}

TEST(BatchReader, LandlockSealConfinesTheRingToAllowedDirectories)
{
    if (syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */) < 1) {
        GTEST_SKIP() << "no Landlock in this kernel";
    }
    TempTree tree;
    tree.write("root/a", "alpha");
    ASSERT_EQ(mkdir((tree.path() + "/other").c_str(), 0700), 0);
    tree.write("other/b", "beta");
    EXPECT_EQ(run_in_child([&] {
        BatchReader reader;
        int other = open((tree.path() + "/other").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int root = tree.root();
        if (other < 0 || !qemu::seal_filesystem(std::span<const int>(&root, 1))) {
            return 1;
        }
        std::string a(5, '\0');
        std::string b(4, '\0');
        std::vector<BeneathRead> allowed = {
            {.relative = "a", .offset = 0, .out = {reinterpret_cast<uint8_t*>(a.data()), a.size()}},
            {.relative = "a", .offset = 1, .out = {reinterpret_cast<uint8_t*>(b.data()), b.size()}},
        };
        reader.read(root, allowed, O_RDONLY);
        if (a != "alpha" || b != "lpha") {
            return 2;
        }
        std::vector<BeneathRead> refused = {
            {.relative = "b", .offset = 0, .out = {reinterpret_cast<uint8_t*>(b.data()), b.size()}},
            {.relative = "b", .offset = 1, .out = {reinterpret_cast<uint8_t*>(a.data()), 3}},
        };
        reader.read(other, refused, O_RDONLY);
        if (refused[0].result != -1 || refused[1].result != -1 || b != "lpha") {
            return 3;
        }
        return reader.batching() ? 0 : 4;
    }),
        0);
}

}  // namespace
