// qemu-img convert: copying one or more images into a new (or, with -n, an existing) target.
// This file is the front end: the command line, opening the sources, creating and opening
// the target. The copy itself is in img-convert-copy.cc.
#include <getopt.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "block/drivers.h"
#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-convert.h"
#include "tools/qemu-img/img-report.h"
#include "tools/qemu-img/img-size.h"

namespace qemu::img {

namespace {

// MAX_BUF_SECTORS: the largest -S.
constexpr int64_t kMaxSparseBytes = 32768 * block::kSectorSize;
constexpr int kMaxCoroutines = 16;

// What convert's command line asks for.
struct ConvertRequest {
    std::optional<std::string> format;
    std::optional<std::string> out_format;
    std::optional<std::string> options;
    std::string cache = "unsafe";
    std::string src_cache = "writeback";
    int64_t min_sparse = 8 * block::kSectorSize;
    int workers = 8;
    bool in_order = true;
    bool image_opts = false;
    bool target_image_opts = false;
    bool compressed = false;
    bool progress = false;
    bool quiet = false;
    bool skip_create = false;
    bool force_share = false;
    bool target_is_zero = false;
    std::optional<std::string> backing;  // -B
    std::optional<std::string> backing_format;  // -F
    std::vector<std::string> sources;
    std::string out_filename;
};

// The status qemu-img exits with when the command line already settled it (help printed,
// or an error reported).
using ExitStatus = int;

// The checks QEMU makes between the options and opening anything, and the file names.
std::expected<ConvertRequest, ExitStatus> check_convert_request(ConvertRequest req, int argc, char** argv)
{
    if (!req.out_format && !req.target_image_opts) {
        req.out_format = "raw";
    }
    if (req.target_image_opts && !req.skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        return std::unexpected(1);
    }
    if (req.target_is_zero && !req.skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        return std::unexpected(1);
    }
    int source_count = argc - optind - 1;
    if (source_count >= 1) {
        req.out_filename = argv[argc - 1];
        req.sources.assign(argv + optind, argv + optind + source_count);
    }
    if (req.options && has_help_option(*req.options)) {
        if (req.out_format) {
            auto filename = source_count >= 1 ? std::optional<std::string_view>(req.out_filename) : std::nullopt;
            return std::unexpected(print_create_help(*req.out_format, filename));
        }
        error_report("Option help requires a format be specified");
        return std::unexpected(1);
    }
    if (source_count < 1) {
        error_report("Must specify image file name");
        return std::unexpected(1);
    }
    return req;
}

// The options, in getopt's order (an error is reported as soon as getopt meets it, as in
// QEMU's loop), then the checks above.
std::expected<ConvertRequest, ExitStatus> parse_convert_options(int argc, char** argv)
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
    ConvertRequest req;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return std::unexpected(missing_argument(argv[optind - 1]));
        case '?':
            return std::unexpected(unrecognized_option(argv[optind - 1]));
        case 'h':
            return std::unexpected(print_help());
        case 'f':
            req.format = optarg;
            break;
        case 'O':
            req.out_format = optarg;
            break;
        case 'B':
            req.backing = optarg;
            break;
        case 'F':
            req.backing_format = optarg;
            break;
        case 'C':
        case 'l':
            break;
        case 'c':
            req.compressed = true;
            break;
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report(std::string("Invalid option list: ") + optarg);
                return std::unexpected(1);
            }
            req.options = accumulate_options(req.options, optarg);
            break;
        case 'S': {
            auto value = cvtnum("buffer size for sparse output", optarg);
            if (!value) {
                error_report(value.error().desc);
                return std::unexpected(1);
            }
            if (*value % block::kSectorSize != 0 || *value > kMaxSparseBytes) {
                error_report("Invalid buffer size for sparse output specified. Valid sizes are multiples of " +
                    std::to_string(block::kSectorSize) + " up to " + std::to_string(kMaxSparseBytes) +
                    ". Select 0 to disable sparse detection (fully allocates output).");
                return std::unexpected(1);
            }
            req.min_sparse = *value;
            break;
        }
        case 'p':
            req.progress = true;
            break;
        case 't':
            req.cache = optarg;
            break;
        case 'T':
            req.src_cache = optarg;
            break;
        case 'q':
            req.quiet = true;
            break;
        case 'n':
            req.skip_create = true;
            break;
        case 'm': {
            char* end = nullptr;
            long n = std::strtol(optarg, &end, 10);
            if (n < 1 || n > kMaxCoroutines || *end != '\0') {
                error_report("Invalid number of coroutines. Allowed number of coroutines is between 1 and " +
                    std::to_string(kMaxCoroutines));
                return std::unexpected(1);
            }
            req.workers = static_cast<int>(n);
            break;
        }
        case 'W':
            req.in_order = false;
            break;
        case 'U':
            req.force_share = true;
            break;
        case 'r': {
            auto value = cvtnum("rate limit", optarg);
            if (!value) {
                error_report(value.error().desc);
                return std::unexpected(1);
            }
            break;
        }
        case kOptObject:
            return std::unexpected(object_option(optarg));
        case kOptImageOpts:
            req.image_opts = true;
            break;
        case kOptTargetImageOpts:
            req.target_image_opts = true;
            break;
        case kOptSalvage:
        case kOptBitmaps:
        case kOptSkipBrokenBitmaps:
            break;
        case kOptTargetIsZero:
            req.target_is_zero = true;
            break;
        default:
            break;
        }
    }
    return check_convert_request(std::move(req), argc, argv);
}

Result<void> open_sources(Converter& conv, const ConvertRequest& req, const CacheMode& src_mode)
{
    for (const std::string& name : req.sources) {
        auto image = TRY(open_image({.name = name,
            .format = req.format,
            .image_opts = req.image_opts,
            .force_share = req.force_share,
            .no_share = true,
            .cache = src_mode}));
        auto length = image.blk->length();
        if (!length) {
            return make_error("Could not get size of " + name + ": " + length.error().desc);
        }
        conv.total += *length;
        conv.sources.push_back({name, std::move(image), *length});
    }
    return {};
}

// Creates the target the size of all sources together, unless -n.
Result<void> create_target(Converter& conv, const ConvertRequest& req)
{
    const block::BlockDriver* driver = req.out_format ? block::find_driver(*req.out_format) : nullptr;
    if (req.out_format && !driver) {
        return make_error("Unknown file format '" + *req.out_format + "'");
    }
    CreateRequest create{.filename = req.out_filename, .format = req.out_format.value_or("raw")};
    if (!req.skip_create) {
        if (!driver->create) {
            return make_error("Format driver '" + *req.out_format + "' does not support image creation");
        }
        if (req.options) {
            TRY_VOID(parse_create_options(*req.options, create));
        }
        create.size = static_cast<uint64_t>(conv.total);
        TRY_VOID(add_old_style_options(create, req.backing, req.backing_format));
    }
    // The backing file as the create options have it (-o backing_file, or -B); with -n, -B.
    bool backing_option = !req.skip_create && create.opts.contains("backing_file");
    conv.target_has_backing = req.backing || backing_option;
    if (conv.sources.size() > 1 && conv.target_has_backing) {
        return make_error(
            "Having a backing file for the target makes no sense when concatenating multiple input images");
    }
    if (backing_option && !create.opts.contains("backing_fmt")) {
        return make_error("Use of backing file requires explicit backing format");
    }
    if (req.compressed && !driver->supports_compressed_writes) {
        return make_error("Compression not supported for this file format");
    }
    if (!req.skip_create) {
        auto created = block::create_image(open_context(), create);
        if (!created) {
            return make_error(
                req.out_filename + ": error while converting " + *req.out_format + ": " + created.error().desc);
        }
    }
    return {};
}

Result<void> open_target(Converter& conv, const ConvertRequest& req)
{
    auto mode = parse_cache_mode(req.cache);
    if (!mode) {
        return make_error("Invalid cache option: " + req.cache);
    }
    conv.target = TRY(open_image({.name = req.out_filename,
        .format = req.target_image_opts ? std::nullopt : req.out_format,
        .image_opts = req.target_image_opts,
        .read_write = true,
        .cache = *mode}));
    if (req.skip_create) {
        auto length = conv.target.blk->length();
        if (!length) {
            return make_error("Failed to get size of the target image: " + length.error().desc);
        }
        if (*length < conv.total) {
            return make_error("output file is smaller than input file");
        }
    }
    // A file the block layer has just created reads as zeros; an existing one may not, and
    // one with a backing file reads as its backing file.
    conv.has_zero_init = (!req.skip_create || req.target_is_zero) && !conv.target_has_backing;
    if (conv.target_has_backing && !req.skip_create) {
        // Only an optimisation, as in QEMU: an unknown length leaves every zero written.
        if (block::BlockNode* backing = conv.target.blk->root().backing()) {
            conv.target_backing_bytes = backing->length().value_or(-1);
        }
    }
    // QEMU's convert goes compressed when the target's driver needs it (vmdk stream).
    // With -c, every target cluster is written whole through the compressed path.
    if (auto info = conv.target.blk->root().info(); info && (info->needs_compressed_writes || req.compressed)) {
        if (info->cluster_size <= 0 || info->cluster_size > 2 * 1024 * 1024) {
            return make_error("invalid cluster size");
        }
        conv.compressed_cluster = info->cluster_size;
    }
    return {};
}

int run_convert(const ConvertRequest& req, const CacheMode& src_mode, Progress& progress)
{
    Converter conv{.min_sparse = req.min_sparse, .workers = req.workers, .in_order = req.in_order};
    if (auto opened = open_sources(conv, req, src_mode); !opened) {
        error_report(opened.error().desc);
        return 1;
    }
    // --target-is-zero needs -n, and with -n the backing file can only come from -B. QEMU
    // 7.2 exits 0 after this message (its status is still 0 there); scripts see that.
    if (req.target_is_zero && req.backing) {
        error_report("Cannot use --target-is-zero when the destination image has a backing file");
        return 0;
    }
    auto ready = create_target(conv, req);
    if (ready) {
        ready = open_target(conv, req);
    }
    if (!ready) {
        error_report(ready.error().desc);
        return 1;
    }
    return convert_copy(conv, progress);
}

}  // namespace

int img_convert(int argc, char** argv)
{
    auto req = parse_convert_options(argc, argv);
    if (!req) {
        return req.error();
    }
    auto src_mode = parse_cache_mode(req->src_cache);
    if (!src_mode) {
        error_report("Invalid source cache option: " + req->src_cache);
        return 1;
    }
    Progress progress(req->progress && !req->quiet, 1.0f);
    progress.print(0, 100);
    int ret = run_convert(*req, *src_mode, progress);
    if (ret == 0) {
        progress.print(100, 0);
    }
    progress.end();
    return ret;
}

}  // namespace qemu::img
