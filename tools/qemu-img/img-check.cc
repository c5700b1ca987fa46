// qemu-img check: asks the image's driver for a consistency report (repairing leaks or all
// errors with -r, where the driver can) and prints it as QEMU 7.2 does, as text or as the
// ImageCheck JSON object. The exit status tells what was found: 0 clean, 1 the check
// itself failed, 2 corruptions, 3 only leaks, 63 the format has no check.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/qemu-img/img-commands.h"
#include "tools/qemu-img/img-common.h"
#include "tools/qemu-img/img-report.h"
#include "util/alloc.h"

namespace qemu::img {

namespace {

constexpr int kExitUnsupported = 63;

// The ImageCheck object: the optional counters appear only when non-zero, and the keys
// come out in QEMU's hash-table order.
std::string check_json(const block::CheckResult& r, const std::string& filename, std::string_view format)
{
    std::vector<std::pair<std::string, std::string>> members{
        {"filename", json_string(filename)},
        {"format", json_string(format)},
        {"check-errors", std::to_string(r.check_errors)},
    };
    auto optional = [&](const char* key, int64_t value) {
        if (value != 0) {
            members.emplace_back(key, std::to_string(value));
        }
    };
    optional("image-end-offset", r.image_end_offset);
    optional("corruptions", r.corruptions);
    optional("leaks", r.leaks);
    optional("corruptions-fixed", r.corruptions_fixed);
    optional("leaks-fixed", r.leaks_fixed);
    optional("total-clusters", r.total_clusters);
    optional("allocated-clusters", r.allocated_clusters);
    optional("fragmented-clusters", r.fragmented_clusters);
    optional("compressed-clusters", r.compressed_clusters);
    std::stable_sort(members.begin(), members.end(),
        [](const auto& a, const auto& b) { return qdict_bucket(a.first) < qdict_bucket(b.first); });
    std::string out = "{\n";
    for (size_t i = 0; i < members.size(); ++i) {
        out += "    \"" + members[i].first + "\": " + members[i].second + (i + 1 < members.size() ? ",\n" : "\n");
    }
    return out + "}\n";
}

std::string check_human(const block::CheckResult& r)
{
    std::string out;
    if (r.corruptions == 0 && r.leaks == 0 && r.check_errors == 0) {
        out += "No errors were found on the image.\n";
    } else {
        if (r.corruptions) {
            out += "\n" + std::to_string(r.corruptions) +
                " errors were found on the image.\n"
                "Data may be corrupted, or further writes to the image may corrupt it.\n";
        }
        if (r.leaks) {
            out += "\n" + std::to_string(r.leaks) +
                " leaked clusters were found on the image.\n"
                "This means waste of disk space, but no harm to data.\n";
        }
        if (r.check_errors) {
            out += "\n" + std::to_string(r.check_errors) + " internal errors have occurred during the check.\n";
        }
    }
    if (r.total_clusters != 0 && r.allocated_clusters != 0) {
        char line[256];
        std::snprintf(line, sizeof(line),
            "%" PRId64 "/%" PRId64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% compressed clusters\n",
            r.allocated_clusters, r.total_clusters,
            static_cast<double>(r.allocated_clusters) * 100.0 / r.total_clusters,
            static_cast<double>(r.fragmented_clusters) * 100.0 / r.allocated_clusters,
            static_cast<double>(r.compressed_clusters) * 100.0 / r.allocated_clusters);
        out += line;
    }
    if (r.image_end_offset) {
        out += "Image end offset: " + std::to_string(r.image_end_offset) + "\n";
    }
    return out;
}

// bdrv_check: a driver without a check answers ENOTSUP.
Result<block::CheckResult> run_check(block::BlockNode& root, bool fix)
{
    if (!root.driver().check) {
        return make_errno_error(ENOTSUP);
    }
    return enomem_on_bad_alloc([&] { return root.driver().check(root, fix); });
}

}  // namespace

int img_check(int argc, char** argv)
{
    static const option kLongOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"format", required_argument, nullptr, 'f'},
        {"repair", required_argument, nullptr, 'r'},
        {"output", required_argument, nullptr, kOptOutput},
        {"object", required_argument, nullptr, kOptObject},
        {"image-opts", no_argument, nullptr, kOptImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {nullptr, 0, nullptr, 0},
    };
    ImageRequest request;
    const char* output = nullptr;
    std::string cache = "writeback";
    bool fix = false;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:r:T:qU", kLongOptions, nullptr)) != -1) {
        switch (c) {
        case ':':
            return missing_argument(argv[optind - 1]);
        case '?':
            return unrecognized_option(argv[optind - 1]);
        case 'h':
            return print_help();
        case 'f':
            request.format = optarg;
            break;
        case 'r':
            request.read_write = true;
            if (std::string_view(optarg) != "leaks" && std::string_view(optarg) != "all") {
                return usage_error(std::string("Unknown option value for -r (expecting 'leaks' or 'all'): ") + optarg);
            }
            fix = true;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'U':
            request.force_share = true;
            break;
        case kOptOutput:
            output = optarg;
            break;
        case kOptObject:
            return object_option(optarg);
        case kOptImageOpts:
            request.image_opts = true;
            break;
        default:
            break;
        }
    }
    if (optind != argc - 1) {
        return usage_error("Expecting one image file name");
    }
    request.name = argv[optind];
    bool json = false;
    if (output) {
        std::string_view value = output;
        if (value != "json" && value != "human") {
            error_report("--output must be used with human or json as argument.");
            return 1;
        }
        json = value == "json";
    }
    auto mode = parse_cache_mode(cache);
    if (!mode) {
        error_report("Invalid source cache option: " + cache);
        return 1;
    }
    request.cache = *mode;
    auto image = open_image(request);
    if (!image) {
        error_report(image.error().desc);
        return 1;
    }
    block::BlockNode& root = image->root();
    std::string format(root.driver().format_name);
    auto result = run_check(root, fix);
    if (!result && result.error().errno_value == ENOTSUP) {
        error_report("This image format does not support checks");
        return kExitUnsupported;
    }
    if (result && (result->corruptions_fixed || result->leaks_fixed)) {
        int corruptions_fixed = result->corruptions_fixed;
        int leaks_fixed = result->leaks_fixed;
        if (!json) {
            qprintf(quiet,
                "The following inconsistencies were found and repaired:\n\n    " + std::to_string(leaks_fixed) +
                    " leaked clusters\n    " + std::to_string(corruptions_fixed) +
                    " corruptions\n\nDouble checking the fixed image now...\n");
        }
        result = run_check(root, false);
        if (result) {
            result->corruptions_fixed = corruptions_fixed;
            result->leaks_fixed = leaks_fixed;
        }
    }
    if (!result) {
        error_report(errno_message("Check failed", result.error().errno_or(EIO)));
        return 1;
    }
    qprintf(quiet, json ? check_json(*result, request.name, format) : check_human(*result));
    if (result->check_errors) {
        error_report("Check failed");
        return 1;
    }
    if (result->corruptions) {
        return 2;
    }
    return result->leaks ? 3 : 0;
}

}  // namespace qemu::img
