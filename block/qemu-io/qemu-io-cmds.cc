// qemu-io's commands: the table (names, argument counts, the permission a command needs),
// the dispatcher with QEMU's argument-count messages, and the commands themselves. Option
// letters are parsed with getopt, as QEMU does, so its "invalid option" texts come for free.
#include <getopt.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "block/qemu-io/qemu-io.h"
#include "block/reopen.h"
#include "util/qemu-option.h"

namespace qemu::qemu_io {

namespace {

using block::BlockBackend;

constexpr unsigned kNoFileOk = 1;  // runs without an open image
constexpr unsigned kGlobal = 2;  // runs whatever the state

struct Command;
using CommandFn = int (*)(Session&, const Command&, int argc, char** argv);

struct Command {
    const char* name;
    const char* altname;
    CommandFn fn;
    int argmin;
    int argmax;  // -1: unlimited
    const char* args;
    const char* oneline;
    unsigned flags = 0;
    uint64_t perm = 0;  // taken on the backend before the command runs
};

int usage(const Command& cmd)
{
    std::printf("%s %s -- %s\n", cmd.name, cmd.args ? cmd.args : "(null)", cmd.oneline);
    return -EINVAL;
}

// An I/O buffer filled with a byte; -m shifts it off alignment on purpose.
class IoBuffer {
public:
    IoBuffer(size_t len, int pattern, bool misalign) : m_storage(len + (misalign ? 16 : 0) + 1, 0)
    {
        m_offset = misalign ? 16 : 0;
        m_len = len;
        std::memset(data(), pattern, len);
    }
    uint8_t* data() { return m_storage.data() + m_offset; }
    std::span<uint8_t> span() { return {data(), m_len}; }

private:
    std::vector<uint8_t> m_storage;
    size_t m_offset;
    size_t m_len;
};

int error_code(const Error& err)
{
    return err.errno_value ? -err.errno_value : -EIO;
}

bool verify_pattern(std::span<const uint8_t> data, int pattern)
{
    return std::all_of(data.begin(), data.end(), [pattern](uint8_t b) { return b == pattern; });
}

// Parses "off" and a list of lengths into one buffer split as an iovec.
struct Vectored {
    std::unique_ptr<IoBuffer> buffer;
    std::vector<iovec> iov;
    int64_t size = 0;
};

std::optional<Vectored> create_iovec(Session& s, char** argv, int count, int pattern)
{
    std::vector<int64_t> sizes;
    int64_t total = 0;
    for (int i = 0; i < count; ++i) {
        int64_t len = cvtnum(argv[i]);
        if (len < 0) {
            print_cvtnum_err(len, argv[i]);
            return std::nullopt;
        }
        if (len > block::kRequestMaxBytes) {
            std::printf("Argument '%s' exceeds maximum size %" PRIu64 "\n", argv[i],
                static_cast<uint64_t>(block::kRequestMaxBytes));
            return std::nullopt;
        }
        if (total > block::kRequestMaxBytes - len) {
            std::printf("The total number of bytes exceed the maximum size %" PRIu64 "\n",
                static_cast<uint64_t>(block::kRequestMaxBytes));
            return std::nullopt;
        }
        sizes.push_back(len);
        total += len;
    }
    Vectored v;
    v.buffer = std::make_unique<IoBuffer>(total, pattern, s.misalign);
    uint8_t* p = v.buffer->data();
    for (int64_t len : sizes) {
        v.iov.push_back(iovec{p, static_cast<size_t>(len)});
        p += len;
    }
    v.size = total;
    return v;
}

// Offset and length arguments with QEMU's messages; false after printing the error.
bool parse_offset_length(char** argv, int64_t* offset, int64_t* count, int* ret)
{
    *offset = cvtnum(argv[0]);
    if (*offset < 0) {
        print_cvtnum_err(*offset, argv[0]);
        *ret = static_cast<int>(*offset);
        return false;
    }
    *count = cvtnum(argv[1]);
    if (*count < 0) {
        print_cvtnum_err(*count, argv[1]);
        *ret = static_cast<int>(*count);
        return false;
    }
    return true;
}

int read_f(Session& s, const Command& cmd, int argc, char** argv)
{
    bool Cflag = false, qflag = false, vflag = false, Pflag = false, sflag = false, lflag = false, bflag = false;
    int pattern = 0;
    int64_t pattern_offset = 0, pattern_count = 0;
    int c;
    while ((c = getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'C':
            Cflag = true;
            break;
        case 'l':
            lflag = true;
            pattern_count = cvtnum(optarg);
            if (pattern_count < 0) {
                print_cvtnum_err(pattern_count, optarg);
                return static_cast<int>(pattern_count);
            }
            break;
        case 'p':
            break;  // ignored, as in QEMU
        case 'P':
            Pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            pattern_offset = cvtnum(optarg);
            if (pattern_offset < 0) {
                print_cvtnum_err(pattern_offset, optarg);
                return static_cast<int>(pattern_offset);
            }
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind != argc - 2) {
        return usage(cmd);
    }
    int64_t offset, count;
    int ret = 0;
    if (!parse_offset_length(argv + optind, &offset, &count, &ret)) {
        return ret;
    }
    if (count > block::kRequestMaxBytes) {
        std::printf("length cannot exceed %" PRIu64 ", given %s\n", static_cast<uint64_t>(block::kRequestMaxBytes),
            argv[optind + 1]);
        return -EINVAL;
    }
    if (!Pflag && (lflag || sflag)) {
        return usage(cmd);
    }
    if (!lflag) {
        pattern_count = count - pattern_offset;
    }
    if (pattern_count < 0 || pattern_count + pattern_offset > count) {
        std::printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (bflag) {
        if (offset % block::kSectorSize) {
            std::printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
            return -EINVAL;
        }
        if (count % block::kSectorSize) {
            std::printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
            return -EINVAL;
        }
    }
    IoBuffer buf(count, 0xab, s.misalign);
    timespec t1 = now();
    Result<void> done = bflag ? Result<void>(std::unexpected(Error{ErrorClass::GenericError, "", ENOTSUP}))
                              : s.blk->pread(offset, buf.span());
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("read failed: %s\n", std::strerror(-error_code(done.error())));
        return error_code(done.error());
    }
    if (Pflag && !verify_pattern(buf.span().subspan(pattern_offset, pattern_count), pattern)) {
        std::printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n", offset + pattern_offset,
            pattern_count);
        ret = -EINVAL;
    }
    if (qflag) {
        return ret;
    }
    if (vflag) {
        dump_buffer(buf.span(), offset);
    }
    print_report("read", t2, offset, count, count, 1, Cflag);
    return ret;
}

// readv, and aio_read when aio: the same options and request, but aio_read also takes -i
// and, like QEMU's, succeeds once the request is "submitted", whatever happens to it after.
int vectored_read(Session& s, const Command& cmd, int argc, char** argv, bool aio)
{
    bool Cflag = false, qflag = false, vflag = false, Pflag = false;
    int pattern = 0;
    int c;
    while ((c = getopt(argc, argv, aio ? "CP:iqv" : "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'P':
            Pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'i':
            // An invalid request is only counted in the statistics; nothing is read.
            std::printf("injecting invalid read request\n");
            return 0;
        case 'q':
            qflag = true;
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind > argc - 2) {
        return usage(cmd);
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return static_cast<int>(offset);
    }
    optind++;
    auto v = create_iovec(s, argv + optind, argc - optind, 0xab);
    if (!v) {
        return -EINVAL;
    }
    timespec t1 = now();
    auto done = s.blk->preadv(offset, v->iov);
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("readv failed: %s\n", std::strerror(-error_code(done.error())));
        return aio ? 0 : error_code(done.error());
    }
    int ret = 0;
    std::span<const uint8_t> data(v->buffer->data(), v->size);
    if (Pflag && !verify_pattern(data, pattern)) {
        std::printf(
            "Pattern verification failed at offset %" PRId64 ", %zu bytes\n", offset, static_cast<size_t>(v->size));
        ret = aio ? 0 : -EINVAL;
    }
    if (qflag) {
        return ret;
    }
    if (vflag) {
        dump_buffer(data, offset);
    }
    print_report("read", t2, offset, v->size, v->size, 1, Cflag);
    return ret;
}

int readv_f(Session& s, const Command& cmd, int argc, char** argv)
{
    return vectored_read(s, cmd, argc, argv, false);
}

// Fills a buffer by repeating a file's bytes (write -s).
std::unique_ptr<IoBuffer> buffer_from_file(Session& s, const char* path, int64_t len)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::perror(path);
        return nullptr;
    }
    std::vector<char> pattern((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto buf = std::make_unique<IoBuffer>(len, 0, s.misalign);
    if (pattern.empty()) {
        return buf;
    }
    for (int64_t i = 0; i < len; ++i) {
        buf->data()[i] = static_cast<uint8_t>(pattern[i % pattern.size()]);
    }
    return buf;
}

int write_f(Session& s, const Command& cmd, int argc, char** argv)
{
    bool Cflag = false, qflag = false, bflag = false, Pflag = false, zflag = false, cflag = false, sflag = false;
    block::RequestFlags flags;
    int pattern = 0xcd;
    const char* file_name = nullptr;
    int c;
    while ((c = getopt(argc, argv, "bcCfnpP:quzs:")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'c':
            cflag = true;
            break;
        case 'C':
            Cflag = true;
            break;
        case 'f':
            flags.fua = true;
            break;
        case 'n':
            flags.no_fallback = true;
            break;
        case 'p':
            break;  // ignored, as in QEMU
        case 'P':
            Pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            file_name = optarg;
            break;
        case 'u':
            flags.may_unmap = true;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind != argc - 2) {
        return usage(cmd);
    }
    if (bflag && zflag) {
        std::printf("-b and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    if (flags.fua && (bflag || cflag)) {
        std::printf("-f and -b or -c cannot be specified at the same time\n");
        return -EINVAL;
    }
    if (flags.no_fallback && !zflag) {
        std::printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if (flags.may_unmap && !zflag) {
        std::printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (int(zflag) + int(Pflag) + int(sflag) > 1) {
        std::printf("Only one of -z, -P, and -s can be specified at the same time\n");
        return -EINVAL;
    }
    int64_t offset, count;
    int ret = 0;
    if (!parse_offset_length(argv + optind, &offset, &count, &ret)) {
        return ret;
    }
    if (count > block::kRequestMaxBytes && !flags.no_fallback) {
        std::printf("length cannot exceed %" PRIu64 " without -n, given %s\n",
            static_cast<uint64_t>(block::kRequestMaxBytes), argv[optind + 1]);
        return -EINVAL;
    }
    if (bflag || cflag) {
        if (offset % block::kSectorSize) {
            std::printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
            return -EINVAL;
        }
        if (count % block::kSectorSize) {
            std::printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
            return -EINVAL;
        }
    }
    std::unique_ptr<IoBuffer> buf;
    if (!zflag) {
        buf = sflag ? buffer_from_file(s, file_name, count) : std::make_unique<IoBuffer>(count, pattern, s.misalign);
        if (!buf) {
            return -EINVAL;
        }
    }
    timespec t1 = now();
    Result<void> done;
    if (bflag || cflag) {
        // Neither raw nor file keeps VM state or compresses.
        done = std::unexpected(Error{ErrorClass::GenericError, "", ENOTSUP});
    } else if (zflag) {
        done = s.blk->pwrite_zeroes(offset, count, flags);
    } else {
        done = s.blk->pwrite(offset, buf->span(), flags);
    }
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("write failed: %s\n", std::strerror(-error_code(done.error())));
        return error_code(done.error());
    }
    if (qflag) {
        return 0;
    }
    print_report("wrote", t2, offset, count, count, 1, Cflag);
    return 0;
}

int writev_f(Session& s, const Command& cmd, int argc, char** argv)
{
    bool Cflag = false, qflag = false;
    block::RequestFlags flags;
    int pattern = 0xcd;
    int c;
    while ((c = getopt(argc, argv, "CfqP:")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'f':
            flags.fua = true;
            break;
        case 'q':
            qflag = true;
            break;
        case 'P':
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind > argc - 2) {
        return usage(cmd);
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return static_cast<int>(offset);
    }
    optind++;
    auto v = create_iovec(s, argv + optind, argc - optind, pattern);
    if (!v) {
        return -EINVAL;
    }
    timespec t1 = now();
    auto done = s.blk->pwritev(offset, v->iov, flags);
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("writev failed: %s\n", std::strerror(-error_code(done.error())));
        return error_code(done.error());
    }
    if (!qflag) {
        print_report("wrote", t2, offset, v->size, v->size, 1, Cflag);
    }
    return 0;
}

// The aio commands complete before they return (there is no event loop to defer to), so
// they print their result at once; like QEMU they succeed once "submitted".
int aio_read_f(Session& s, const Command& cmd, int argc, char** argv)
{
    return vectored_read(s, cmd, argc, argv, true);
}

int aio_write_f(Session& s, const Command& cmd, int argc, char** argv)
{
    bool Cflag = false, qflag = false, Pflag = false, zflag = false;
    block::RequestFlags flags;
    int pattern = 0xcd;
    int c;
    while ((c = getopt(argc, argv, "CfiqP:uz")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'f':
            flags.fua = true;
            break;
        case 'i':
            std::printf("injecting invalid write request\n");
            return 0;
        case 'q':
            qflag = true;
            break;
        case 'P':
            Pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'u':
            flags.may_unmap = true;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind > argc - 2) {
        return usage(cmd);
    }
    if (zflag && optind != argc - 2) {
        std::printf("-z supports only a single length parameter\n");
        return -EINVAL;
    }
    if (flags.may_unmap && !zflag) {
        std::printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (zflag && Pflag) {
        std::printf("-z and -P cannot be specified at the same time\n");
        return -EINVAL;
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return static_cast<int>(offset);
    }
    optind++;
    timespec t1{};
    Result<void> done;
    int64_t size;
    if (zflag) {
        size = cvtnum(argv[optind]);
        if (size < 0) {
            print_cvtnum_err(size, argv[optind]);
            return static_cast<int>(size);
        }
        // QEMU 7.2 never starts the clock for aio_write -z, so its report measures from 0;
        // the start time stays zero here too so that the line has the same shape.
        done = s.blk->pwrite_zeroes(offset, size, flags);
    } else {
        auto v = create_iovec(s, argv + optind, argc - optind, pattern);
        if (!v) {
            return -EINVAL;
        }
        size = v->size;
        t1 = now();
        done = s.blk->pwritev(offset, v->iov, flags);
    }
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("aio_write failed: %s\n", std::strerror(-error_code(done.error())));
        return 0;
    }
    if (!qflag) {
        print_report("wrote", t2, offset, size, size, 1, Cflag);
    }
    return 0;
}

int aio_flush_f(Session&, const Command&, int, char**)
{
    return 0;  // every aio request has already completed
}

int flush_f(Session& s, const Command&, int, char**)
{
    auto done = s.blk->flush();
    return done ? 0 : error_code(done.error());
}

int discard_f(Session& s, const Command& cmd, int argc, char** argv)
{
    bool Cflag = false, qflag = false;
    int c;
    while ((c = getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind != argc - 2) {
        return usage(cmd);
    }
    int64_t offset, bytes;
    int ret = 0;
    if (!parse_offset_length(argv + optind, &offset, &bytes, &ret)) {
        return ret;
    }
    if (bytes > block::kRequestMaxBytes) {
        std::printf("length cannot exceed %" PRIu64 ", given %s\n", static_cast<uint64_t>(block::kRequestMaxBytes),
            argv[optind + 1]);
        return -EINVAL;
    }
    timespec t1 = now();
    auto done = s.blk->discard(offset, bytes);
    timespec t2 = elapsed_since(t1);
    if (!done) {
        std::printf("discard failed: %s\n", std::strerror(-error_code(done.error())));
        return error_code(done.error());
    }
    if (!qflag) {
        print_report("discard", t2, offset, bytes, bytes, 1, Cflag);
    }
    return 0;
}

int truncate_f(Session& s, const Command& cmd, int argc, char** argv)
{
    block::Prealloc prealloc = block::Prealloc::Off;
    int c;
    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm': {
            auto mode = block::parse_prealloc(optarg);
            if (!mode) {
                error_report(std::string("Invalid preallocation mode '") + optarg + "'");
                return -EINVAL;
            }
            prealloc = *mode;
            break;
        }
        default:
            return usage(cmd);
        }
    }
    if (optind >= argc) {
        return usage(cmd);
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[1]);
        return static_cast<int>(offset);
    }
    auto done = s.blk->truncate(offset, prealloc);
    if (!done) {
        error_report(done.error().desc);
        return error_code(done.error());
    }
    return 0;
}

int length_f(Session& s, const Command&, int, char**)
{
    auto size = s.blk->length();
    if (!size) {
        std::printf("getlength: %s\n", std::strerror(-error_code(size.error())));
        return error_code(size.error());
    }
    std::printf("%s\n", cvtstr(static_cast<double>(*size)).c_str());
    return 0;
}

int info_f(Session& s, const Command&, int, char**)
{
    block::BlockNode& root = s.blk->root();
    std::printf("format name: %s\n", std::string(root.driver().format_name).c_str());
    if (!root.driver().protocol_name.empty()) {
        std::printf("format name: %s\n", std::string(root.driver().protocol_name).c_str());
    }
    auto info = root.info();
    if (!info) {
        return error_code(info.error());
    }
    std::printf("cluster size: %s\n", cvtstr(static_cast<double>(info->cluster_size)).c_str());
    std::printf("vm state offset: %s\n", cvtstr(static_cast<double>(info->vm_state_offset)).c_str());
    return 0;
}

// How far from offset the allocation state stays the same as at offset.
Result<bool> map_is_allocated(block::BlockNode& node, int64_t offset, int64_t bytes, int64_t* pnum)
{
    int64_t num = 0;
    bool first = TRY(node.is_allocated(offset, bytes, &num));
    *pnum = num;
    while (bytes > 0) {
        offset += num;
        bytes -= num;
        if (bytes <= 0) {
            break;
        }
        bool next = TRY(node.is_allocated(offset, bytes, &num));
        if (next != first || num == 0) {
            break;
        }
        *pnum += num;
    }
    return first;
}

int map_f(Session& s, const Command&, int, char**)
{
    auto length = s.blk->length();
    if (!length) {
        error_report(std::string("Failed to query image length: ") + std::strerror(-error_code(length.error())));
        return error_code(length.error());
    }
    int64_t offset = 0;
    int64_t bytes = *length;
    while (bytes) {
        int64_t num = 0;
        auto allocated = map_is_allocated(s.blk->root(), offset, bytes, &num);
        if (!allocated) {
            error_report(
                std::string("Failed to get allocation status: ") + std::strerror(-error_code(allocated.error())));
            return error_code(allocated.error());
        }
        if (!num) {
            error_report("Unexpected end of image");
            return -EIO;
        }
        std::printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n",
            cvtstr(static_cast<double>(num)).c_str(), num, *allocated ? "    allocated" : "not allocated",
            cvtstr(static_cast<double>(offset)).c_str(), offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}

int alloc_f(Session& s, const Command&, int argc, char** argv)
{
    int64_t start = cvtnum(argv[1]);
    if (start < 0) {
        print_cvtnum_err(start, argv[1]);
        return static_cast<int>(start);
    }
    int64_t bytes = block::kSectorSize;
    if (argc == 3) {
        bytes = cvtnum(argv[2]);
        if (bytes < 0) {
            print_cvtnum_err(bytes, argv[2]);
            return static_cast<int>(bytes);
        }
        if (bytes > block::kRequestMaxBytes) {
            std::printf("length cannot exceed %" PRIu64 ", given %s\n", static_cast<uint64_t>(block::kRequestMaxBytes),
                argv[2]);
            return -EINVAL;
        }
    }
    int64_t offset = start;
    int64_t remaining = bytes;
    int64_t sum_alloc = 0;
    while (remaining) {
        int64_t num = 0;
        auto allocated = s.blk->root().is_allocated(offset, remaining, &num);
        if (!allocated) {
            std::printf("is_allocated failed: %s\n", std::strerror(-error_code(allocated.error())));
            return error_code(allocated.error());
        }
        offset += num;
        remaining -= num;
        if (*allocated) {
            sum_alloc += num;
        }
        if (num == 0) {
            bytes -= remaining;
            remaining = 0;
        }
    }
    std::printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n", sum_alloc, bytes,
        cvtstr(static_cast<double>(start)).c_str());
    return 0;
}

int open_f(Session& s, const Command& cmd, int argc, char** argv)
{
    OpenRequest request;
    block::BlockOptions options;
    bool have_options = false;
    int c;
    while ((c = getopt(argc, argv, "snCro:ki:t:d:U")) != -1) {
        switch (c) {
        case 's':
            error_report("snapshot=on is not supported");
            return -EINVAL;
        case 'n':
            request.flags.cache_direct = true;
            request.writethrough = false;
            break;
        case 'C':
            break;  // copy-on-read has nothing to copy from without backing files
        case 'r':
            request.flags.read_write = false;
            break;
        case 'k':
            request.aio = "native";
            break;
        case 't':
            if (!parse_cache_mode(optarg, request)) {
                error_report(std::string("Invalid cache option: ") + optarg);
                return -EINVAL;
            }
            break;
        case 'd':
            if (!parse_discard_mode(optarg, request)) {
                error_report(std::string("Invalid discard option: ") + optarg);
                return -EINVAL;
            }
            break;
        case 'i':
            if (std::string_view(optarg) != "threads" && std::string_view(optarg) != "native" &&
                std::string_view(optarg) != "io_uring") {
                error_report(std::string("Invalid aio option: ") + optarg);
                return -EINVAL;
            }
            request.aio = optarg;
            break;
        case 'o': {
            if (s.image_opts) {
                std::printf("--image-opts and 'open -o' are mutually exclusive\n");
                return -EINVAL;
            }
            auto parsed = QemuOpts::parse(optarg);
            if (!parsed) {
                error_report(parsed.error().desc);
                return -EINVAL;
            }
            for (const auto& [key, value] : parsed->entries()) {
                options[key] = value;
            }
            have_options = true;
            break;
        }
        case 'U':
            request.force_share = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (s.image_opts && optind == argc - 1) {
        auto parsed = QemuOpts::parse(argv[optind]);
        if (!parsed) {
            error_report(parsed.error().desc);
            return -EINVAL;
        }
        for (const auto& [key, value] : parsed->entries()) {
            options[key] = value;
        }
        have_options = true;
        optind++;
    }
    (void)have_options;
    bool opened;
    if (optind == argc - 1) {
        opened = open_file(s, std::string(argv[optind]), request, std::move(options));
    } else if (optind == argc) {
        opened = open_file(s, std::nullopt, request, std::move(options));
    } else {
        return usage(cmd);
    }
    return opened ? 0 : -EINVAL;
}

int close_f(Session& s, const Command&, int, char**)
{
    s.blk.reset();
    return 0;
}

int quit_f(Session& s, const Command&, int, char**)
{
    s.quit = true;
    return 0;
}

int sleep_f(Session&, const Command&, int, char** argv)
{
    char* end = nullptr;
    long ms = std::strtol(argv[1], &end, 0);
    if (ms < 0 || *end != '\0') {
        std::printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return 0;
}

int sigraise_f(Session&, const Command&, int, char** argv)
{
    int64_t sig = cvtnum(argv[1]);
    if (sig < 0) {
        print_cvtnum_err(sig, argv[1]);
        return static_cast<int>(sig);
    }
    if (sig > NSIG) {
        std::printf("signal argument '%s' is too large to be a valid signal\n", argv[1]);
        return -EINVAL;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    raise(static_cast<int>(sig));
    return 0;
}

int abort_f(Session&, const Command&, int, char**)
{
    abort();
}

// The current settings of a node as a full reopen option set, so that a reopen changes
// only what it names (bdrv_reopen with keep_old_opts).
block::BlockOptions current_options(block::BlockNode& node)
{
    block::BlockOptions options = node.open_options();
    options["driver"] = std::string(node.driver().format_name);
    const block::OpenFlags& flags = node.flags();
    options["read-only"] = flags.read_write ? "off" : "on";
    options["auto-read-only"] = flags.auto_read_only ? "on" : "off";
    options["cache.direct"] = flags.cache_direct ? "on" : "off";
    options["cache.no-flush"] = flags.no_flush ? "on" : "off";
    options["discard"] = flags.unmap ? "unmap" : "ignore";
    options["force-share"] = flags.force_share ? "on" : "off";
    static constexpr const char* kDetect[] = {"off", "on", "unmap"};
    options["detect-zeroes"] = kDetect[static_cast<int>(flags.detect_zeroes)];
    if (block::BlockNode* file = node.file()) {
        options["file"] = file->node_name();
    }
    return options;
}

int reopen_f(Session& s, const Command& cmd, int argc, char** argv)
{
    block::BlockNode& root = s.blk->root();
    OpenRequest cache{.flags = root.flags(), .writethrough = !s.blk->write_cache_enabled()};
    bool read_write = !root.read_only();
    bool has_rw = false;
    bool has_cache = false;
    block::BlockOptions given;
    int c;
    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (!parse_cache_mode(optarg, cache)) {
                error_report(std::string("Invalid cache option: ") + optarg);
                return -EINVAL;
            }
            has_cache = true;
            break;
        case 'o': {
            auto parsed = QemuOpts::parse(optarg);
            if (!parsed) {
                error_report(parsed.error().desc);
                return -EINVAL;
            }
            for (const auto& [key, value] : parsed->entries()) {
                given[key] = value;
            }
            break;
        }
        case 'r':
        case 'w':
            if (has_rw) {
                error_report("Only one -r/-w option may be given");
                return -EINVAL;
            }
            read_write = c == 'w';
            has_rw = true;
            break;
        default:
            return usage(cmd);
        }
    }
    if (optind != argc) {
        return usage(cmd);
    }
    if (given.contains("read-only")) {
        if (has_rw) {
            error_report("Cannot set both -r/-w and 'read-only'");
            return -EINVAL;
        }
    } else {
        given["read-only"] = read_write ? "off" : "on";
    }
    if (given.contains("cache.direct") || given.contains("cache.no-flush")) {
        if (has_cache) {
            error_report("Cannot set both -c and the cache options");
            return -EINVAL;
        }
    } else {
        given["cache.direct"] = cache.flags.cache_direct ? "on" : "off";
        given["cache.no-flush"] = cache.flags.no_flush ? "on" : "off";
    }
    if (!read_write) {
        // As QEMU's qemu-io: going read-only with -r (or staying so) first gives up the
        // write permission, so the next write asks for it again and is refused.
        uint64_t keep = s.blk->perm() & ~(block::perm::kWrite | block::perm::kWriteUnchanged);
        if (auto dropped = s.blk->set_perm(keep, s.blk->shared_perm()); !dropped) {
            error_report(dropped.error().desc);
            return -EINVAL;
        }
    }
    block::BlockOptions options = current_options(root);
    for (auto& [key, value] : given) {
        options[key] = std::move(value);
    }
    if (std::ranges::any_of(options, [](const auto& kv) { return kv.first.starts_with("file."); })) {
        options.erase("file");  // the child is described inline instead
    }
    if (auto done = block::reopen(root, std::move(options)); !done) {
        error_report(done.error().desc);
        return -EINVAL;
    }
    s.blk->set_write_cache(!cache.writethrough);
    return 0;
}

// blkdebug's breakpoints. This build has no blkdebug driver, so, as QEMU with an image
// that has none, there is no breakpoint to set, remove or resume.
int break_f(Session&, const Command&, int, char**)
{
    std::printf("Could not set breakpoint: %s\n", std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int remove_break_f(Session&, const Command&, int, char** argv)
{
    std::printf("Could not remove breakpoint %s: %s\n", argv[1], std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int resume_f(Session&, const Command&, int, char**)
{
    std::printf("Could not resume request: %s\n", std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int wait_break_f(Session&, const Command&, int, char** argv)
{
    // QEMU polls until blkdebug suspends a request, which without blkdebug never happens,
    // so it waits forever; failing at once is the useful answer.
    std::printf("Could not wait for breakpoint %s: %s\n", argv[1], std::strerror(ENOTSUP));
    return -ENOTSUP;
}

int help_f(Session&, const Command&, int argc, char** argv);

// Sorted by name, as QEMU lists them in `help`.
const Command kCommands[] = {
    {"abort", nullptr, abort_f, 0, 0, nullptr, "simulate a program crash using abort(3)", kNoFileOk | kGlobal},
    {"aio_flush", nullptr, aio_flush_f, 0, 0, nullptr, "completes all outstanding aio requests"},
    {"aio_read", nullptr, aio_read_f, 1, -1, "[-Ciqv] [-P pattern] off len [len..]",
        "asynchronously reads a number of bytes"},
    {"aio_write", nullptr, aio_write_f, 1, -1, "[-Cfiquz] [-P pattern] off len [len..]",
        "asynchronously writes a number of bytes", 0, block::perm::kWrite},
    {"alloc", nullptr, alloc_f, 1, 2, "offset [count]", "checks if offset is allocated in the file"},
    {"break", nullptr, break_f, 2, 2, "event tag", "sets a breakpoint on event and tags the stopped request as tag"},
    {"close", "c", close_f, 0, 0, nullptr, "close the current open file"},
    {"discard", "d", discard_f, 2, -1, "[-Cq] off len", "discards a number of bytes at a specified offset", 0,
        block::perm::kWrite},
    {"flush", "f", flush_f, 0, 0, nullptr, "flush all in-core file state to disk"},
    {"help", "?", help_f, 0, 1, "[command]", "help for one or all commands", kGlobal},
    {"info", "i", info_f, 0, 0, nullptr, "prints information about the current file"},
    {"length", "l", length_f, 0, 0, nullptr, "gets the length of the current file"},
    {"map", nullptr, map_f, 0, 0, "", "prints the allocated areas of a file"},
    {"open", "o", open_f, 1, -1, "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
        "open the file specified by path", kNoFileOk | kGlobal},
    {"quit", "q", quit_f, 0, 0, nullptr, "exit the program", kGlobal},
    {"read", "r", read_f, 2, -1, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
        "reads a number of bytes at a specified offset"},
    {"readv", nullptr, readv_f, 2, -1, "[-Cqv] [-P pattern] off len [len..]",
        "reads a number of bytes at a specified offset"},
    {"remove_break", nullptr, remove_break_f, 1, 1, "tag", "remove a breakpoint by tag"},
    {"reopen", nullptr, reopen_f, 0, -1, "[(-r|-w)] [-c cache] [-o options]", "reopens an image with new options"},
    {"resume", nullptr, resume_f, 1, 1, "tag", "resumes the request tagged as tag"},
    {"sigraise", nullptr, sigraise_f, 1, 1, "signal", "raises a signal", kNoFileOk | kGlobal},
    {"sleep", nullptr, sleep_f, 1, 1, nullptr, "waits for the given value in milliseconds", kNoFileOk | kGlobal},
    {"truncate", "t", truncate_f, 1, 3, "[-m prealloc_mode] off", "truncates the current file at the given offset", 0,
        block::perm::kResize},
    {"wait_break", nullptr, wait_break_f, 1, 1, "tag", "waits for the suspension of a request"},
    {"write", "w", write_f, 2, -1, "[-bcCfnquz] [-P pattern | -s source_file] off len",
        "writes a number of bytes at a specified offset", 0, block::perm::kWrite},
    {"writev", nullptr, writev_f, 2, -1, "[-Cfq] [-P pattern] off len [len..]",
        "writes a number of bytes at a specified offset", 0, block::perm::kWrite},
};

const Command* find_command(std::string_view name)
{
    for (const Command& cmd : kCommands) {
        if (name == cmd.name || (cmd.altname && name == cmd.altname)) {
            return &cmd;
        }
    }
    return nullptr;
}

void help_oneline(const char* name, const Command& cmd)
{
    std::printf("%s ", name);
    if (cmd.args) {
        std::printf("%s ", cmd.args);
    }
    std::printf("-- %s\n", cmd.oneline);
}

int help_f(Session&, const Command&, int argc, char** argv)
{
    if (argc == 1) {
        for (const Command& cmd : kCommands) {
            help_oneline(cmd.name, cmd);
        }
        std::printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    const Command* cmd = find_command(argv[1]);
    if (!cmd) {
        std::printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    help_oneline(argv[1], *cmd);
    std::string_view text = help_text(cmd->name);
    if (!text.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return 0;
}

int dispatch(Session& s, const Command& cmd, std::vector<char*>& argv)
{
    int argc = static_cast<int>(argv.size()) - 1;  // argv ends with a null pointer
    if (!(cmd.flags & kGlobal) && !(cmd.flags & kNoFileOk) && !s.blk) {
        std::fflush(stdout);
        std::fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    int given = argc - 1;
    if (given < cmd.argmin || (cmd.argmax != -1 && given > cmd.argmax)) {
        std::fflush(stdout);
        if (cmd.argmax == -1) {
            std::fprintf(
                stderr, "bad argument count %d to %s, expected at least %d arguments\n", given, argv[0], cmd.argmin);
        } else if (cmd.argmin == cmd.argmax) {
            std::fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", given, argv[0], cmd.argmin);
        } else {
            std::fprintf(stderr, "bad argument count %d to %s, expected between %d and %d arguments\n", given, argv[0],
                cmd.argmin, cmd.argmax);
        }
        return -EINVAL;
    }
    if (cmd.perm && s.blk && (cmd.perm & ~s.blk->perm())) {
        auto granted = s.blk->set_perm(s.blk->perm() | cmd.perm, s.blk->shared_perm());
        if (!granted) {
            error_report(granted.error().desc);
            return error_code(granted.error());
        }
    }
    optind = 0;  // glibc: a full getopt reset for the next argument vector
    return cmd.fn(s, cmd, argc, argv.data());
}

}  // namespace

int run_command(Session& session, std::string_view line)
{
    // Words are split on single spaces; empty words vanish (breakline).
    std::vector<std::string> words;
    size_t pos = 0;
    while (pos <= line.size()) {
        size_t space = line.find(' ', pos);
        if (space == std::string_view::npos) {
            space = line.size();
        }
        if (space > pos) {
            words.emplace_back(line.substr(pos, space - pos));
        }
        pos = space + 1;
    }
    if (words.empty()) {
        return 0;
    }
    std::vector<char*> argv;
    for (std::string& word : words) {
        argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    const Command* cmd = find_command(words[0]);
    if (!cmd) {
        std::fflush(stdout);
        std::fprintf(stderr, "command \"%s\" not found\n", words[0].c_str());
        return -EINVAL;
    }
    return dispatch(session, *cmd, argv);
}

}  // namespace qemu::qemu_io
