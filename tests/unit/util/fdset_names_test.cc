// Our fd-set extensions: /dev/fdset/N/NAME picking a member by its opaque, names opened
// beneath a directory member (and qemu_open_beneath for the block layer) that cannot leave
// it, how what they lend keeps a set alive, and qemu_path_combine over fd-set names.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "util/fdset.h"
#include "util/osdep.h"

using qemu::FdSetRegistry;
using qemu::OpenContext;
using qemu::qemu_open;
using qemu::qemu_open_beneath;
using qemu::qemu_path_combine;
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

// A scratch tree:  DIR/a, DIR/b, DIR/root/{inner, sub/deep, in -> inner, out -> /etc/passwd,
// up -> ../a}, DIR/other/deep.
class FdSetNamesTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_baseline = open_fd_count();
        char dir_template[] = "/tmp/fdset-names-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        m_dir = dir_template;
        write_file("a", "file a");
        write_file("b", "file b");
        ASSERT_EQ(mkdir(path("root").c_str(), 0700), 0);
        ASSERT_EQ(mkdir(path("root/sub").c_str(), 0700), 0);
        ASSERT_EQ(mkdir(path("other").c_str(), 0700), 0);
        write_file("root/inner", "inner");
        write_file("root/sub/deep", "deep");
        write_file("other/deep", "other deep");
        ASSERT_EQ(symlink("inner", path("root/in").c_str()), 0);
        ASSERT_EQ(symlink("/etc/passwd", path("root/out").c_str()), 0);
        ASSERT_EQ(symlink("../a", path("root/up").c_str()), 0);
    }
    void TearDown() override
    {
        std::string cmd = "rm -rf " + m_dir;
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        // Every member, duplicate and file opened beneath a member is closed by now.
        m_registry.reset();
        EXPECT_EQ(open_fd_count(), m_baseline);
    }

    std::string path(const std::string& name) const { return m_dir + "/" + name; }

    void write_file(const std::string& name, const std::string& content)
    {
        UniqueFd fd(::open(path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd.valid());
        ASSERT_EQ(write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
    }

    UniqueFd open_file(const std::string& name, int flags)
    {
        UniqueFd fd(::open(path(name).c_str(), flags | O_CLOEXEC));
        EXPECT_TRUE(fd.valid()) << name;
        return fd;
    }

    void add(int64_t id, const std::string& file, int flags, const std::string& opaque)
    {
        ASSERT_TRUE(registry().add(id, open_file(file, flags), opaque));
    }

    static std::string content_of(int fd)
    {
        char buf[64] = {};
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        return n > 0 ? std::string(buf, n) : std::string();
    }

    FdSetRegistry& registry() { return *m_registry; }
    OpenContext context() { return OpenContext{m_registry.get()}; }

    std::unique_ptr<FdSetRegistry> m_registry = std::make_unique<FdSetRegistry>();
    std::string m_dir;
    int m_baseline = 0;
};

}  // namespace

TEST_F(FdSetNamesTest, NamedMemberIsPickedByOpaqueAndAccessMode)
{
    add(2, "a", O_RDWR, "disk.vmdk");
    add(2, "b", O_RDWR, "disk-s001.vmdk");
    add(2, "a", O_RDONLY, "disk.vmdk");
    auto rw = qemu_open(context(), "/dev/fdset/2/disk.vmdk", O_RDWR);
    ASSERT_TRUE(rw) << rw.error().desc;
    EXPECT_EQ(content_of(rw->get()), "file a");
    EXPECT_EQ(fcntl(rw->get(), F_GETFL) & O_ACCMODE, O_RDWR);
    EXPECT_TRUE(rw->from_fdset());
    EXPECT_TRUE(fcntl(rw->get(), F_GETFD) & FD_CLOEXEC);
    auto ro = qemu_open(context(), "/dev/fdset/2/disk.vmdk", O_RDONLY);
    ASSERT_TRUE(ro);
    EXPECT_EQ(fcntl(ro->get(), F_GETFL) & O_ACCMODE, O_RDONLY);
    auto extent = qemu_open(context(), "/dev/fdset/2/disk-s001.vmdk", O_RDWR);
    ASSERT_TRUE(extent);
    EXPECT_EQ(content_of(extent->get()), "file b");

    auto wrong_mode = qemu_open(context(), "/dev/fdset/2/disk-s001.vmdk", O_RDONLY);
    ASSERT_FALSE(wrong_mode);
    EXPECT_EQ(wrong_mode.error().errno_value, EACCES);
    EXPECT_EQ(wrong_mode.error().desc,
        "Failed to find file descriptor 'disk-s001.vmdk' in fdset /dev/fdset/2 with matching flags=0x0");
    auto wrong_direct = qemu_open(context(), "/dev/fdset/2/disk.vmdk", O_RDWR | O_DIRECT);
    ASSERT_FALSE(wrong_direct);
    EXPECT_EQ(wrong_direct.error().errno_value, EACCES);
}

TEST_F(FdSetNamesTest, NewestMemberWithTheNameIsDuplicated)
{
    add(2, "a", O_RDWR, "disk");
    add(2, "b", O_RDWR, "disk");
    add(2, "a", O_RDWR, "other");
    auto opened = qemu_open(context(), "/dev/fdset/2/disk", O_RDWR);
    ASSERT_TRUE(opened);
    EXPECT_EQ(content_of(opened->get()), "file b");
}

TEST_F(FdSetNamesTest, PlainSetNameKeepsQemusMeaning)
{
    add(2, "a", O_RDWR, "disk");
    add(2, "b", O_RDWR, "x/y");
    auto opened = qemu_open(context(), "/dev/fdset/2", O_RDWR);
    ASSERT_TRUE(opened);
    EXPECT_EQ(content_of(opened->get()), "file b");
    auto refused = qemu_open(context(), "/dev/fdset/2", O_WRONLY);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc, "Failed to find file descriptor with matching flags=0x1");
}

TEST_F(FdSetNamesTest, MissingNamesAreClearErrors)
{
    add(2, "a", O_RDWR, "disk.vmdk");
    auto missing = qemu_open(context(), "/dev/fdset/2/disk-s001.vmdk", O_RDWR);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_EQ(missing.error().desc, "Failed to find file descriptor 'disk-s001.vmdk' in fdset /dev/fdset/2");
    auto nested = qemu_open(context(), "/dev/fdset/2/disk.vmdk/x", O_RDWR);
    ASSERT_FALSE(nested);
    EXPECT_EQ(nested.error().errno_value, ENOENT);
    EXPECT_EQ(nested.error().desc,
        "Failed to find file descriptor 'disk.vmdk/x' in fdset /dev/fdset/2, nor a directory member it is beneath");
    auto no_set = qemu_open(context(), "/dev/fdset/7/disk.vmdk", O_RDWR);
    ASSERT_FALSE(no_set);
    EXPECT_EQ(no_set.error().errno_value, ENOENT);
    EXPECT_EQ(no_set.error().desc, "Failed to find fdset /dev/fdset/7");
    // Failed opens lend nothing: removing the member frees the set.
    ASSERT_TRUE(registry().remove(2, std::nullopt));
    EXPECT_EQ(registry().set_count(), 0u);
}

TEST_F(FdSetNamesTest, MalformedNamesAreParseErrors)
{
    add(2, "a", O_RDWR, "");
    struct Case {
        const char* name;
        const char* why;
    };
    for (Case c : {Case{"/dev/fdset/2/", "no member name after the set number"},
             Case{"/dev/fdset/x/disk", "'x' is not an fd set number"},
             Case{"/dev/fdset//disk", "'' is not an fd set number"},
             Case{"/dev/fdset/-1/disk", "'-1' is not an fd set number"},
             Case{"/dev/fdset/2147483648/disk", "'2147483648' is not an fd set number"}}) {
        auto result = qemu_open(context(), c.name, O_RDWR);
        ASSERT_FALSE(result) << c.name;
        EXPECT_EQ(result.error().errno_value, EINVAL) << c.name;
        EXPECT_EQ(result.error().desc, std::string("Could not parse fdset ") + c.name + ": " + c.why);
    }
}

TEST_F(FdSetNamesTest, OpaqueContainingSlashesMatchesExactly)
{
    add(2, "a", O_RDWR, "rdwr:/path/to/file");
    auto opened = qemu_open(context(), "/dev/fdset/2/rdwr:/path/to/file", O_RDWR);
    ASSERT_TRUE(opened) << opened.error().desc;
    EXPECT_EQ(content_of(opened->get()), "file a");
}

TEST_F(FdSetNamesTest, NamedDuplicateKeepsTheSetAliveUntilClosed)
{
    add(2, "a", O_RDWR, "disk");
    auto opened = qemu_open(context(), "/dev/fdset/2/disk", O_RDWR);
    ASSERT_TRUE(opened);
    ASSERT_TRUE(registry().remove(2, std::nullopt));
    auto sets = registry().query();
    ASSERT_EQ(sets.size(), 1u);
    EXPECT_TRUE(sets[0].fds.empty());
    opened->close();
    EXPECT_EQ(registry().set_count(), 0u);
}

TEST_F(FdSetNamesTest, DirectoryMemberOpensNamesBeneathIt)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "root");
    for (auto [name, content] : {std::pair{"root/inner", "inner"}, std::pair{"root/sub/deep", "deep"},
             std::pair{"root/./sub//deep", "deep"}, std::pair{"root/in", "inner"}}) {
        auto opened = qemu_open(context(), std::string("/dev/fdset/3/") + name, O_RDWR);
        ASSERT_TRUE(opened) << name << ": " << opened.error().desc;
        EXPECT_EQ(content_of(opened->get()), content) << name;
        EXPECT_TRUE(opened->from_fdset());
        EXPECT_TRUE(fcntl(opened->get(), F_GETFD) & FD_CLOEXEC);
        EXPECT_EQ(fcntl(opened->get(), F_GETFL) & O_ACCMODE, O_RDWR);
    }
    // The caller's flags apply, O_CREAT included (qemu-img create beneath a directory).
    auto created = qemu_open(context(), "/dev/fdset/3/root/new.img", O_RDWR | O_CREAT | O_EXCL, 0640);
    ASSERT_TRUE(created) << created.error().desc;
    struct stat st { };
    ASSERT_EQ(stat(path("root/new.img").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    auto missing = qemu_open(context(), "/dev/fdset/3/root/nothing", O_RDONLY);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_EQ(missing.error().desc, "Could not open '/dev/fdset/3/root/nothing': No such file or directory");
}

TEST_F(FdSetNamesTest, NamesThatWouldLeaveTheDirectoryAreRefused)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "root");
    const std::string root = "directory member 'root' of fdset /dev/fdset/3";
    struct Case {
        const char* name;
        int err;
        std::string why;
    };
    for (const Case& c : {Case{"root/../a", EXDEV, "'..' in '../a' refused beneath " + root},
             Case{"root/sub/../../a", EXDEV, "'..' in 'sub/../../a' refused beneath " + root},
             Case{"root/sub/..", EXDEV, "'..' in 'sub/..' refused beneath " + root},
             Case{"root//etc/passwd", EXDEV, "absolute name '/etc/passwd' refused beneath " + root},
             Case{"root/out", EXDEV, "'out' leads outside " + root},
             Case{"root/up", EXDEV, "'up' leads outside " + root},
             Case{"root/", EINVAL, "no file name beneath " + root}}) {
        auto result = qemu_open(context(), std::string("/dev/fdset/3/") + c.name, O_RDONLY);
        ASSERT_FALSE(result) << c.name;
        EXPECT_EQ(result.error().errno_value, c.err) << c.name;
        EXPECT_EQ(result.error().desc, std::string("Could not open '/dev/fdset/3/") + c.name + "': " + c.why);
    }
    // Nothing was created outside, and a refused O_CREAT made nothing either.
    EXPECT_FALSE(qemu_open(context(), "/dev/fdset/3/root/../created", O_RDWR | O_CREAT, 0600));
    EXPECT_NE(access(path("created").c_str(), F_OK), 0);
    EXPECT_EQ(registry().query()[0].fds.size(), 1u);
}

TEST_F(FdSetNamesTest, MagicLinksBeneathADirectoryAreRefused)
{
    ASSERT_TRUE(registry().add(3, UniqueFd(::open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC)), "proc"));
    auto opened = qemu_open(context(), "/dev/fdset/3/proc/fd/0", O_RDONLY);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, ELOOP);
}

TEST_F(FdSetNamesTest, FileBeneathADirectoryMemberKeepsTheSetAlive)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "root");
    auto opened = qemu_open(context(), "/dev/fdset/3/root/inner", O_RDWR);
    ASSERT_TRUE(opened);
    ASSERT_TRUE(registry().remove(3, std::nullopt));
    auto sets = registry().query();
    ASSERT_EQ(sets.size(), 1u);
    EXPECT_EQ(sets[0].id, 3);
    EXPECT_TRUE(sets[0].fds.empty());
    // What was opened beneath the member is no member of the set.
    EXPECT_FALSE(registry().remove(3, opened->get()));
    EXPECT_EQ(content_of(opened->get()), "inner");
    opened->close();
    EXPECT_EQ(registry().set_count(), 0u);
}

TEST_F(FdSetNamesTest, LongestDirectoryPrefixWins)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "images");
    add(3, "other", O_RDONLY | O_DIRECTORY, "images/sub");
    auto opened = qemu_open(context(), "/dev/fdset/3/images/sub/deep", O_RDONLY);
    ASSERT_TRUE(opened) << opened.error().desc;
    EXPECT_EQ(content_of(opened->get()), "other deep");
}

TEST_F(FdSetNamesTest, MemberNamedExactlyWinsOverADirectory)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "root");
    add(3, "a", O_RDONLY, "root/inner");
    auto opened = qemu_open(context(), "/dev/fdset/3/root/inner", O_RDONLY);
    ASSERT_TRUE(opened);
    EXPECT_EQ(content_of(opened->get()), "file a");
    // No quiet fallback to the directory when the named member has the wrong mode.
    auto refused = qemu_open(context(), "/dev/fdset/3/root/inner", O_RDWR);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().errno_value, EACCES);
}

TEST_F(FdSetNamesTest, RegularFileMemberIsNoDirectory)
{
    add(3, "a", O_RDONLY, "root");
    auto opened = qemu_open(context(), "/dev/fdset/3/root/inner", O_RDONLY);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, ENOENT);
}

TEST_F(FdSetNamesTest, OpenBeneathAPlainDirectory)
{
    auto opened = qemu_open_beneath(context(), path("root"), "sub/deep", O_RDONLY);
    ASSERT_TRUE(opened) << opened.error().desc;
    EXPECT_EQ(content_of(opened->get()), "deep");
    EXPECT_FALSE(opened->from_fdset());
    auto refused = qemu_open_beneath(context(), path("root"), "../a", O_RDONLY);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc,
        "Could not open '" + path("root") + "/../a': '..' in '../a' refused beneath directory '" + path("root") + "'");
    auto escaping = qemu_open_beneath(context(), path("root"), "out", O_RDONLY);
    ASSERT_FALSE(escaping);
    EXPECT_EQ(escaping.error().errno_value, EXDEV);
    auto not_a_directory = qemu_open_beneath(context(), path("a"), "x", O_RDONLY);
    ASSERT_FALSE(not_a_directory);
    EXPECT_EQ(not_a_directory.error().errno_value, ENOTDIR);
}

TEST_F(FdSetNamesTest, OpenBeneathALentDirectoryIsLentToo)
{
    add(3, "root", O_RDONLY | O_DIRECTORY, "root");
    auto dir = qemu_open(context(), "/dev/fdset/3/root", O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(dir) << dir.error().desc;
    auto opened = qemu_open_beneath(*dir, "/dev/fdset/3/root", "inner", O_RDWR);
    ASSERT_TRUE(opened) << opened.error().desc;
    EXPECT_TRUE(opened->from_fdset());
    ASSERT_TRUE(registry().remove(3, std::nullopt));
    dir->close();
    // The file alone keeps the set alive now.
    EXPECT_EQ(registry().set_count(), 1u);
    opened->close();
    EXPECT_EQ(registry().set_count(), 0u);

    add(4, "root", O_RDONLY | O_DIRECTORY, "root");
    auto by_name = qemu_open_beneath(context(), "/dev/fdset/4/root", "../a", O_RDONLY);
    ASSERT_FALSE(by_name);
    EXPECT_EQ(by_name.error().desc,
        "Could not open '/dev/fdset/4/root/../a': '..' in '../a' refused beneath directory '/dev/fdset/4/root'");
}

TEST_F(FdSetNamesTest, ToolsWithoutRegistryCannotOpenNamedMembers)
{
    auto opened = qemu_open(OpenContext{}, "/dev/fdset/1/disk", O_RDONLY);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().errno_value, ENOSYS);
    EXPECT_EQ(qemu::qemu_unlink("/dev/fdset/1/disk"), 0);
}

TEST(PathCombine, KeepsFdSetPrefixes)
{
    EXPECT_EQ(qemu_path_combine("/dev/fdset/2/disk.vmdk", "disk-s001.vmdk"), "/dev/fdset/2/disk-s001.vmdk");
    EXPECT_EQ(qemu_path_combine("/dev/fdset/2/root/disk.vmdk", "disk-s001.vmdk"), "/dev/fdset/2/root/disk-s001.vmdk");
    EXPECT_EQ(qemu_path_combine("/dev/fdset/2", "disk-s001.vmdk"), "/dev/fdset/2/disk-s001.vmdk");
    EXPECT_EQ(qemu_path_combine("/dev/fdset/2/disk.vmdk", "/images/x"), "/images/x");
}

TEST(PathCombine, OrdinaryNames)
{
    EXPECT_EQ(qemu_path_combine("/images/disk.vmdk", "disk-s001.vmdk"), "/images/disk-s001.vmdk");
    EXPECT_EQ(qemu_path_combine("disk.vmdk", "disk-s001.vmdk"), "disk-s001.vmdk");
    EXPECT_EQ(qemu_path_combine("sub/disk.vmdk", "x"), "sub/x");
    EXPECT_EQ(qemu_path_combine("nbd:localhost", "x"), "nbd:x");
    EXPECT_EQ(qemu_path_combine("/images/", "x"), "/images/x");
}
