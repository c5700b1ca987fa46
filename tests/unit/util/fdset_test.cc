// The fd-set registry and qemu_open()/qemu_close() over /dev/fdset/N, with QEMU 9.1's rules.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "util/fdset.h"
#include "util/osdep.h"

using qemu::FdSetRegistry;
using qemu::OpenContext;
using qemu::qemu_open;
using qemu::UniqueFd;

namespace {

int open_fd_count()
{
    int count = 0;
    DIR* dir = opendir("/proc/self/fd");
    while (dirent* entry = readdir(dir)) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

class FdSetTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_baseline = open_fd_count();
        char dir_template[] = "/tmp/fdset-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        m_dir = dir_template;
    }
    void TearDown() override
    {
        std::string cmd = "rm -rf " + m_dir;
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        // Every member and duplicate is closed once the registry is gone.
        m_registry.reset();
        EXPECT_EQ(open_fd_count(), m_baseline);
    }

    std::string path(const std::string& name) const { return m_dir + "/" + name; }

    UniqueFd open_file(const std::string& name, int flags, const std::string& content = "data")
    {
        std::string p = path(name);
        if (access(p.c_str(), F_OK) != 0) {
            UniqueFd create(::open(p.c_str(), O_WRONLY | O_CREAT, 0600));
            EXPECT_EQ(write(create.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
        }
        UniqueFd fd(::open(p.c_str(), flags));
        EXPECT_TRUE(fd.valid());
        return fd;
    }

    static ino_t inode_of(int fd)
    {
        struct stat st {};
        fstat(fd, &st);
        return st.st_ino;
    }

    FdSetRegistry& registry() { return *m_registry; }
    OpenContext context() { return OpenContext{m_registry.get()}; }

    std::unique_ptr<FdSetRegistry> m_registry = std::make_unique<FdSetRegistry>();
    std::string m_dir;
    int m_baseline = 0;
};

}  // namespace

TEST_F(FdSetTest, AutoIdsFillTheLowestGap)
{
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 0);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 1);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 2);
    ASSERT_TRUE(registry().remove(1, std::nullopt));
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 1);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 3);
}

TEST_F(FdSetTest, AutoIdStartsAtZeroWhenOnlyHigherSetsExist)
{
    EXPECT_EQ(registry().add(5, open_file("a", O_RDONLY), std::nullopt), 5);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 0);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDONLY), std::nullopt), 1);
}

TEST_F(FdSetTest, NegativeIdIsRefusedAndTheFdClosed)
{
    int before = open_fd_count();
    auto result = registry().add(-1, open_file("a", O_RDONLY), std::nullopt);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().desc, "Parameter 'fdset-id' expects a non-negative value");
    EXPECT_EQ(open_fd_count(), before);
    EXPECT_EQ(registry().set_count(), 0u);
}

TEST_F(FdSetTest, QueryListsSetsDescendingAndMembersOldestFirst)
{
    UniqueFd a = open_file("a", O_RDONLY);
    UniqueFd b = open_file("b", O_RDWR);
    int a_num = a.get();
    int b_num = b.get();
    ASSERT_TRUE(registry().add(0, open_file("c", O_RDONLY), std::nullopt));
    ASSERT_TRUE(registry().add(2, std::move(a), "rdonly:/a,b"));
    ASSERT_TRUE(registry().add(2, std::move(b), std::nullopt));
    ASSERT_TRUE(registry().add(1, open_file("c", O_RDONLY), ""));
    auto sets = registry().query();
    ASSERT_EQ(sets.size(), 3u);
    EXPECT_EQ(sets[0].id, 2);
    EXPECT_EQ(sets[1].id, 1);
    EXPECT_EQ(sets[2].id, 0);
    ASSERT_EQ(sets[0].fds.size(), 2u);
    EXPECT_EQ(sets[0].fds[0].fd, a_num);
    EXPECT_EQ(sets[0].fds[0].opaque, "rdonly:/a,b");
    EXPECT_EQ(sets[0].fds[1].fd, b_num);
    EXPECT_FALSE(sets[0].fds[1].opaque.has_value());
    EXPECT_EQ(sets[1].fds[0].opaque, "");
}

TEST_F(FdSetTest, RemoveErrorsNameTheSetAndFd)
{
    auto missing_set = registry().remove(9, std::nullopt);
    ASSERT_FALSE(missing_set);
    EXPECT_EQ(missing_set.error().desc, "File descriptor named 'fdset-id:9' not found");
    auto missing_set_fd = registry().remove(9, 5);
    ASSERT_FALSE(missing_set_fd);
    EXPECT_EQ(missing_set_fd.error().desc, "File descriptor named 'fdset-id:9, fd:5' not found");
    ASSERT_TRUE(registry().add(2, open_file("a", O_RDONLY), std::nullopt));
    auto missing_fd = registry().remove(2, 999);
    ASSERT_FALSE(missing_fd);
    EXPECT_EQ(missing_fd.error().desc, "File descriptor named 'fdset-id:2, fd:999' not found");
    EXPECT_EQ(registry().query()[0].fds.size(), 1u);
}

TEST_F(FdSetTest, RemoveClosesAMemberAtOnce)
{
    UniqueFd a = open_file("a", O_RDONLY);
    int a_num = a.get();
    ASSERT_TRUE(registry().add(2, std::move(a), std::nullopt));
    ASSERT_TRUE(registry().add(2, open_file("b", O_RDONLY), std::nullopt));
    ASSERT_TRUE(registry().remove(2, a_num));
    EXPECT_EQ(fcntl(a_num, F_GETFD), -1);
    EXPECT_EQ(registry().query()[0].fds.size(), 1u);
    ASSERT_TRUE(registry().remove(2, std::nullopt));
    EXPECT_EQ(registry().set_count(), 0u);
}

TEST_F(FdSetTest, BadNamesAreParseErrors)
{
    for (std::string name : {"/dev/fdset/", "/dev/fdset/x", "/dev/fdset/1x", "/dev/fdset/-1", "/dev/fdset/0x1",
                             "/dev/fdset/2147483648", "/dev/fdset/99999999999999999999"}) {
        auto result = qemu_open(context(), name, O_RDONLY);
        ASSERT_FALSE(result) << name;
        EXPECT_EQ(result.error().errno_value, EINVAL) << name;
        EXPECT_EQ(result.error().desc, "Could not parse fdset " + name);
    }
}

TEST_F(FdSetTest, MissingSetIsENOENT)
{
    auto result = qemu_open(context(), "/dev/fdset/42", O_RDONLY);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().errno_value, ENOENT);
    EXPECT_EQ(result.error().desc, "Failed to find fdset /dev/fdset/42");
}

TEST_F(FdSetTest, AccessModeSelectsTheMember)
{
    UniqueFd ro = open_file("ro", O_RDONLY);
    UniqueFd rw = open_file("rw", O_RDWR);
    ino_t ro_inode = inode_of(ro.get());
    ino_t rw_inode = inode_of(rw.get());
    ASSERT_TRUE(registry().add(1, std::move(ro), std::nullopt));
    ASSERT_TRUE(registry().add(1, std::move(rw), std::nullopt));

    auto opened_rw = qemu_open(context(), "/dev/fdset/1", O_RDWR);
    ASSERT_TRUE(opened_rw);
    EXPECT_EQ(inode_of(opened_rw->get()), rw_inode);
    EXPECT_EQ(fcntl(opened_rw->get(), F_GETFL) & O_ACCMODE, O_RDWR);

    auto opened_ro = qemu_open(context(), "/dev/fdset/1", O_RDONLY);
    ASSERT_TRUE(opened_ro);
    EXPECT_EQ(inode_of(opened_ro->get()), ro_inode);

    auto opened_wo = qemu_open(context(), "/dev/fdset/1", O_WRONLY);
    ASSERT_FALSE(opened_wo);
    EXPECT_EQ(opened_wo.error().errno_value, EACCES);
    EXPECT_EQ(opened_wo.error().desc, "Failed to find file descriptor with matching flags=0x1");
}

TEST_F(FdSetTest, NewestMatchingMemberIsDuplicated)
{
    UniqueFd first = open_file("first", O_RDWR);
    UniqueFd second = open_file("second", O_RDWR);
    ino_t second_inode = inode_of(second.get());
    ASSERT_TRUE(registry().add(1, std::move(first), std::nullopt));
    ASSERT_TRUE(registry().add(1, std::move(second), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/1", O_RDWR);
    ASSERT_TRUE(opened);
    EXPECT_EQ(inode_of(opened->get()), second_inode);
}

TEST_F(FdSetTest, DuplicateIsCloseOnExecAndTheMemberIsNot)
{
    UniqueFd member = open_file("a", O_RDWR);
    int member_num = member.get();
    ASSERT_TRUE(registry().add(1, std::move(member), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/1", O_RDWR);
    ASSERT_TRUE(opened);
    EXPECT_TRUE(fcntl(opened->get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_FALSE(fcntl(member_num, F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(opened->from_fdset());
}

TEST_F(FdSetTest, StatusFlagsAreSharedWithTheMember)
{
    UniqueFd member = open_file("a", O_RDWR);
    int member_num = member.get();
    ASSERT_TRUE(registry().add(1, std::move(member), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/1", O_RDWR | O_NONBLOCK);
    ASSERT_TRUE(opened);
    EXPECT_TRUE(fcntl(member_num, F_GETFL) & O_NONBLOCK);
}

TEST_F(FdSetTest, SyncMismatchIsEINVAL)
{
    ASSERT_TRUE(registry().add(1, open_file("a", O_RDWR), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/1", O_RDWR | O_SYNC);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, EINVAL);
    EXPECT_EQ(opened.error().desc.rfind("Failed to dup() given file descriptor fd=", 0), 0u);
    ASSERT_TRUE(registry().add(2, open_file("b", O_RDWR | O_SYNC), std::nullopt));
    EXPECT_TRUE(qemu_open(context(), "/dev/fdset/2", O_RDWR | O_SYNC));
}

TEST_F(FdSetTest, TruncationFollowsTheFlags)
{
    struct Case {
        int extra;
        bool truncates;
    };
    for (Case c : {Case{O_TRUNC, true}, Case{O_CREAT | O_EXCL, true}, Case{O_CREAT, false}, Case{O_EXCL, false}, Case{0, false}}) {
        std::string name = "t" + std::to_string(c.extra);
        UniqueFd member = open_file(name, O_RDWR, "0123456789");
        int64_t id = *registry().add(std::nullopt, std::move(member), std::nullopt);
        auto opened = qemu_open(context(), "/dev/fdset/" + std::to_string(id), O_RDWR | c.extra);
        ASSERT_TRUE(opened) << c.extra;
        struct stat st {};
        stat(path(name).c_str(), &st);
        EXPECT_EQ(st.st_size, c.truncates ? 0 : 10) << c.extra;
    }
}

TEST_F(FdSetTest, DirectMustMatch)
{
    UniqueFd direct(::open(path("d").c_str(), O_RDWR | O_CREAT | O_DIRECT, 0600));
    if (!direct) {
        GTEST_SKIP() << "this filesystem has no O_DIRECT";
    }
    ASSERT_TRUE(registry().add(1, open_file("d", O_RDWR), std::nullopt));
    auto refused = qemu_open(context(), "/dev/fdset/1", O_RDWR | O_DIRECT);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().errno_value, EACCES);
    ASSERT_TRUE(registry().add(1, std::move(direct), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/1", O_RDWR | O_DIRECT);
    ASSERT_TRUE(opened);
    EXPECT_TRUE(fcntl(opened->get(), F_GETFL) & O_DIRECT);
    auto plain = qemu_open(context(), "/dev/fdset/1", O_RDWR);
    ASSERT_TRUE(plain);
    EXPECT_FALSE(fcntl(plain->get(), F_GETFL) & O_DIRECT);
}

TEST_F(FdSetTest, SetWithOnlyADuplicateStaysUntilTheDuplicateIsClosed)
{
    ASSERT_TRUE(registry().add(3, open_file("a", O_RDWR), std::nullopt));
    auto opened = qemu_open(context(), "/dev/fdset/3", O_RDWR);
    ASSERT_TRUE(opened);
    ASSERT_TRUE(registry().remove(3, std::nullopt));
    auto sets = registry().query();
    ASSERT_EQ(sets.size(), 1u);
    EXPECT_EQ(sets[0].id, 3);
    EXPECT_TRUE(sets[0].fds.empty());
    // The duplicate still works after its member went away.
    EXPECT_EQ(pwrite(opened->get(), "x", 1, 0), 1);
    // A duplicate number is not a member.
    auto not_member = registry().remove(3, opened->get());
    EXPECT_FALSE(not_member);
    opened->close();
    EXPECT_EQ(registry().set_count(), 0u);
    EXPECT_EQ(registry().add(std::nullopt, open_file("a", O_RDWR), std::nullopt), 0);
}

TEST_F(FdSetTest, LargeIdsCanBeAddedButNotOpened)
{
    ASSERT_TRUE(registry().add(INT64_MAX, open_file("a", O_RDONLY), std::nullopt));
    EXPECT_EQ(registry().query()[0].id, INT64_MAX);
    auto opened = qemu_open(context(), "/dev/fdset/9223372036854775807", O_RDONLY);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, EINVAL);
}

TEST_F(FdSetTest, ReleasingAnFdThatIsNoDuplicateLeavesSetsAlone)
{
    ASSERT_TRUE(registry().add(1, open_file("a", O_RDONLY), std::nullopt));
    EXPECT_FALSE(registry().release_dup(open_file("b", O_RDONLY)));
    EXPECT_EQ(registry().query()[0].fds.size(), 1u);
}

TEST_F(FdSetTest, PlainPathsOpenCloseOnExec)
{
    auto opened = qemu_open(context(), path("plain"), O_RDWR | O_CREAT, 0600);
    ASSERT_TRUE(opened);
    EXPECT_TRUE(fcntl(opened->get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_FALSE(opened->from_fdset());
    auto missing = qemu_open(context(), path("missing"), O_RDONLY);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_EQ(missing.error().desc, "Could not open '" + path("missing") + "': No such file or directory");
}

TEST_F(FdSetTest, UnlinkOfAnFdSetNameTouchesNothing)
{
    EXPECT_EQ(qemu::qemu_unlink("/dev/fdset/1"), 0);
}

TEST_F(FdSetTest, ToolsWithoutRegistryCannotOpenFdSets)
{
    auto opened = qemu_open(OpenContext{}, "/dev/fdset/1", O_RDONLY);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, ENOSYS);
}

TEST_F(FdSetTest, ThousandsOfSetsStayFast)
{
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_max < 10100) {
        GTEST_SKIP() << "the hard fd limit is below 10100";
    }
    limit.rlim_cur = std::max<rlim_t>(limit.rlim_cur, 10100);
    setrlimit(RLIMIT_NOFILE, &limit);
    UniqueFd source = open_file("a", O_RDWR);
    for (int i = 0; i < 10000; i++) {
        ASSERT_TRUE(registry().add(i, UniqueFd(fcntl(source.get(), F_DUPFD_CLOEXEC, 0)), std::nullopt));
    }
    for (int i = 0; i < 10000; i += 997) {
        auto opened = qemu_open(context(), "/dev/fdset/" + std::to_string(i), O_RDWR);
        ASSERT_TRUE(opened);
    }
    EXPECT_EQ(registry().set_count(), 10000u);
}
