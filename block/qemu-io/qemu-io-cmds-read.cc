// qemu-io's read commands: read, readv and aio_read, with pattern checks and dumps.
#include <getopt.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "block/qemu-io/qemu-io-cmds.h"

namespace qemu::qemu_io {

namespace {

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
            s.blk->acct_stats().invalid(block::AcctType::Read);
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
    auto created = create_iovec(s, argv + optind, argc - optind, 0xab);
    if (!created) {
        if (aio) {
            s.blk->acct_stats().invalid(block::AcctType::Read);
        }
        return -EINVAL;
    }
    auto v = std::make_unique<Vectored>(std::move(*created));
    // What readv prints once the read is done (aio_read_done for aio_read).
    auto finish = [=](const Vectored& v, const Result<void>& done, timespec t2) {
        if (!done) {
            std::printf("readv failed: %s\n", std::strerror(-error_code(done.error())));
            return aio ? 0 : error_code(done.error());
        }
        int ret = 0;
        std::span<const uint8_t> data(v.buffer->data(), v.size);
        if (Pflag && !verify_pattern(data, pattern)) {
            std::printf(
                "Pattern verification failed at offset %" PRId64 ", %zu bytes\n", offset, static_cast<size_t>(v.size));
            ret = aio ? 0 : -EINVAL;
        }
        if (qflag) {
            return ret;
        }
        if (vflag) {
            dump_buffer(data, offset);
        }
        print_report("read", t2, offset, v.size, v.size, 1, Cflag);
        return ret;
    };
    timespec t1 = now();
    if (aio) {
        uint64_t number = s.next_aio();
        std::span<const iovec> iov = v->iov;
        block::BlockAcctStats& stats = s.blk->acct_stats();
        block::AcctCookie cookie = stats.start(v->size, block::AcctType::Read);
        s.blk->aio_preadv(
            s.aio, offset, iov, [&s, &stats, cookie, number, t1, finish, v = std::move(v)](Result<void> done) mutable {
                if (done) {
                    stats.done(cookie);
                } else {
                    stats.failed(cookie);
                }
                timespec t2 = elapsed_since(t1);
                s.report(number, [finish, v = std::move(v), done = std::move(done), t2] { finish(*v, done, t2); });
            });
        return 0;
    }
    auto done = s.blk->preadv(offset, v->iov);
    return finish(*v, done, elapsed_since(t1));
}

}  // namespace

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

int readv_f(Session& s, const Command& cmd, int argc, char** argv)
{
    return vectored_read(s, cmd, argc, argv, false);
}

// The aio commands complete before they return (there is no event loop to defer to), so
// they print their result at once; like QEMU they succeed once "submitted".
int aio_read_f(Session& s, const Command& cmd, int argc, char** argv)
{
    return vectored_read(s, cmd, argc, argv, true);
}

}  // namespace qemu::qemu_io
