// The vvfat protocol driver (QEMU's block/vvfat.c): a host directory shown as a FAT disk,
// "fat:[floppy:][rw:][12:|16:|32:]DIR" or driver=vvfat,dir=,fat-type=,floppy=,rw=,label=.
// The directory may be a path or /dev/fdset/N (a directory fd in an fd set): it is opened
// once through qemu_open, and everything in it is reached beneath that descriptor.
// The pieces: geometry (vvfat-geometry), names (vvfat-names), the host tree (vvfat-tree),
// the generated disk (vvfat-image, vvfat-image-read), I/O and the rw overlay (vvfat-io,
// vvfat-overlay, vvfat-commit).
#include <cerrno>
#include <string>

#include "block/drivers.h"
#include "block/vvfat/vvfat.h"
#include "util/qemu-option.h"

namespace qemu::block {

namespace {

using vvfat::VvfatState;

// vvfat_parse_filename: QEMU looks for each flag anywhere in the name, and the directory
// is whatever follows the last colon (a DOS drive letter "X:" excepted).
Result<void> vvfat_parse_filename(std::string_view filename, BlockOptions& options)
{
    if (!filename.starts_with("fat:")) {
        return make_error("File name string must start with 'fat:'");
    }
    bool floppy = filename.find(":floppy:") != std::string_view::npos;
    bool rw = filename.find(":rw:") != std::string_view::npos;
    int fat_type = 0;
    if (filename.find(":32:") != std::string_view::npos) {
        fat_type = 32;
    } else if (filename.find(":16:") != std::string_view::npos) {
        fat_type = 16;
    } else if (filename.find(":12:") != std::string_view::npos) {
        fat_type = 12;
    }
    size_t colon = filename.rfind(':');
    std::string_view dir;
    auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (colon >= 2 && filename[colon - 2] == ':' && is_alpha(filename[colon - 1])) {
        dir = filename.substr(colon - 1);
    } else {
        dir = filename.substr(colon + 1);
    }
    options["dir"] = std::string(dir);
    options["fat-type"] = std::to_string(fat_type);
    options["floppy"] = floppy ? "on" : "off";
    options["rw"] = rw ? "on" : "off";
    return {};
}

Result<void> vvfat_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    auto dir = take_string(options, "dir");
    int64_t fat_type = 0;
    if (auto text = take_string(options, "fat-type")) {
        fat_type = static_cast<int64_t>(TRY(parse_option_number("fat-type", *text)));
    }
    bool floppy = TRY(take_bool(options, "floppy")).value_or(false);
    bool rw = TRY(take_bool(options, "rw")).value_or(false);
    auto label_text = take_string(options, "label");
    if (!dir) {
        return make_error("vvfat block driver requires a 'dir' option");
    }

    std::array<uint8_t, 11> label = vvfat::kDefaultLabel;
    if (label_text) {
        if (label_text->size() > label.size()) {
            return make_error("vvfat label cannot be longer than 11 bytes");
        }
        label.fill(' ');
        std::copy(label_text->begin(), label_text->end(), label.begin());
    }

    // QEMU keeps the number in an int.
    vvfat::Geometry geometry = TRY(vvfat::make_geometry(static_cast<int32_t>(fat_type), floppy));
    if (geometry.fat_type == 32) {
        node.graph().warn(std::string(program_invocation_short_name) +
            ": warning: FAT32 has not been tested. You are welcome to do so!\n");
    }

    if (rw) {
        if (node.read_only()) {
            return std::unexpected(
                Error{ErrorClass::GenericError, "Unable to set VVFAT to 'rw' when drive is read-only", EPERM});
        }
        if (geometry.fat_type == 32) {
            // QEMU 7.2 opens it, but its FAT32 disk puts the first file's data in cluster 1,
            // inside the root directory: no FAT reader (ours included) can make sense of
            // what a guest writes there, so nothing would ever reach the host.
            return make_errno_error(ENOTSUP,
                "vvfat: 'rw' is not supported with FAT32: the FAT32 disk vvfat lays out is not a "
                "valid FAT, so changes could not be written back to the directory");
        }
    } else if (!node.read_only()) {
        // bdrv_apply_auto_read_only: fall back to read-only if allowed.
        if (!node.flags().auto_read_only) {
            return make_error("Image is read-only");
        }
        node.mutable_flags().read_write = false;
    }

    auto root = vvfat::open_host_root(context, *dir);
    if (!root) {
        // A path QEMU could not opendir() gives its text; an fd-set name keeps ours, which
        // says what was wrong with the set, unless the program has no fd sets at all (the
        // tools), where QEMU's opendir() of the name fails the same way as any path.
        if (dir->starts_with("/dev/fdset/") && root.error().errno_value != ENOSYS) {
            return std::unexpected(std::move(root).error());
        }
        std::string shown = *dir;
        if (!shown.empty() && shown.back() == '/') {
            shown.pop_back();
        }
        return make_error("Could not read directory " + shown);
    }
    auto sink = [&node](const std::string& text) { node.graph().warn(text); };
    auto state = std::make_unique<VvfatState>();
    state->image = TRY(vvfat::FatImage::build(std::move(*root), geometry, label, sink));
    if (rw) {
        state->overlay.emplace(geometry.total_sectors);
        state->commit = TRY(vvfat::CommitLink::create(*state));
    }
    node.set_state(std::move(state));
    return {};
}

Result<int64_t> vvfat_get_length(BlockNode& node)
{
    return static_cast<int64_t>(node.state<VvfatState>().image->geometry().length());
}

// Every byte is data the driver makes up; there is no host offset to report.
Result<BlockStatus> vvfat_block_status(BlockNode&, bool, int64_t, int64_t bytes)
{
    return BlockStatus{.flags = status::kData, .bytes = bytes};
}

Result<void> vvfat_flush(BlockNode&)
{
    return {};
}

constexpr std::string_view kVvfatStrongOpts[] = {"dir", "fat-type", "floppy", "label", "rw"};

}  // namespace

const BlockDriver kVvfatDriver = {
    .format_name = "vvfat",
    .protocol_name = "fat",
    .needs_filename = false,
    .strong_runtime_opts = kVvfatStrongOpts,
    // One cluster buffer and one open host file, as in QEMU (its CoMutex).
    .concurrency = Concurrency::Serial,
    .parse_filename = vvfat_parse_filename,
    .open = vvfat_open,
    .preadv = vvfat::vvfat_preadv,
    .pwritev = vvfat::vvfat_pwritev,
    .flush = vvfat_flush,
    .block_status = vvfat_block_status,
    .get_length = vvfat_get_length,
};

}  // namespace qemu::block
