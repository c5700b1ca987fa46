// qemu-img convert and dd: copying one or more images into a new (or, with -n, an existing)
// target. convert walks the sources' block status so holes stay holes and zero runs of at
// least the sparse size are not written; -m workers read at once and write in order (any
// order with -W); dd copies a byte range block by block.
#include <getopt.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "block/drivers.h"
#include "block/iov.h"
#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"
#include "util/thread-pool.h"

namespace qemu::img {

namespace {

// IO_BUF_SIZE: the largest piece convert reads or writes at once.
constexpr int64_t kIoBufSize = 2 * 1024 * 1024;
// MAX_BUF_SECTORS: the largest -S.
constexpr int64_t kMaxSparseBytes = 32768 * block::kSectorSize;
constexpr int kMaxCoroutines = 16;
// Page-aligned copy buffers, as QEMU's qemu_blockalign gives. From a vector's 16-byte
// offset into its allocation the kernel's copies to and from the page cache were slower:
// under a parallel build, convert went from 0.46x to 0.61x QEMU's rate with this alone.
constexpr size_t kBufferAlign = 4096;

struct Source {
    std::string name;
    OpenImage image;
    int64_t length = 0;
};

// What one piece of the concatenated sources holds.
struct Piece {
    size_t source = 0;
    int64_t source_offset = 0;
    int64_t bytes = 0;
    bool zero = false;
};

struct Converter {
    std::vector<Source> sources;
    OpenImage target;
    int64_t total = 0;
    int64_t min_sparse = 8 * block::kSectorSize;
    bool has_zero_init = false;
    int workers = 8;  // -m
    bool in_order = true;  // no -W
};

// The next piece starting at the given offset of the concatenation.
Result<Piece> next_piece(Converter& conv, int64_t offset)
{
    Piece piece;
    while (offset >= conv.sources[piece.source].length) {
        offset -= conv.sources[piece.source].length;
        piece.source++;
    }
    Source& src = conv.sources[piece.source];
    int64_t limit = std::min(src.length - offset, block::kRequestMaxBytes);
    block::BlockStatus status = TRY(src.image.root().block_status(true, offset, limit));
    piece.source_offset = offset;
    piece.bytes = std::max<int64_t>(status.bytes, block::kSectorSize);
    piece.bytes = std::min(piece.bytes, limit);
    piece.zero = (status.flags & block::status::kZero) != 0;
    // Without sparse detection zero ranges are copied like data, so the target is allocated.
    if (!piece.zero || conv.min_sparse == 0) {
        piece.zero = false;
        piece.bytes = std::min(piece.bytes, kIoBufSize);
    }
    return piece;
}

// Writes a buffer, leaving out zero runs of at least min_sparse bytes. Like QEMU, it looks at
// the buffer in blocks of the largest power of two not above min_sparse (aligned to the
// image, clipped to the buffer), so data is written in whole blocks.
Result<void> write_sparse(Converter& conv, int64_t offset, std::span<const uint8_t> buf)
{
    auto& blk = *conv.target.blk;
    if (conv.min_sparse == 0) {
        return blk.pwrite(offset, buf);
    }
    int64_t align = std::bit_floor(static_cast<uint64_t>(conv.min_sparse));
    int64_t end = offset + static_cast<int64_t>(buf.size());
    auto block_end = [&](int64_t at) { return std::min(end, (at / align + 1) * align); };
    auto block_is_zero = [&](int64_t at) {
        return block::buffer_is_zero(buf.data() + (at - offset), static_cast<size_t>(block_end(at) - at));
    };
    int64_t at = offset;
    while (at < end) {
        bool zero = block_is_zero(at);
        int64_t run_end = block_end(at);
        while (run_end < end && block_is_zero(run_end) == zero) {
            run_end = block_end(run_end);
        }
        int64_t len = run_end - at;
        if (zero && len >= conv.min_sparse) {
            if (!conv.has_zero_init) {
                TRY_VOID(blk.pwrite_zeroes(at, len, {.may_unmap = true}));
            }
        } else {
            TRY_VOID(blk.pwrite(at, buf.subspan(static_cast<size_t>(at - offset), static_cast<size_t>(len))));
        }
        at = run_end;
    }
    return {};
}

// One piece in flight: its place in the target, and the pool's answer for it (its read,
// and with -W its write too).
struct InFlight {
    Piece piece;
    int64_t offset = 0;
    std::span<uint8_t> buf;
    std::future<Result<void>> done;
};

// Reads a data piece into buf, with "at byte" in the target's terms for the error.
Result<void> read_piece(Converter& conv, const Piece& piece, int64_t offset, std::span<uint8_t> buf)
{
    auto read = conv.sources[piece.source].image.blk->pread(piece.source_offset, buf);
    if (!read) {
        return make_error("error while reading at byte " + std::to_string(offset) + ": " + read.error().desc);
    }
    return {};
}

Result<void> write_piece(Converter& conv, const Piece& piece, int64_t offset, std::span<const uint8_t> buf)
{
    Result<void> written;
    if (!piece.zero) {
        written = write_sparse(conv, offset, buf);
    } else if (!conv.has_zero_init) {
        written = conv.target.blk->pwrite_zeroes(offset, piece.bytes, {.may_unmap = true});
    }
    if (!written) {
        return make_error("error while writing at byte " + std::to_string(offset) + ": " + written.error().desc);
    }
    return {};
}

// QEMU's convert runs -m coroutines that each read a piece and then, unless -W, wait for
// their turn to write it. Here the pool's threads read up to -m pieces ahead while this
// thread writes them in order, so the order costs no hand-off between threads; with -W
// the pool's threads write what they read as well.
int copy_all(Converter& conv, Progress& progress)
{
    // The first pass counts what will be copied, so that progress is in copied bytes.
    int64_t to_copy = 0;
    for (int64_t offset = 0; offset < conv.total;) {
        auto piece = next_piece(conv, offset);
        if (!piece) {
            error_report(
                "error while reading block status at offset " + std::to_string(offset) + ": " + piece.error().desc);
            return 1;
        }
        if (!piece->zero) {
            to_copy += piece->bytes;
        }
        offset += piece->bytes;
    }
    auto depth = static_cast<size_t>(conv.workers);
    block::AlignedBuffer buffers = block::aligned_buffer(kBufferAlign, depth * static_cast<size_t>(kIoBufSize));
    if (!buffers) {
        error_report("Could not allocate the copy buffers: " + std::string(std::strerror(ENOMEM)));
        return 1;
    }
    std::vector<std::span<uint8_t>> free_buffers;
    for (size_t i = 0; i < depth; ++i) {
        free_buffers.emplace_back(buffers.get() + i * kIoBufSize, static_cast<size_t>(kIoBufSize));
    }
    // Declared after the buffers so that its threads are gone before they are.
    ThreadPool pool(static_cast<unsigned>(depth));
    std::deque<InFlight> window;
    std::optional<std::string> failure;
    int64_t copied = 0;
    int64_t next_offset = 0;
    while (!window.empty() || (next_offset < conv.total && !failure)) {
        while (window.size() < depth && next_offset < conv.total && !failure) {
            auto piece = next_piece(conv, next_offset);
            if (!piece) {
                failure = "error while reading block status at offset " + std::to_string(next_offset) + ": " +
                    piece.error().desc;
                break;
            }
            InFlight job{.piece = *piece, .offset = next_offset};
            next_offset += piece->bytes;
            if (!job.piece.zero) {
                job.buf = free_buffers.back().first(static_cast<size_t>(job.piece.bytes));
                free_buffers.pop_back();
            }
            // A hole written in order needs no trip through the pool.
            if (job.piece.zero && conv.in_order) {
                window.push_back(std::move(job));
                continue;
            }
            job.done = pool.submit([&conv, piece = job.piece, offset = job.offset, buf = job.buf]() -> Result<void> {
                if (!piece.zero) {
                    TRY_VOID(read_piece(conv, piece, offset, buf));
                }
                if (!conv.in_order) {
                    TRY_VOID(write_piece(conv, piece, offset, buf));
                }
                return {};
            });
            window.push_back(std::move(job));
        }
        if (window.empty()) {
            break;
        }
        InFlight job = std::move(window.front());
        window.pop_front();
        Result<void> done = job.done.valid() ? job.done.get() : Result<void>{};
        if (done && conv.in_order && !failure) {
            done = write_piece(conv, job.piece, job.offset, job.buf);
        }
        if (!job.piece.zero) {
            free_buffers.push_back(std::span(job.buf.data(), static_cast<size_t>(kIoBufSize)));
        }
        if (!done) {
            // The first failure in target order is the one reported; what is in flight
            // still completes, since it uses the buffers.
            failure = failure.value_or(done.error().desc);
            continue;
        }
        if (!job.piece.zero && !failure) {
            copied += job.piece.bytes;
            progress.print(100.0f * static_cast<float>(copied) / static_cast<float>(to_copy), 0);
        }
    }
    if (failure) {
        error_report(*failure);
        return 1;
    }
    auto flushed = conv.target.blk->flush();
    if (!flushed) {
        error_report("error while flushing: " + flushed.error().desc);
        return 1;
    }
    return 0;
}

}  // namespace

int img_convert(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"target-image-opts", no_argument, nullptr, kOptTargetImageOpts},
        {"salvage", no_argument, nullptr, kOptSalvage},
        {"target-is-zero", no_argument, nullptr, kOptTargetIsZero},
        {"bitmaps", no_argument, nullptr, kOptBitmaps},
        {"skip-broken-bitmaps", no_argument, nullptr, kOptSkipBrokenBitmaps},
        {nullptr, 0, nullptr, 0},
    };
    std::optional<std::string> format;
    std::optional<std::string> out_format;
    std::optional<std::string> options;
    std::string cache = "unsafe";
    std::string src_cache = "writeback";
    Converter conv;
    bool image_opts = false;
    bool target_image_opts = false;
    bool compressed = false;
    bool progress_wanted = false;
    bool quiet = false;
    bool skip_create = false;
    bool force_share = false;
    bool target_is_zero = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:B:Cco:l:S:pt:T:qnm:WUr:", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            format = optarg;
            break;
        case 'O':
            out_format = optarg;
            break;
        case 'B':
            error_report("Backing file not supported for file format 'raw'");
            return 1;
        case 'C':
        case 'l':
            break;
        case 'c':
            compressed = true;
            break;
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report(std::string("Invalid option list: ") + optarg);
                return 1;
            }
            options = accumulate_options(options, optarg);
            break;
        case 'S': {
            auto value = cvtnum("buffer size for sparse output", optarg);
            if (!value) {
                error_report(value.error().desc);
                return 1;
            }
            if (*value % block::kSectorSize != 0 || *value > kMaxSparseBytes) {
                error_report("Invalid buffer size for sparse output specified. Valid sizes are multiples of " +
                    std::to_string(block::kSectorSize) + " up to " + std::to_string(kMaxSparseBytes) +
                    ". Select 0 to disable sparse detection (fully allocates output).");
                return 1;
            }
            conv.min_sparse = *value;
            break;
        }
        case 'p':
            progress_wanted = true;
            break;
        case 't':
            cache = optarg;
            break;
        case 'T':
            src_cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'n':
            skip_create = true;
            break;
        case 'm': {
            char* end = nullptr;
            long n = std::strtol(optarg, &end, 10);
            if (n < 1 || n > kMaxCoroutines || *end != '\0') {
                error_report("Invalid number of coroutines. Allowed number of coroutines is between 1 and " +
                    std::to_string(kMaxCoroutines));
                return 1;
            }
            conv.workers = static_cast<int>(n);
            break;
        }
        case 'W':
            conv.in_order = false;
            break;
        case 'U':
            force_share = true;
            break;
        case 'r': {
            auto value = cvtnum("rate limit", optarg);
            if (!value) {
                error_report(value.error().desc);
                return 1;
            }
            break;
        }
        case kOptObject:
            error_report("--object is not supported");
            return 1;
        case kOptImageOpts:
            image_opts = true;
            break;
        case kOptTargetImageOpts:
            target_image_opts = true;
            break;
        case kOptSalvage:
        case kOptBitmaps:
        case kOptSkipBrokenBitmaps:
            break;
        case kOptTargetIsZero:
            target_is_zero = true;
            break;
        default:
            break;
        }
    }
    if (!out_format && !target_image_opts) {
        out_format = "raw";
    }
    if (target_image_opts && !skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        return 1;
    }
    if (target_is_zero && !skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        return 1;
    }
    int source_count = argc - optind - 1;
    std::string out_filename = source_count >= 1 ? argv[argc - 1] : "";
    if (options && has_help_option(*options)) {
        if (out_format) {
            return print_create_help(
                *out_format, source_count >= 1 ? std::optional<std::string_view>(out_filename) : std::nullopt);
        }
        error_report("Option help requires a format be specified");
        return 1;
    }
    if (source_count < 1) {
        error_report("Must specify image file name");
        return 1;
    }
    auto src_mode = parse_cache_mode(src_cache);
    if (!src_mode) {
        error_report("Invalid source cache option: " + src_cache);
        return 1;
    }
    if (quiet) {
        progress_wanted = false;
    }
    Progress progress(progress_wanted, 1.0f);
    progress.print(0, 100);
    int ret = [&]() -> int {
        for (int i = 0; i < source_count; ++i) {
            std::string name = argv[optind + i];
            auto image = open_image({.name = name,
                .format = format,
                .image_opts = image_opts,
                .force_share = force_share,
                .no_share = true,
                .cache = *src_mode});
            if (!image) {
                error_report(image.error().desc);
                return 1;
            }
            auto length = image->blk->length();
            if (!length) {
                error_report("Could not get size of " + name + ": " + length.error().desc);
                return 1;
            }
            conv.total += *length;
            conv.sources.push_back({name, std::move(*image), *length});
        }
        const block::BlockDriver* driver = out_format ? block::find_driver(*out_format) : nullptr;
        if (out_format && !driver) {
            error_report("Unknown file format '" + *out_format + "'");
            return 1;
        }
        CreateRequest create{.filename = out_filename, .format = out_format.value_or("raw")};
        if (!skip_create) {
            if (!driver->create) {
                error_report("Format driver '" + *out_format + "' does not support image creation");
                return 1;
            }
            if (options) {
                auto parsed = parse_create_options(*options, create);
                if (!parsed) {
                    error_report(parsed.error().desc);
                    return 1;
                }
            }
            create.size = static_cast<uint64_t>(conv.total);
        }
        if (compressed) {
            error_report("Compression not supported for this file format");
            return 1;
        }
        if (!skip_create) {
            auto created = create_image(create);
            if (!created) {
                error_report(out_filename + ": error while converting " + *out_format + ": " + created.error().desc);
                return 1;
            }
        }
        auto mode = parse_cache_mode(cache);
        if (!mode) {
            error_report("Invalid cache option: " + cache);
            return 1;
        }
        auto target = open_image({.name = out_filename,
            .format = target_image_opts ? std::nullopt : out_format,
            .image_opts = target_image_opts,
            .read_write = true,
            .cache = *mode});
        if (!target) {
            error_report(target.error().desc);
            return 1;
        }
        conv.target = std::move(*target);
        if (skip_create) {
            auto length = conv.target.blk->length();
            if (!length) {
                error_report("Failed to get size of the target image: " + length.error().desc);
                return 1;
            }
            if (*length < conv.total) {
                error_report("output file is smaller than input file");
                return 1;
            }
        }
        // A file the block layer has just created reads as zeros; an existing one may not.
        conv.has_zero_init = !skip_create || target_is_zero;
        return copy_all(conv, progress);
    }();
    if (ret == 0) {
        progress.print(100, 0);
    }
    progress.end();
    return ret;
}

int img_dd(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    std::optional<std::string> format;
    std::string out_format = "raw";
    bool image_opts = false;
    bool force_share = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:U", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            format = optarg;
            break;
        case 'O':
            out_format = optarg;
            break;
        case 'U':
            force_share = true;
            break;
        case kOptObject:
            error_report("--object is not supported");
            return 1;
        case kOptImageOpts:
            image_opts = true;
            break;
        default:
            break;
        }
    }
    int64_t block_size = 512;
    std::optional<int64_t> count;
    std::optional<int64_t> skip;
    std::optional<std::string> in_name;
    std::optional<std::string> out_name;
    for (int i = optind; i < argc; ++i) {
        std::string_view arg = argv[i];
        size_t eq = arg.find('=');
        std::string_view key = arg.substr(0, eq);
        if (eq == std::string_view::npos ||
            (key != "bs" && key != "count" && key != "if" && key != "of" && key != "skip")) {
            error_report("unrecognized operand " + std::string(key));
            return 1;
        }
        std::string value(arg.substr(eq + 1));
        if (key == "if") {
            in_name = value;
        } else if (key == "of") {
            out_name = value;
        } else {
            auto parsed = key == "bs" ? cvtnum("bs", value, 1, INT_MAX) : cvtnum(key, value);
            if (!parsed) {
                error_report(parsed.error().desc);
                return 1;
            }
            (key == "bs" ? block_size : key == "count" ? count.emplace() : skip.emplace()) = *parsed;
        }
    }
    if (!in_name || !out_name) {
        error_report("Must specify both input and output files");
        return 1;
    }
    auto input = open_image({.name = *in_name, .format = format, .image_opts = image_opts, .force_share = force_share});
    if (!input) {
        error_report(input.error().desc);
        return 1;
    }
    const block::BlockDriver* driver = block::find_driver(out_format);
    if (!driver) {
        error_report("Unknown file format");
        return 1;
    }
    if (!driver->create) {
        error_report("Format driver '" + out_format + "' does not support image creation");
        return 1;
    }
    auto length = input->blk->length();
    if (!length) {
        error_report("Failed to get size for '" + *in_name + "'");
        return 1;
    }
    int64_t size = *length;
    if (count && *count <= INT64_MAX / block_size && *count * block_size < size) {
        size = *count * block_size;
    }
    bool skip_past_end = skip && (*skip > INT64_MAX / block_size || size < *skip * block_size);
    int64_t start = skip && !skip_past_end ? *skip * block_size : 0;
    CreateRequest create{
        .filename = *out_name, .format = out_format, .size = static_cast<uint64_t>(skip_past_end ? 0 : size - start)};
    auto created = create_image(create);
    if (!created) {
        error_report(*out_name + ": error while creating output image: " + created.error().desc);
        return 1;
    }
    auto output = open_image({.name = *out_name, .format = out_format, .read_write = true});
    if (!output) {
        error_report(output.error().desc);
        return 1;
    }
    int64_t in_pos = start;
    if (skip_past_end) {
        // Like dd(1): an empty output, and only a complaint.
        error_report(*in_name + ": cannot skip to specified offset");
        in_pos = size;
    }
    std::vector<uint8_t> buf(static_cast<size_t>(block_size));
    for (int64_t out_pos = 0; in_pos < size;) {
        size_t bytes = static_cast<size_t>(std::min(block_size, size - in_pos));
        std::span<uint8_t> chunk(buf.data(), bytes);
        auto read = input->blk->pread(in_pos, chunk);
        if (!read) {
            error_report("error while reading from input image file: " + read.error().desc);
            return 1;
        }
        in_pos += static_cast<int64_t>(bytes);
        auto written = output->blk->pwrite(out_pos, chunk);
        if (!written) {
            error_report("error while writing to output image file: " + written.error().desc);
            return 1;
        }
        out_pos += static_cast<int64_t>(bytes);
    }
    return 0;
}

}  // namespace qemu::img
