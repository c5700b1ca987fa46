// Flattening BlockdevOptions into dotted keys ("file.filename", "cache.direct", ...): the
// generated encoder turns the decoded options into JSON, and that is flattened the way
// qdict_flatten does. Which members are BlockdevRefs (nested options or a node name) the
// schema says: the members of type 'any' in a driver's branch (see qapi/block-core.json),
// found in the introspection data, so a new driver needs no code here.
#include "block/blockdev-options.h"

#include <map>

#include "qapi/codec.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit.h"

namespace qemu::block {

namespace {

// For each BlockdevRef member, whether it is a list of them ('[any]', vmdk's extents).
using RefMembers = std::map<std::string, std::map<std::string, bool>, std::less<>>;

const JsonValue* find_entity(const JsonValue& schema, const std::string& name)
{
    for (const JsonValue& entity : schema) {
        if (entity.value("name", "") == name) {
            return &entity;
        }
    }
    return nullptr;
}

// For every driver, the names of its branch's BlockdevRef members. The union is the
// argument type of blockdev-add, which takes it boxed.
RefMembers collect_ref_members()
{
    RefMembers refs;
    const JsonValue& schema = qapi::qmp_schema_introspection();
    const JsonValue* command = find_entity(schema, "blockdev-add");
    const JsonValue* options = command ? find_entity(schema, command->value("arg-type", "")) : nullptr;
    if (!options || !options->contains("variants")) {
        return refs;
    }
    for (const JsonValue& variant : (*options)["variants"]) {
        std::map<std::string, bool>& names = refs[variant.value("case", "")];
        const JsonValue* branch = find_entity(schema, variant.value("type", ""));
        if (!branch) {
            continue;
        }
        for (const JsonValue& member : (*branch)["members"]) {
            std::string type = member.value("type", "");
            if (type == "any" || type == "[any]") {
                names.emplace(member.value("name", ""), type == "[any]");
            }
        }
    }
    return refs;
}

const std::map<std::string, bool>& ref_members(std::string_view driver)
{
    static const RefMembers refs = collect_ref_members();
    static const std::map<std::string, bool> none;
    auto it = refs.find(driver);
    return it == refs.end() ? none : it->second;
}

// qdict_flatten of the encoder's output: objects become dotted keys, arrays numbered ones,
// scalars the text an option string would carry.
void flatten_value(const JsonValue& value, const std::string& key, BlockOptions& out)
{
    if (value.is_object()) {
        for (const auto& [name, member] : value.items()) {
            flatten_value(member, key + "." + name, out);
        }
    } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) {
            flatten_value(value[i], key + "." + std::to_string(i), out);
        }
    } else if (value.is_string()) {
        out[key] = value.get<std::string>();
    } else if (value.is_boolean()) {
        out[key] = value.get<bool>() ? "on" : "off";
    } else {
        out[key] = value.dump();
    }
}

}  // namespace

// BlockdevRef: nested options (decoded strictly, with their path in errors) or the name
// of an existing node.
Result<void> flatten_blockdev_ref(
    const JsonValue& ref, const std::string& key, const std::string& path, BlockOptions& out)
{
    // "backing" is QEMU's BlockdevRefOrNull: null means no backing file, which the graph
    // takes as the empty name (as QEMU takes "backing": "").
    bool or_null = key == "backing";
    if (ref.is_null() && or_null) {
        out[key] = "";
        return {};
    }
    if (ref.is_string()) {
        out[key] = ref.get<std::string>();
        return {};
    }
    if (!ref.is_object()) {
        // QEMU's alternate visitor names the member alone, and a list element as "null".
        std::string name = path.ends_with(']') ? "null" : path.substr(path.find_last_of('.') + 1);
        return qapi_codec::invalid_type(name, or_null ? "BlockdevRefOrNull" : "BlockdevRef");
    }
    auto nested = TRY(blockdev_options_from_json(ref, path));
    for (auto& [name, value] : nested) {
        out[key + "." + name] = std::move(value);
    }
    return {};
}

Result<BlockOptions> flatten_blockdev_options(const qapi::BlockdevOptions& options, const std::string& path)
{
    if (path.empty() && options.detect_zeroes == qapi::BlockdevDetectZeroesOptions::unmap &&
        options.discard != qapi::BlockdevDiscardOptions::unmap) {
        // Children always discard (BDRV_O_UNMAP), so only the node added itself can trip this.
        return make_error("setting detect-zeroes to unmap is not allowed without setting discard operation to unmap");
    }
    JsonValue encoded = qapi::BlockdevOptions_to_json(options);
    std::string driver = encoded.value("driver", "");
    const std::map<std::string, bool>& refs = ref_members(driver);
    BlockOptions out;
    for (const auto& [key, value] : encoded.items()) {
        auto ref = refs.find(key);
        if (ref != refs.end() && ref->second) {
            // A list of BlockdevRefs becomes the numbered children "key.0", "key.1", ...
            std::string member = qapi_codec::member_path(path, key);
            if (!value.is_array()) {
                return qapi_codec::invalid_type(member, "array");
            }
            for (size_t i = 0; i < value.size(); ++i) {
                TRY_VOID(flatten_blockdev_ref(
                    value[i], key + "." + std::to_string(i), member + "[" + std::to_string(i) + "]", out));
            }
        } else if (ref != refs.end()) {
            TRY_VOID(flatten_blockdev_ref(value, key, qapi_codec::member_path(path, key), out));
        } else {
            flatten_value(value, key, out);
        }
    }
    return out;
}

Result<BlockOptions> blockdev_options_from_json(const JsonValue& value, const std::string& path)
{
    auto options = TRY(qapi::from_json<qapi::BlockdevOptions>(value, path));
    return flatten_blockdev_options(options, path);
}

}  // namespace qemu::block
