// Creating vmdk images the way qemu-img create -f vmdk does (QEMU 7.2): every subformat,
// the same files in the same order (descriptor or monolithic file first, then the backing
// file's CID is read, then the extents), the same headers, directory layout and
// descriptor text. Extent files are named by combining the image's name with
// qemu_path_combine, so an image on /dev/fdset/N/NAME gets its extents from the same set.
#include <cerrno>
#include <cstring>

#include "block/block-backend.h"
#include "block/drivers.h"
#include "block/vmdk/vmdk-descriptor.h"
#include "block/vmdk/vmdk-state.h"
#include "util/bswap.h"
#include "util/qemu-option.h"

namespace qemu::block::vmdk {

namespace {

constexpr int64_t kSplitSize = 0x80000000;

enum class Subformat { MonolithicSparse, MonolithicFlat, TwoGbSparse, TwoGbFlat, StreamOptimized };
constexpr std::pair<std::string_view, Subformat> kSubformats[] = {
    {"monolithicSparse", Subformat::MonolithicSparse},
    {"monolithicFlat", Subformat::MonolithicFlat},
    {"twoGbMaxExtentSparse", Subformat::TwoGbSparse},
    {"twoGbMaxExtentFlat", Subformat::TwoGbFlat},
    {"streamOptimized", Subformat::StreamOptimized},
};

struct Settings {
    Subformat subformat = Subformat::MonolithicSparse;
    std::string subformat_name = "monolithicSparse";
    std::string adapter_type = "ide";
    std::optional<std::string> backing_file;
    std::optional<std::string> hw_version;
    std::string tools_version = "2147483647";
    bool compat6 = false;
    bool zeroed_grain = false;
};

constexpr std::string_view kOwnOptions[] = {"adapter_type", "backing_file", "backing_fmt", "compat6", "hwversion",
    "toolsversion", "subformat", "zeroed_grain"};

std::optional<std::string> option(const BlockOptions& opts, std::string_view key)
{
    if (auto it = opts.find(std::string(key)); it != opts.end()) {
        return it->second;
    }
    return std::nullopt;
}

Result<Settings> parse_settings(const BlockOptions& opts)
{
    Settings s;
    if (auto fmt = option(opts, "backing_fmt"); fmt && *fmt != "vmdk") {
        return make_error("backing_file must be a vmdk image");
    }
    s.backing_file = option(opts, "backing_file");
    s.hw_version = option(opts, "hwversion");
    if (s.hw_version == "undefined") {
        s.hw_version.reset();
    }
    if (auto v = option(opts, "toolsversion")) {
        s.tools_version = *v;
    }
    if (auto v = option(opts, "compat6")) {
        s.compat6 = TRY(parse_option_bool("compat6", *v));
    }
    if (auto v = option(opts, "zeroed_grain")) {
        s.zeroed_grain = TRY(parse_option_bool("zeroed_grain", *v));
    }
    if (auto v = option(opts, "adapter_type")) {
        if (*v != "ide" && *v != "buslogic" && *v != "lsilogic" && *v != "legacyESX") {
            return make_error("invalid parameter value: " + *v);
        }
        s.adapter_type = *v;
    }
    if (auto v = option(opts, "subformat")) {
        bool found = false;
        for (auto [name, value] : kSubformats) {
            if (*v == name) {
                s.subformat = value;
                s.subformat_name = name;
                found = true;
            }
        }
        if (!found) {
            return make_error("invalid parameter value: " + *v);
        }
    }
    return s;
}

// filename_decompose: directory (with its '/'), name without its last extension, extension.
struct NameParts {
    std::string prefix;
    std::string postfix;
};
NameParts decompose(std::string_view filename)
{
    size_t slash = filename.find_last_of('/');
    if (slash == std::string_view::npos) {
        slash = filename.find_last_of('\\');
    }
    if (slash == std::string_view::npos) {
        slash = filename.find_last_of(':');
    }
    std::string_view base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
    size_t dot = base.find_last_of('.');
    if (dot == std::string_view::npos) {
        return {std::string(base), ""};
    }
    return {std::string(base.substr(0, dot)), std::string(base.substr(dot))};
}

std::string basename_of(std::string_view path)
{
    size_t slash = path.find_last_of('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

struct Creator {
    const OpenContext& context;
    const CreateOptions& options;
    BlockOptions file_opts;
    NameParts parts;
    bool flat = false;
    bool split = false;
    bool compress = false;
    bool zeroed_grain = false;

    Result<void> init_sparse(BlockBackend& blk, int64_t filesize)
    {
        std::array<uint8_t, 512> header{};
        std::memcpy(header.data(), "KDMV", 4);
        uint32_t version = compress ? 3 : zeroed_grain ? 2 : 1;
        uint32_t flags = 0x3 | (compress ? 0x30000u : 0u) | (zeroed_grain ? 0x4u : 0u);
        uint64_t capacity = static_cast<uint64_t>(filesize) / 512;
        constexpr uint64_t kGranularity = 128;
        constexpr uint32_t kGtes = 512;
        // QEMU's 32-bit arithmetic, kept so that huge images come out the same.
        auto grains = static_cast<uint32_t>((capacity + kGranularity - 1) / kGranularity);
        uint32_t gt_size = kGtes * 4 / 512;
        uint32_t gt_count = (grains + kGtes - 1) / kGtes;
        auto gd_sectors = static_cast<uint32_t>((uint64_t{gt_count} * 4 + 511) / 512);
        uint64_t desc_offset = 1;
        uint64_t desc_size = 20;
        uint64_t rgd_offset = desc_offset + desc_size;
        uint64_t gd_offset = rgd_offset + gd_sectors + static_cast<uint32_t>(gt_size * gt_count);
        uint64_t grain_offset = (gd_offset + gd_sectors + static_cast<uint32_t>(gt_size * gt_count) + kGranularity - 1) /
            kGranularity * kGranularity;
        store_le32(header, 4, version);
        store_le32(header, 8, flags);
        store_le64(header, 12, capacity);
        store_le64(header, 20, kGranularity);
        store_le64(header, 28, desc_offset);
        store_le64(header, 36, desc_size);
        store_le32(header, 44, kGtes);
        store_le64(header, 48, rgd_offset);
        store_le64(header, 56, gd_offset);
        store_le64(header, 64, grain_offset);
        header[73] = 0x0a;
        header[74] = 0x20;
        header[75] = 0x0d;
        header[76] = 0x0a;
        store_le16(header, 77, compress ? 1 : 0);
        auto io_error = [] { return std::unexpected(Error{ErrorClass::GenericError, "Input/output error", EIO}); };
        if (!blk.root().pwrite(0, std::span(header).first(79))) {
            return io_error();
        }
        TRY_VOID(blk.truncate(static_cast<int64_t>(grain_offset * 512)));
        std::vector<uint8_t> gd(size_t{gd_sectors} * 512);
        auto write_gd = [&](uint64_t at, uint32_t first_table) -> Result<void> {
            uint32_t table = first_table;
            for (uint32_t i = 0; i < gt_count; ++i, table += gt_size) {
                store_le32(gd, size_t{i} * 4, table);
            }
            if (!blk.root().pwrite(static_cast<int64_t>(at * 512), gd)) {
                return io_error();
            }
            return {};
        };
        TRY_VOID(write_gd(rgd_offset, static_cast<uint32_t>(rgd_offset + gd_sectors)));
        TRY_VOID(write_gd(gd_offset, static_cast<uint32_t>(gd_offset + gd_sectors)));
        return {};
    }

    // vmdk_init_extent: a flat extent is only sized, a sparse one laid out.
    Result<void> init_extent(BlockBackend& blk, int64_t size)
    {
        if (flat) {
            return blk.truncate(size);
        }
        return init_sparse(blk, size);
    }

    // vmdk_create_extent: the file, created empty, then laid out.
    Result<std::unique_ptr<BlockBackend>> create_extent(BlockGraph& graph, const std::string& name, int64_t size)
    {
        CreateOptions file_options{.filename = name, .size = 0, .prealloc = options.prealloc, .opts = file_opts};
        TRY_VOID(kFileDriver.create(context, file_options));
        auto blk = TRY(BlockBackend::open(
            graph, name, {{"driver", "file"}}, {.flags = {.read_write = true}, .resize = true}));
        TRY_VOID(init_extent(*blk, size));
        return blk;
    }

    std::string extent_name(int index) const
    {
        std::string rel;
        if (index == 0) {
            rel = parts.prefix + parts.postfix;
        } else if (split) {
            char number[16];
            std::snprintf(number, sizeof number, "-%c%03d", flat ? 'f' : 's', index);
            rel = parts.prefix + number + parts.postfix;
        } else {
            rel = parts.prefix + "-flat" + parts.postfix;
        }
        return index == 0 ? options.filename : qemu_path_combine(options.filename, rel);
    }
};

// The parent's CID, read the way QEMU reads it: the backing file is opened as an image of
// its own, and only a vmdk will do.
Result<uint32_t> backing_cid(const OpenContext& context, const std::string& image, const std::string& backing)
{
    // bdrv_get_full_backing_filename_from_filename: an absolute name or one with a protocol
    // (json: too) stays as it is.
    bool as_given = backing.starts_with('/') || protocol_prefix(backing);
    std::string full = as_given ? backing : qemu_path_combine(image, backing);
    BlockGraph graph(context);
    auto blk = TRY(BlockBackend::open(graph, full, {}, {}));
    BlockNode& root = blk->root();
    if (root.driver().format_name != "vmdk") {
        return make_error(
            "Invalid backing file format: " + std::string(root.driver().format_name) + ". Must be vmdk");
    }
    auto cid = read_cid(*root.file(), root.state<VmdkState>().desc_offset, false);
    if (!cid) {
        return make_error("Failed to read parent CID");
    }
    return *cid;
}

// vmdk_co_do_create: the descriptor (or monolithic) file is extent 0, the extents follow,
// then the descriptor text. `extent` gives extent `index` laid out for `size` bytes, or
// with size -1 only says whether there is one more (nullptr if not).
using ExtentSource = std::function<Result<std::unique_ptr<BlockBackend>>(int64_t size, int index)>;

Result<void> do_create(
    const OpenContext& context, Settings settings, Creator& creator, int64_t size, const ExtentSource& extent)
{
    Subformat sub = settings.subformat;
    creator.split = sub == Subformat::TwoGbSparse || sub == Subformat::TwoGbFlat;
    creator.flat = sub == Subformat::MonolithicFlat || sub == Subformat::TwoGbFlat;
    creator.compress = sub == Subformat::StreamOptimized;
    creator.zeroed_grain = settings.zeroed_grain;

    if (settings.compat6) {
        if (settings.hw_version) {
            return make_error("compat6 cannot be enabled with hwversion set");
        }
        settings.hw_version = "6";
    }
    uint32_t heads = settings.adapter_type == "ide" ? 16 : 255;
    if (creator.flat && settings.backing_file) {
        return std::unexpected(Error{ErrorClass::GenericError, "Flat image can't have backing file", ENOTSUP});
    }
    if (creator.flat && settings.zeroed_grain) {
        return std::unexpected(Error{ErrorClass::GenericError, "Flat image can't enable zeroed grain", ENOTSUP});
    }
    const char* line_format = creator.flat ? "RW %lld FLAT \"%s\" 0\n" : "RW %lld SPARSE \"%s\"\n";
    auto extent_line = [&](int64_t bytes, const std::string& name) {
        std::string base = basename_of(name);
        std::vector<char> line(base.size() + 64);
        int n = std::snprintf(line.data(), line.size(), line_format, static_cast<long long>((bytes + 511) / 512),
            base.c_str());
        return std::string(line.data(), static_cast<size_t>(n));
    };

    int64_t extent_size = creator.split ? kSplitSize : size;
    int64_t created = (!creator.split && !creator.flat) ? extent_size : 0;
    auto desc_blk = TRY(extent(created, 0));
    DescriptorText text;
    if (!creator.split && !creator.flat) {
        text.extent_lines += extent_line(created, desc_blk->root().filename());
    }
    if (settings.backing_file) {
        text.parent_cid = TRY(backing_cid(context, desc_blk->root().filename(), *settings.backing_file));
        text.parent_hint_line = "parentFileNameHint=\"" + *settings.backing_file + "\"";
    }
    int index = 1;
    for (; created < size; ++index) {
        int64_t now = std::min(size - created, extent_size);
        auto blk = TRY(extent(now, index));
        text.extent_lines += extent_line(now, blk->root().filename());
        created += now;
    }
    if (auto excess = extent(-1, index); excess && *excess) {
        return make_error("List of extents contains unused extents");
    }
    text.cid = random_cid();
    text.create_type = settings.subformat_name;
    text.hw_version = settings.hw_version.value_or("4");
    text.cylinders = size / (int64_t{63} * heads * 512);
    text.heads = heads;
    text.adapter_type = settings.adapter_type;
    text.tools_version = settings.tools_version;
    std::string desc = make_descriptor(text);
    int64_t desc_offset = (!creator.split && !creator.flat) ? 0x200 : 0;
    auto written = desc_blk->root().pwrite(desc_offset, std::span(reinterpret_cast<const uint8_t*>(desc.data()), desc.size()));
    if (!written) {
        return make_errno_error(written.error().errno_or(EIO), "Could not write description");
    }
    if (desc_offset == 0) {
        TRY_VOID(desc_blk->truncate(static_cast<int64_t>(desc.size())));
    }
    return {};
}

}  // namespace

Result<void> vmdk_create(const OpenContext& context, const CreateOptions& options)
{
    Settings settings = TRY(parse_settings(options.opts));
    if (options.filename.empty()) {
        return make_error("No filename provided");
    }
    auto size = static_cast<int64_t>((options.size + 511) / 512 * 512);
    Creator creator{context, options, {}, decompose(options.filename)};
    for (const auto& [key, value] : options.opts) {
        if (std::ranges::find(kOwnOptions, key) == std::end(kOwnOptions)) {
            creator.file_opts.emplace(key, value);
        }
    }
    // Each extent file gets a graph of its own, closed when the extent is done.
    std::vector<std::unique_ptr<BlockGraph>> graphs;
    return do_create(context, std::move(settings), creator, size,
        [&](int64_t extent_size, int index) -> Result<std::unique_ptr<BlockBackend>> {
            if (extent_size < 0) {
                return std::unique_ptr<BlockBackend>();
            }
            graphs.push_back(std::make_unique<BlockGraph>(context));
            return creator.create_extent(*graphs.back(), creator.extent_name(index), extent_size);
        });
}

Result<void> create_on(
    const OpenContext& context, const QmpCreateSettings& qmp, const ExtentOpener& open_extent, bool& yielded)
{
    if (qmp.size % 512 != 0) {
        return make_error("Image size must be a multiple of 512 bytes");
    }
    Settings settings;
    settings.subformat_name = qmp.subformat;
    for (auto [name, value] : kSubformats) {
        if (qmp.subformat == name) {
            settings.subformat = value;
        }
    }
    settings.adapter_type = qmp.adapter_type;
    settings.backing_file = qmp.backing_file;
    settings.hw_version = qmp.hw_version;
    if (qmp.tools_version) {
        settings.tools_version = *qmp.tools_version;
    }
    settings.zeroed_grain = qmp.zeroed_grain;
    CreateOptions no_options;
    Creator creator{context, no_options, {}, {}};
    return do_create(context, std::move(settings), creator, static_cast<int64_t>(qmp.size),
        [&](int64_t extent_size, int index) -> Result<std::unique_ptr<BlockBackend>> {
            bool probe = extent_size < 0;
            if (index > 0 && static_cast<size_t>(index) > qmp.extent_count) {
                if (probe) {
                    return std::unique_ptr<BlockBackend>();
                }
                return make_error("Extent [" + std::to_string(qmp.extent_count) + "] not specified");
            }
            auto blk = open_extent(index);
            if (probe) {
                // Only whether one more is there counts: one that does not open is none.
                return blk ? std::move(*blk) : std::unique_ptr<BlockBackend>();
            }
            if (!blk) {
                return blk;
            }
            // From its first backend on, QEMU's job waits for requests.
            yielded = true;
            TRY_VOID(creator.init_extent(**blk, extent_size));
            return blk;
        });
}

}  // namespace qemu::block::vmdk
