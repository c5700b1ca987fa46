// qemu-io's write commands: write (from a pattern, zeroes or a file's bytes), writev and
// aio_write.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "block/qemu-io/qemu-io-cmds.h"
#include "util/osdep.h"

namespace qemu::qemu_io {

namespace {

// Fills a buffer by repeating a file's first len bytes (write -s), as QEMU's
// qemu_io_alloc_from_file; the file is opened through qemu_open, so it may be an fd set.
std::unique_ptr<IoBuffer> buffer_from_file(Session& s, const char* path, int64_t len)
{
    auto fd = qemu_open(s.blk->root().graph().context(), path, O_RDONLY);
    if (!fd) {
        std::fprintf(stderr, "%s: %s\n", path, std::strerror(fd.error().errno_or(EIO)));
        return nullptr;
    }
    auto buf = std::make_unique<IoBuffer>(len, 0, s.misalign);
    uint8_t* data = buf->data();
    int64_t pattern_len = 0;
    while (pattern_len < len) {
        ssize_t got = ::read(fd->get(), data + pattern_len, static_cast<size_t>(len - pattern_len));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            std::fprintf(stderr, "%s: %s\n", path, std::strerror(errno));
            return nullptr;
        }
        if (got == 0) {
            break;
        }
        pattern_len += got;
    }
    if (pattern_len == 0) {
        std::fprintf(stderr, "%s: file is empty\n", path);
        return nullptr;
    }
    for (int64_t i = pattern_len; i < len; ++i) {
        data[i] = data[i % pattern_len];
    }
    return buf;
}

}  // namespace

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
    if (bflag || (cflag && !s.blk->root().driver().supports_compressed_writes)) {
        // No driver here keeps VM state; only some take compressed writes.
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
            s.blk->acct_stats().invalid(block::AcctType::Write);
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
    // aio_write_done: the report once the write is done, in its turn among the others.
    auto finish = [&s, offset, qflag, Cflag](uint64_t number, int64_t size, Result<void> done, timespec t2) {
        s.report(number, [=, done = std::move(done)] {
            if (!done) {
                std::printf("aio_write failed: %s\n", std::strerror(-error_code(done.error())));
            } else if (!qflag) {
                print_report("wrote", t2, offset, size, size, 1, Cflag);
            }
        });
    };
    if (zflag) {
        int64_t size = cvtnum(argv[optind]);
        if (size < 0) {
            print_cvtnum_err(size, argv[optind]);
            return static_cast<int>(size);
        }
        // Zeroing runs at once; its report waits for its turn like the others. QEMU 7.2
        // never starts the clock for aio_write -z, so its report measures from 0; the start
        // time stays zero here too so that the line has the same shape.
        uint64_t number = s.next_aio();
        auto done = s.blk->pwrite_zeroes(offset, size, flags);
        timespec t2 = elapsed_since(timespec{});
        s.aio.defer([finish, number, size, done = std::move(done), t2]() mutable { finish(number, size, std::move(done), t2); });
        return 0;
    }
    auto created = create_iovec(s, argv + optind, argc - optind, pattern);
    if (!created) {
        s.blk->acct_stats().invalid(block::AcctType::Write);
        return -EINVAL;
    }
    auto v = std::make_unique<Vectored>(std::move(*created));
    uint64_t number = s.next_aio();
    std::span<const iovec> iov = v->iov;
    timespec t1 = now();
    block::BlockAcctStats& stats = s.blk->acct_stats();
    block::AcctCookie cookie = stats.start(v->size, block::AcctType::Write);
    s.blk->aio_pwritev(
        s.aio, offset, iov, flags, [finish, &stats, cookie, number, t1, v = std::move(v)](Result<void> done) mutable {
            if (done) {
                stats.done(cookie);
            } else {
                stats.failed(cookie);
            }
            finish(number, v->size, std::move(done), elapsed_since(t1));
        });
    return 0;
}

}  // namespace qemu::qemu_io
