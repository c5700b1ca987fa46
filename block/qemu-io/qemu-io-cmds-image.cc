// qemu-io's commands on the image as a whole: flush, discard, truncate, and the ones that
// describe it (length, info, map, alloc).
#include <getopt.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "block/node-filename.h"
#include "block/qemu-io/qemu-io-cmds.h"

namespace qemu::qemu_io {

namespace {

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

}  // namespace

int aio_flush_f(Session& s, const Command&, int, char**)
{
    block::AcctCookie cookie = s.blk->acct_stats().start(0, block::AcctType::Flush);
    s.drain();  // the dispatcher has drained already; aio_flush is that wait
    s.blk->acct_stats().done(cookie);
    return 0;
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
    if (root.driver().get_specific_info) {
        auto specific = root.driver().get_specific_info(root);
        if (!specific) {
            error_report(specific.error().desc);
            return error_code(specific.error());
        }
        if (*specific) {
            std::printf("Format specific information:\n%s", block::dump_format_specific(**specific).c_str());
        }
    }
    return 0;
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

}  // namespace qemu::qemu_io
