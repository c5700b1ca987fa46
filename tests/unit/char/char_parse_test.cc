// -chardev and legacy filename parsing, with the texts QEMU 7.2 prints (checked against
// qemu-system-x86_64 7.2; where upstream changed a text, upstream's is used and noted).
#include <gtest/gtest.h>

#include "char/chardev.h"
#include "char/registry.h"

namespace qemu::chr {
namespace {

std::string parse_error(std::string_view optarg)
{
    auto r = chardev_parse_opts(optarg);
    return r ? "<ok>" : r.error().desc;
}

std::string add_error(std::string_view optarg)
{
    auto opts = chardev_parse_opts(optarg);
    if (!opts) {
        return "parse: " + opts.error().desc;
    }
    ChardevRegistry reg;
    auto r = reg.add(*opts);
    return r ? "<ok>" : r.error().desc;
}

const SocketOptions& sock(const ChardevOptions& o)
{
    return std::get<SocketOptions>(o.backend);
}

TEST(CharInvalid, MissingIdUnknownBackendAndUnknownKey)
{
    EXPECT_EQ(parse_error("null"), "chardev: no id specified");
    EXPECT_EQ(parse_error("foo"), "chardev: no id specified");
    EXPECT_EQ(parse_error("foo,id=x"), "'foo' is not a valid char driver name");
    EXPECT_EQ(parse_error("null,id=x,foo=1"), "Invalid parameter 'foo'");
    EXPECT_EQ(parse_error("foo,bar=1"), "Invalid parameter 'bar'");
    EXPECT_EQ(parse_error("id=x"), "chardev: \"x\" missing backend");
    EXPECT_EQ(parse_error("null,id=1x"),
              "Parameter 'id' expects an identifier\n"
              "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.");
    // One key list for all backends, as QEMU: a socket key on null is accepted.
    EXPECT_EQ(parse_error("null,id=x,server=on"), "<ok>");
    EXPECT_EQ(parse_error("socket,id=x,path=/p,server=yes,wait=maybe"), "Parameter 'wait' expects 'on' or 'off'");
    EXPECT_EQ(parse_error("socket,id=x,host=h,port=0,reconnect=x"), "Parameter 'reconnect' expects a number");
}

TEST(CharInvalid, BackendSpecificTexts)
{
    EXPECT_EQ(parse_error("file,id=x"), "chardev: file: no filename given");
    EXPECT_EQ(parse_error("pipe,id=x"), "chardev: pipe: no device path given");
    EXPECT_EQ(parse_error("socket,id=x,path=/tmp/a,host=h"), "None or one of 'path', 'fd' or 'host' option required.");
    EXPECT_EQ(parse_error("socket,id=x,host=h"), "chardev: socket: no port given");
    EXPECT_EQ(parse_error("socket,id=x,path=/a,reconnect=1,reconnect-ms=5"),
              "'reconnect' and 'reconnect-ms' are mutually exclusive");
    EXPECT_EQ(add_error("socket,id=x,path=/tmp/a,server=on,wait=off,reconnect=1"),
              "'reconnect' option is incompatible with socket in server listen mode");
    EXPECT_EQ(add_error("socket,id=x,path=/tmp/a,wait=off"),
              "'wait' option is incompatible with socket in client connect mode");
    EXPECT_EQ(add_error("socket,id=x,fd=3,reconnect=1"), "'reconnect' option is incompatible with 'fd' address type");
    EXPECT_EQ(add_error("socket,id=x"), "Unable to parse FD number ");
    EXPECT_EQ(add_error("socket,id=x,fd=abc"), "Unable to parse FD number abc");
    EXPECT_EQ(add_error("socket,id=x,fd=0"), "File descriptor '0' is not a socket");
    EXPECT_EQ(add_error("socket,id=x,path=/nonexist/p"),
              "Failed to connect to '/nonexist/p': No such file or directory");
    EXPECT_EQ(add_error("socket,id=x,path=/nonexist/a,server=on,wait=off"),
              "Failed to bind socket to /nonexist/a: No such file or directory");
    EXPECT_EQ(add_error("ringbuf,id=x,size=1000"), "size of ringbuf chardev must be power of two");
}

TEST(CharParse, SocketDefaultsAndShortFormBooleans)
{
    auto client = chardev_parse_opts("socket,id=c,path=/p").value();
    EXPECT_EQ(client.id, "c");
    EXPECT_FALSE(sock(client).server);
    EXPECT_FALSE(sock(client).wait.has_value());
    EXPECT_TRUE(sock(client).tight);

    auto server = chardev_parse_opts("socket,id=s,path=/p,server=on").value();
    EXPECT_TRUE(sock(server).server);
    EXPECT_EQ(sock(server).wait, true) << "a CLI server waits by default";

    auto old = chardev_parse_opts("socket,id=s,path=/p,server,nowait").value();
    EXPECT_TRUE(sock(old).server);
    EXPECT_EQ(sock(old).wait, false);
    ASSERT_EQ(old.warnings.size(), 2u);
    EXPECT_EQ(old.warnings[0], "short-form boolean option 'server' deprecated\nPlease use server=on instead");
    EXPECT_EQ(old.warnings[1], "short-form boolean option 'nowait' deprecated\nPlease use wait=off instead");

    auto tcp = chardev_parse_opts("socket,id=t,host=localhost,port=4444,nodelay=on,reconnect=2").value();
    EXPECT_EQ(sock(tcp).host, "localhost");
    EXPECT_EQ(sock(tcp).port, "4444");
    EXPECT_EQ(sock(tcp).nodelay, true);
    EXPECT_EQ(sock(tcp).reconnect_ms, 2000);
    EXPECT_EQ(sock(chardev_parse_opts("socket,id=t,path=/p,reconnect-ms=250").value()).reconnect_ms, 250);

    auto fd = chardev_parse_opts("socket,id=m,fd=7").value();
    EXPECT_EQ(sock(fd).fd, "7");

    auto memory = chardev_parse_opts("memory,id=r,size=1k").value();
    EXPECT_EQ(std::get<RingbufOptions>(memory.backend).size, 1024u);
    auto stdio = chardev_parse_opts("stdio,id=s,signal=off").value();
    EXPECT_EQ(std::get<StdioOptions>(stdio.backend).signal, false);
    auto file = chardev_parse_opts("file,id=f,path=/o,input-path=/i,append=on").value();
    EXPECT_EQ(std::get<FileOptions>(file.backend).out, "/o");
    EXPECT_EQ(std::get<FileOptions>(file.backend).in, "/i");
    EXPECT_TRUE(std::get<FileOptions>(file.backend).append);
}

TEST(CharParse, Help)
{
    EXPECT_TRUE(chardev_help_requested("help"));
    EXPECT_TRUE(chardev_help_requested("?"));
    EXPECT_FALSE(chardev_help_requested("null,id=help"));
    std::string help = chardev_help_text();
    EXPECT_TRUE(help.starts_with("Available chardev backend types: \n"));
    EXPECT_NE(help.find("\n  socket\n"), std::string::npos);
}

TEST(CharParseLegacy, SimpleForms)
{
    EXPECT_TRUE(std::holds_alternative<NullOptions>(chardev_parse_legacy("null", "c").value().backend));
    EXPECT_TRUE(std::holds_alternative<StdioOptions>(chardev_parse_legacy("stdio", "c").value().backend));
    EXPECT_TRUE(std::holds_alternative<PtyOptions>(chardev_parse_legacy("pty", "c").value().backend));
    auto file = chardev_parse_legacy("file:/tmp/x", "c").value();
    EXPECT_EQ(std::get<FileOptions>(file.backend).out, "/tmp/x");
    EXPECT_EQ(file.id, "c");
    EXPECT_EQ(std::get<PipeOptions>(chardev_parse_legacy("pipe:/tmp/p", "c").value().backend).path, "/tmp/p");
    auto ref = chardev_parse_legacy("chardev:mon0", "c").value();
    EXPECT_TRUE(ref.refers_to_existing);
    EXPECT_EQ(ref.id, "mon0");

    EXPECT_EQ(chardev_parse_legacy("foo", "c").error().desc, "'foo' is not a valid char driver");
    EXPECT_EQ(chardev_parse_legacy("pty:/tmp/l", "c").error().desc, "'pty:/tmp/l' is not a valid char driver");
    // QEMU 7.2 has no text of its own for a tcp address without a port.
    EXPECT_EQ(chardev_parse_legacy("tcp:localhost", "c").error().desc, "");
}

TEST(CharParseLegacy, SocketForms)
{
    auto unix_path = chardev_parse_legacy("unix:path=/tmp/q,server=on,wait=off", "c").value();
    EXPECT_EQ(sock(unix_path).path, "/tmp/q");
    EXPECT_TRUE(sock(unix_path).server);
    EXPECT_EQ(sock(unix_path).wait, false);

    auto unix_bare = chardev_parse_legacy("unix:/tmp/q,server=on", "c").value();
    EXPECT_EQ(sock(unix_bare).path, "/tmp/q");
    EXPECT_EQ(sock(unix_bare).wait, true) << "a legacy server waits by default";

    auto client = chardev_parse_legacy("unix:/tmp/q", "c").value();
    EXPECT_FALSE(sock(client).server);

    auto any_host = chardev_parse_legacy("tcp::4444", "c").value();
    EXPECT_EQ(sock(any_host).host, "");
    EXPECT_EQ(sock(any_host).port, "4444");
    EXPECT_FALSE(sock(any_host).server);

    auto tcp = chardev_parse_legacy("tcp:localhost:4444,server=on,wait=off", "c").value();
    EXPECT_EQ(sock(tcp).host, "localhost");
    EXPECT_EQ(sock(tcp).port, "4444");
    EXPECT_TRUE(sock(tcp).server);
    EXPECT_EQ(sock(tcp).wait, false);

    EXPECT_EQ(chardev_parse_legacy("tcp:localhost:4444,server=on,wait=off,bogus", "c").error().desc,
              "Invalid parameter 'bogus'");
    EXPECT_EQ(chardev_parse_legacy("unix:/p,foo=1", "c").error().desc, "Invalid parameter 'foo'");
}

}  // namespace
}  // namespace qemu::chr
