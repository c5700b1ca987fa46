// bdrv_refresh_filename (see node-filename.h). Nothing here knows a driver: which options
// count is each driver's strong_runtime_opts.
#include "block/node-filename.h"

#include <algorithm>

namespace qemu::block {

namespace {

std::string json_quoted(std::string_view text)
{
    std::string out = "\"";
    for (char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
        }
        out += ch;
    }
    return out + "\"";
}

std::optional<std::string> json_of(BlockNode& node, const OptionRenderer& render, const std::string& prefix);

// A node's bs->full_open_options: its json: object, or for a node with a plain name its
// driver and file (or, at the bottom, its filename).
std::string full_open_options(BlockNode& node, const OptionRenderer& render, const std::string& prefix)
{
    if (auto json = json_of(node, render, prefix)) {
        return *json;
    }
    std::vector<std::pair<std::string, std::string>> members{{"driver", json_quoted(node.driver().format_name)}};
    if (BlockNode* file = node.file()) {
        members.emplace_back("file", full_open_options(*file, render, prefix + "file."));
    } else {
        members.emplace_back("filename", json_quoted(node.filename()));
    }
    return qdict_json_object(std::move(members));
}

std::optional<std::string> json_of(BlockNode& node, const OptionRenderer& render, const std::string& prefix)
{
    std::vector<std::pair<std::string, std::string>> members;
    for (std::string_view key : node.driver().strong_runtime_opts) {
        if (auto value = render(node, prefix + std::string(key))) {
            members.emplace_back(std::string(key), *value);
        }
    }
    bool backing_overridden = node.backing_overridden();
    std::optional<std::string> child;
    if (BlockNode* file = node.file()) {
        child = json_of(*file, render, prefix + "file.");
        // bdrv_refresh_filename takes the file's name only from a protocol node: over
        // another format (a `file` blockdev-reopen pointed at one) the name spells it out.
        if (!child && file->driver().protocol_name.empty()) {
            child = full_open_options(*file, render, prefix + "file.");
        }
        if (!child && (!members.empty() || backing_overridden)) {
            child = qdict_json_object(
                {{"driver", json_quoted(file->driver().format_name)}, {"filename", json_quoted(file->filename())}});
        }
    }
    if (members.empty() && !child && !backing_overridden) {
        return std::nullopt;
    }
    members.emplace_back("driver", json_quoted(node.driver().format_name));
    if (child) {
        members.emplace_back("file", *child);
    }
    if (backing_overridden) {
        BlockNode* backing = node.backing();
        members.emplace_back("backing", backing ? full_open_options(*backing, render, prefix + "backing.") : "null");
    }
    return qdict_json_object(std::move(members));
}

}  // namespace

unsigned qdict_bucket(std::string_view key)
{
    uint32_t value = 0x238F13AFu * static_cast<uint32_t>(key.size());
    for (size_t i = 0; i < key.size(); ++i) {
        value += static_cast<uint32_t>(static_cast<unsigned char>(key[i])) << (i * 5 % 24);
    }
    return (1103515243u * value + 12345u) % 512;
}

std::string qdict_json_object(std::vector<std::pair<std::string, std::string>> members)
{
    std::stable_sort(members.begin(), members.end(),
        [](const auto& a, const auto& b) { return qdict_bucket(a.first) < qdict_bucket(b.first); });
    std::string out = "{";
    for (size_t i = 0; i < members.size(); ++i) {
        out += (i ? ", \"" : "\"") + members[i].first + "\": " + members[i].second;
    }
    return out + "}";
}

std::optional<std::string> json_filename(BlockNode& node, const OptionRenderer& render)
{
    return json_of(node, render, "");
}

std::optional<std::string> render_open_option(BlockNode& node, const std::string& dotted_key)
{
    std::string key = dotted_key.substr(dotted_key.rfind('.') + 1);
    auto it = node.open_options().find(key);
    if (it == node.open_options().end()) {
        return std::nullopt;
    }
    const std::string& value = it->second;
    if (value == "on" || value == "off") {
        return value == "on" ? "true" : "false";
    }
    if (!value.empty() && std::ranges::all_of(value, [](char ch) { return ch >= '0' && ch <= '9'; })) {
        return value;
    }
    return json_quoted(value);
}

void refresh_filename(BlockNode& node)
{
    if (auto json = json_filename(node, render_open_option)) {
        node.set_filename("json:" + *json);
    } else if (BlockNode* file = node.file()) {
        node.set_filename(file->filename());  // back to a plain name after a reopen
    }
}

JsonValue qdict_ordered(const JsonValue& value)
{
    if (value.is_array()) {
        JsonValue out = JsonValue::array();
        for (const JsonValue& element : value) {
            out.push_back(qdict_ordered(element));
        }
        return out;
    }
    if (!value.is_object()) {
        return value;
    }
    std::vector<std::pair<std::string, const JsonValue*>> members;
    for (const auto& [key, member] : value.items()) {
        members.emplace_back(key, &member);
    }
    // A bucket lists its newest key first.
    std::reverse(members.begin(), members.end());
    std::stable_sort(members.begin(), members.end(),
        [](const auto& a, const auto& b) { return block::qdict_bucket(a.first) < block::qdict_bucket(b.first); });
    JsonValue out = JsonValue::object();
    for (const auto& [key, member] : members) {
        out[key] = qdict_ordered(*member);
    }
    return out;
}

namespace {

std::string scalar_text(const JsonValue& value)
{
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_boolean()) {
        return value.get<bool>() ? "true" : "false";
    }
    return json_to_string(value);
}

void dump_value(int indent, const JsonValue& value, std::string& out);

void dump_object(int indent, const JsonValue& object, std::string& out)
{
    for (const auto& [key, member] : object.items()) {
        std::string shown = key;
        std::ranges::replace(shown, '-', ' ');
        bool composite = member.is_object() || member.is_array();
        out += std::string(static_cast<size_t>(indent) * 4, ' ') + shown + ":" + (composite ? "\n" : " ");
        dump_value(indent + 1, member, out);
    }
}

void dump_value(int indent, const JsonValue& value, std::string& out)
{
    if (value.is_object()) {
        dump_object(indent, value, out);
    } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) {
            bool composite = value[i].is_object() || value[i].is_array();
            out += std::string(static_cast<size_t>(indent) * 4, ' ') + "[" + std::to_string(i) + "]:" +
                   (composite ? "\n" : " ");
            dump_value(indent + 1, value[i], out);
        }
    } else {
        out += scalar_text(value) + "\n";
    }
}

}  // namespace

std::string dump_format_specific(const JsonValue& specific)
{
    std::string out;
    if (specific.is_object() && specific.contains("data")) {
        dump_value(1, qdict_ordered(specific["data"]), out);
    }
    return out;
}

}  // namespace qemu::block
