// Flattening BlockdevOptions into dotted keys ("file.filename", "cache.direct", ...).
#include "monitor/block-options.h"

#include "qapi/codec.h"
#include "qapi/qapi-visit.h"

namespace qemu::monitor {

namespace {

std::string on_off(bool value)
{
    return value ? "on" : "off";
}

void put_bool(block::BlockOptions& out, const std::string& key, const std::optional<bool>& value)
{
    if (value) {
        out[key] = on_off(*value);
    }
}

void put_int(block::BlockOptions& out, const std::string& key, const std::optional<int64_t>& value)
{
    if (value) {
        out[key] = std::to_string(*value);
    }
}

// BlockdevRef: nested options or the name of an existing node.
Result<void> flatten_ref(
    const JsonValue& ref, const std::string& prefix, const std::string& path, block::BlockOptions& out)
{
    if (ref.is_string()) {
        out[prefix] = ref.get<std::string>();
        return {};
    }
    if (!ref.is_object()) {
        return qapi_codec::invalid_type(path, "BlockdevRef");
    }
    auto nested = TRY(qapi::from_json<qapi::BlockdevOptions>(ref, path));
    auto flat = TRY(flatten_blockdev_options(nested, path));
    for (auto& [key, value] : flat) {
        out[prefix + "." + key] = std::move(value);
    }
    return {};
}

}  // namespace

Result<block::BlockOptions> flatten_blockdev_options(const qapi::BlockdevOptions& options, const std::string& path)
{
    block::BlockOptions out;
    out["driver"] = std::string(qapi::BlockdevDriver_str(options.driver));
    if (options.node_name) {
        out["node-name"] = *options.node_name;
    }
    if (options.discard) {
        out["discard"] = std::string(qapi::BlockdevDiscardOptions_str(*options.discard));
    }
    if (options.cache) {
        put_bool(out, "cache.direct", options.cache->direct);
        put_bool(out, "cache.no-flush", options.cache->no_flush);
    }
    put_bool(out, "read-only", options.read_only);
    put_bool(out, "auto-read-only", options.auto_read_only);
    put_bool(out, "force-share", options.force_share);
    if (options.detect_zeroes) {
        auto mode = *options.detect_zeroes;
        // Children always discard (BDRV_O_UNMAP), so only the node added itself can trip this.
        if (path.empty() && mode == qapi::BlockdevDetectZeroesOptions::unmap &&
            options.discard != qapi::BlockdevDiscardOptions::unmap) {
            return make_error("setting detect-zeroes to unmap is not allowed without setting discard operation to unmap");
        }
        out["detect-zeroes"] = std::string(qapi::BlockdevDetectZeroesOptions_str(mode));
    }

    switch (options.driver) {
    case qapi::BlockdevDriver::file: {
        const qapi::BlockdevOptionsFile& file = *options.u.file;
        out["filename"] = file.filename;
        if (file.pr_manager) {
            out["pr-manager"] = *file.pr_manager;
        }
        if (file.locking) {
            out["locking"] = std::string(qapi::OnOffAuto_str(*file.locking));
        }
        if (file.aio) {
            out["aio"] = std::string(qapi::BlockdevAioOptions_str(*file.aio));
        }
        put_int(out, "aio-max-batch", file.aio_max_batch);
        put_bool(out, "drop-cache", file.drop_cache);
        put_bool(out, "x-check-cache-dropped", file.x_check_cache_dropped);
        break;
    }
    case qapi::BlockdevDriver::raw: {
        const qapi::BlockdevOptionsRaw& raw = *options.u.raw;
        TRY_VOID(flatten_ref(raw.file, "file", qapi_codec::member_path(path, "file"), out));
        put_int(out, "offset", raw.offset);
        put_int(out, "size", raw.size);
        break;
    }
    case qapi::BlockdevDriver::vdi:
        TRY_VOID(flatten_ref(options.u.vdi->file, "file", qapi_codec::member_path(path, "file"), out));
        break;
    case qapi::BlockdevDriver::vpc:
        TRY_VOID(flatten_ref(options.u.vpc->file, "file", qapi_codec::member_path(path, "file"), out));
        break;
    }
    return out;
}

Result<block::BlockOptions> blockdev_options_from_json(const JsonValue& value, const std::string& path)
{
    auto options = TRY(qapi::from_json<qapi::BlockdevOptions>(value, path));
    return flatten_blockdev_options(options, path);
}

}  // namespace qemu::monitor
