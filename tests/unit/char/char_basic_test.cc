// The simple backends (null, ringbuf, file, pipe, pty, stdio), attach/detach and the
// registry, as upstream's test-char.c covers them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "char/registry.h"
#include "char/ringbuf.h"
#include "char_test_util.h"
#include "util/fdset.h"
#include "util/osdep.h"

using namespace std::chrono_literals;

namespace qemu::chr {
namespace {

using test::RecordingFrontend;
using test::run_for;
using test::run_until;

ChardevOptions opts_of(std::string id, ChardevBackendOptions backend)
{
    ChardevOptions options;
    options.id = std::move(id);
    options.backend = std::move(backend);
    return options;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Captured {
    std::vector<std::string> info, error, print;
    ChardevReporter reporter()
    {
        return ChardevReporter{
            [this](std::string_view m) { info.emplace_back(m); },
            [this](std::string_view m) { error.emplace_back(m); },
            [this](std::string_view m) { print.emplace_back(m); },
        };
    }
};

TEST(CharNull, OpenAtCreationDiscardsOutputAndSendsOpenedFromTheMainLoop)
{
    ChardevRegistry reg;
    Chardev* chr = reg.add(opts_of("n", NullOptions{})).value();
    EXPECT_EQ(chr->driver(), "null");
    EXPECT_EQ(chr->filename(), "null");
    EXPECT_TRUE(chr->is_open());
    EXPECT_EQ(chr->write_all("hello").value(), 5u);
    EXPECT_FALSE(chr->can_pass_fds());
    EXPECT_FALSE(chr->supports_gcontext());

    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    EXPECT_TRUE(fe.events.empty()) << "Opened must not arrive inside attach()";
    ASSERT_TRUE(run_until([&] { return !fe.events.empty(); }));
    EXPECT_EQ(fe.events, std::vector<ChardevEvent>{ChardevEvent::Opened});
    EXPECT_FALSE(chr->attach(fe.callbacks())) << "a second frontend is refused";
    chr->detach();
}

TEST(CharNull, DetachBeforeTheMainLoopRunsCancelsOpened)
{
    ChardevRegistry reg;
    Chardev* chr = reg.add(opts_of("n", NullOptions{})).value();
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    chr->detach();
    run_for(50ms);
    EXPECT_TRUE(fe.events.empty());
    // And a chardev destroyed with a pending Opened must not fire it either.
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    chr->detach();
    ASSERT_TRUE(reg.remove("n"));
    run_for(20ms);
    EXPECT_TRUE(fe.events.empty());
}

TEST(CharRingbuf, SizeMustBeAPowerOfTwo)
{
    ChardevRegistry reg;
    auto bad = reg.add(opts_of("r", RingbufOptions{3}));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "size of ringbuf chardev must be power of two");
    EXPECT_FALSE(reg.add(opts_of("r", RingbufOptions{0})));
    auto* rb = dynamic_cast<RingbufChardev*>(reg.add(opts_of("r", RingbufOptions{})).value());
    ASSERT_NE(rb, nullptr);
    EXPECT_EQ(rb->size(), 65536u);
    EXPECT_EQ(rb->filename(), "ringbuf");
    EXPECT_FALSE(rb->supports_gcontext()) << "QEMU offers no oob on a ringbuf monitor";
}

TEST(CharRingbuf, WrapsAroundKeepingTheNewestBytes)
{
    ChardevRegistry reg;
    auto* rb = dynamic_cast<RingbufChardev*>(reg.add(opts_of("r", RingbufOptions{4})).value());
    ASSERT_NE(rb, nullptr);
    ASSERT_EQ(rb->write_all("ab").value(), 2u);
    auto two = rb->read(1);
    EXPECT_EQ(std::string(two.begin(), two.end()), "a");
    const std::string more = "cdefg";
    rb->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(more.data()), more.size()));
    EXPECT_EQ(rb->used(), 4u);
    auto rest = rb->read(100);
    EXPECT_EQ(std::string(rest.begin(), rest.end()), "defg");
    EXPECT_TRUE(rb->read(10).empty());
}

TEST(CharFile, WritesTruncatesAppendsAndReadsInput)
{
    test::TempDir dir;
    const std::string out = dir.path("out");
    const std::string in = dir.path("in");
    std::ofstream(out) << "old contents";
    std::ofstream(in) << "input bytes";
    ChardevRegistry reg;

    FileOptions file;
    file.out = out;
    Chardev* chr = reg.add(opts_of("f", file)).value();
    EXPECT_EQ(chr->filename(), "file");
    EXPECT_TRUE(chr->supports_gcontext());
    ASSERT_TRUE(chr->write_all("first"));
    EXPECT_EQ(read_file(out), "first");
    ASSERT_TRUE(reg.remove("f"));

    file.append = true;
    file.in = in;
    chr = reg.add(opts_of("f", file)).value();
    ASSERT_TRUE(chr->write_all("+second"));
    EXPECT_EQ(read_file(out), "first+second");

    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    ASSERT_TRUE(run_until([&] { return fe.count(ChardevEvent::Closed) == 1; }));
    EXPECT_EQ(fe.data, "input bytes");
    EXPECT_EQ(fe.events.front(), ChardevEvent::Opened);
    chr->detach();

    file.in = dir.path("missing");
    auto missing = reg.add(opts_of("g", file));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "Could not open '" + dir.path("missing") + "': No such file or directory");
}

// A file backend named /dev/fdset/N writes through a duplicate of the set's O_WRONLY
// member; removing the chardev gives the duplicate back, and the set goes once both its
// members and its duplicates are gone.
TEST(CharFile, FdsetNameWritesThroughADupThatGoesBackToTheSet)
{
    test::TempDir dir;
    const std::string out = dir.path("out");
    std::ofstream(out) << "old contents";
    FdSetRegistry fdsets;
    ChardevRegistry reg;
    reg.set_open_context(OpenContext{&fdsets});

    UniqueFd read_only(::open(out.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fdsets.add(5, std::move(read_only), "ro"));
    FileOptions file;
    file.out = "/dev/fdset/5";
    auto refused = reg.add(opts_of("f", file));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc,
        "Failed to find file descriptor with matching flags=0x" +
            (std::ostringstream() << std::hex << (O_WRONLY | O_CREAT | O_TRUNC)).str());

    UniqueFd writable(::open(out.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fdsets.add(5, std::move(writable), "wr"));
    Chardev* chr = reg.add(opts_of("f", file)).value();
    // O_TRUNC through a set truncates the file, as open() would.
    EXPECT_EQ(read_file(out), "");
    ASSERT_TRUE(chr->write_all("through the set"));
    EXPECT_EQ(read_file(out), "through the set");

    ASSERT_TRUE(fdsets.remove(5, std::nullopt));
    ASSERT_EQ(fdsets.query().size(), 1u);
    EXPECT_TRUE(fdsets.query()[0].fds.empty());
    ASSERT_TRUE(chr->write_all(", still"));
    EXPECT_EQ(read_file(out), "through the set, still");
    ASSERT_TRUE(reg.remove("f"));
    EXPECT_EQ(fdsets.set_count(), 0u);

    file.out = "/dev/fdset/6x";
    EXPECT_EQ(reg.add(opts_of("g", file)).error().desc, "Could not parse fdset /dev/fdset/6x");
    file.out = "/dev/fdset/6";
    EXPECT_EQ(reg.add(opts_of("g", file)).error().desc, "Failed to find fdset /dev/fdset/6");
}

TEST(CharPipe, UsesInAndOutFifosElseOnePath)
{
    test::TempDir dir;
    const std::string base = dir.path("pipe");
    ASSERT_EQ(mkfifo((base + ".in").c_str(), 0600), 0);
    ASSERT_EQ(mkfifo((base + ".out").c_str(), 0600), 0);
    ChardevRegistry reg;
    Chardev* chr = reg.add(opts_of("p", PipeOptions{base})).value();
    EXPECT_EQ(chr->filename(), "pipe");
    EXPECT_TRUE(chr->supports_gcontext());
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));

    UniqueFd to_chr(::open((base + ".in").c_str(), O_WRONLY | O_CLOEXEC));
    UniqueFd from_chr(::open((base + ".out").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(to_chr && from_chr);
    ASSERT_EQ(::write(to_chr.get(), "ping", 4), 4);
    ASSERT_TRUE(run_until([&] { return fe.data == "ping"; }));
    ASSERT_TRUE(chr->write_all("pong"));
    char buf[8] = {};
    ASSERT_EQ(::read(from_chr.get(), buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "pong");
    chr->detach();

    // Only PATH: used both ways.
    std::ofstream(dir.path("plain")) << "";
    Chardev* plain = reg.add(opts_of("q", PipeOptions{dir.path("plain")})).value();
    ASSERT_TRUE(plain->write_all("x"));
    EXPECT_EQ(read_file(dir.path("plain")), "x");

    auto missing = reg.add(opts_of("m", PipeOptions{dir.path("none")}));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "Could not open '" + dir.path("none") + "': No such file or directory");
}

TEST(CharPty, ReportsItsPathAndCarriesBytesBothWays)
{
    Captured out;
    ChardevRegistry reg(out.reporter());
    Chardev* chr = reg.add(opts_of("p", PtyOptions{})).value();
    EXPECT_TRUE(chr->supports_gcontext()) << "QEMU offers oob on every fd-based backend";
    auto pts = reg.pty_path("p");
    ASSERT_TRUE(pts);
    EXPECT_TRUE(pts->starts_with("/dev/pts/"));
    EXPECT_EQ(chr->filename(), "pty:" + *pts);
    ASSERT_EQ(out.print.size(), 1u);
    EXPECT_EQ(out.print[0], "char device redirected to " + *pts + " (label p)\n");
    EXPECT_FALSE(reg.pty_path("nope"));

    UniqueFd slave(::open(pts->c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    ASSERT_TRUE(slave);
    RecordingFrontend fe;
    ASSERT_TRUE(chr->attach(fe.callbacks()));
    ASSERT_EQ(::write(slave.get(), "to-qemu", 7), 7);
    ASSERT_TRUE(run_until([&] { return fe.data == "to-qemu"; }));
    ASSERT_TRUE(chr->write_all("to-guest"));
    char buf[16] = {};
    ASSERT_EQ(::read(slave.get(), buf, sizeof buf), 8);
    EXPECT_STREQ(buf, "to-guest");
    chr->detach();
}

TEST(CharStdio, OnlyOneInstance)
{
    Captured out;
    ChardevRegistry reg(out.reporter());
    auto first = reg.add(opts_of("s1", StdioOptions{}));
    ASSERT_TRUE(first);
    EXPECT_TRUE((*first)->supports_gcontext()) << "-qmp stdio offers oob in QEMU 7.2";
    auto second = reg.add(opts_of("s2", StdioOptions{}));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().desc, "cannot use stdio by multiple character devices");
    ASSERT_TRUE(reg.remove("s1"));
    EXPECT_TRUE(reg.add(opts_of("s2", StdioOptions{})));
}

TEST(CharRegistry, AddFindListRemoveAndBusy)
{
    ChardevRegistry reg;
    ASSERT_TRUE(reg.add(opts_of("a", NullOptions{})));
    ASSERT_TRUE(reg.add(opts_of("b", RingbufOptions{})));
    ASSERT_TRUE(reg.add(opts_of("c", NullOptions{})));
    std::vector<std::string> ids;
    for (Chardev* chr : reg.list()) {
        ids.push_back(chr->id());
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(reg.find("b")->driver(), "ringbuf");
    EXPECT_EQ(reg.find("x"), nullptr);

    EXPECT_EQ(reg.add(opts_of("a", NullOptions{})).error().desc, "Chardev with id 'a' already exists");
    EXPECT_EQ(reg.add_for_qmp(opts_of("a", NullOptions{})).error().desc, "Chardev with id 'a' already exists");
    EXPECT_EQ(reg.add_from_cli(opts_of("a", NullOptions{})).error().desc, "Duplicate ID 'a' for chardev");
    EXPECT_EQ(reg.add_for_qmp(opts_of("r", RingbufOptions{3})).error().desc,
        "Failed to add chardev 'r': size of ringbuf chardev must be power of two");
    EXPECT_EQ(reg.find("r"), nullptr);

    RecordingFrontend fe;
    ASSERT_TRUE(reg.find("a")->attach(fe.callbacks()));
    EXPECT_EQ(reg.remove("a").error().desc, "Chardev 'a' is busy");
    reg.find("a")->detach();
    EXPECT_TRUE(reg.remove("a"));
    EXPECT_EQ(reg.remove("a").error().desc, "Chardev 'a' not found");
    EXPECT_EQ(reg.list().size(), 2u);
}

TEST(CharRegistry, LegacyReferenceAndBackendNames)
{
    ChardevRegistry reg;
    Chardev* a = reg.add(opts_of("a", NullOptions{})).value();
    auto ref = chardev_parse_legacy("chardev:a", "compat0").value();
    EXPECT_EQ(reg.add_legacy(ref).value(), a);
    auto missing = chardev_parse_legacy("chardev:zz", "compat1").value();
    EXPECT_EQ(reg.add_legacy(missing).error().desc, "chardev \"zz\" not found");
    auto names = ChardevRegistry::backend_names();
    // QEMU 7.2's query-chardev-backends order, less the backends this build lacks.
    EXPECT_EQ(names,
        (std::vector<std::string_view>{"pty", "file", "memory", "socket", "null", "pipe", "ringbuf", "stdio"}));
}

}  // namespace
}  // namespace qemu::chr
