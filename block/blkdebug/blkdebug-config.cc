// Parsing blkdebug's rules (see blkdebug-config.h). The config file is read line by line
// as QEMU's qemu_config_parse does with sscanf: a '[' line opens a section, any other
// line's first word is a key and its value is what stands between the quotes after a
// '=' (empty when the line has no such quotes, so `event = read_aio` sets an empty event).
// A section is checked when the next one opens or the file ends.
#include "block/blkdebug/blkdebug-config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <map>
#include <optional>

#include "block/node-filename.h"
#include "util/qemu-option.h"

namespace qemu::block {

namespace {

enum class KeyType { String, Number, Bool };

struct KeyDesc {
    std::string_view name;
    KeyType type;
};

constexpr std::array kInjectErrorKeys = {KeyDesc{"event", KeyType::String}, KeyDesc{"state", KeyType::Number},
    KeyDesc{"iotype", KeyType::String}, KeyDesc{"errno", KeyType::Number}, KeyDesc{"sector", KeyType::Number},
    KeyDesc{"once", KeyType::Bool}, KeyDesc{"immediately", KeyType::Bool}};
constexpr std::array kSetStateKeys = {
    KeyDesc{"event", KeyType::String}, KeyDesc{"state", KeyType::Number}, KeyDesc{"new_state", KeyType::Number}};

std::string_view section_name(RuleSectionKind kind)
{
    return kind == RuleSectionKind::InjectError ? "inject-error" : "set-state";
}

std::span<const KeyDesc> keys_of(RuleSectionKind kind)
{
    if (kind == RuleSectionKind::InjectError) {
        return kInjectErrorKeys;
    }
    return kSetStateKeys;
}

const KeyDesc* find_key(RuleSectionKind kind, std::string_view key)
{
    for (const KeyDesc& desc : keys_of(kind)) {
        if (desc.name == key) {
            return &desc;
        }
    }
    return nullptr;
}

Result<void> check_value(const KeyDesc& desc, std::string_view value)
{
    switch (desc.type) {
    case KeyType::String:
        return {};
    case KeyType::Number:
        TRY(parse_option_number(desc.name, value));
        return {};
    case KeyType::Bool:
        TRY(parse_option_bool(desc.name, value));
        return {};
    }
    return {};
}

// QEMU walks a section's keys in its hash table's order, which decides which of several
// bad keys is reported.
std::vector<std::pair<std::string, std::string>> in_qdict_order(std::map<std::string, std::string> values)
{
    std::vector<std::pair<std::string, std::string>> ordered(values.begin(), values.end());
    std::ranges::stable_sort(
        ordered, [](const auto& a, const auto& b) { return qdict_bucket(a.first) < qdict_bucket(b.first); });
    return ordered;
}

// One [group] of the file as qemu_config_do_parse takes it: the group must be one of
// blkdebug's, its "id" a well-formed one not used before, every key known and typed.
struct PendingGroup {
    std::string group;
    std::vector<std::pair<std::string, std::string>> values;  // file order, a key once
};

Result<void> finish_group(PendingGroup& pending, std::vector<RuleSection>& out, std::vector<std::string>& ids)
{
    RuleSectionKind kind;
    if (pending.group == "inject-error") {
        kind = RuleSectionKind::InjectError;
    } else if (pending.group == "set-state") {
        kind = RuleSectionKind::SetState;
    } else {
        return make_error("There is no option group '" + pending.group + "'");
    }
    std::map<std::string, std::string> by_key(pending.values.begin(), pending.values.end());
    if (auto id = by_key.find("id"); id != by_key.end()) {
        if (!id_wellformed(id->second)) {
            return make_error("Parameter 'id' expects an identifier");
        }
        std::string scoped = pending.group + "/" + id->second;
        if (std::ranges::find(ids, scoped) != ids.end()) {
            return make_error("Duplicate ID '" + id->second + "' for " + pending.group);
        }
        ids.push_back(scoped);
        by_key.erase(id);
    }
    for (const auto& [key, value] : in_qdict_order(by_key)) {
        const KeyDesc* desc = find_key(kind, key);
        if (!desc) {
            return make_error("Invalid parameter '" + key + "'");
        }
        TRY_VOID(check_value(*desc, value));
    }
    RuleSection section{.kind = kind};
    for (auto& [key, value] : pending.values) {
        if (key != "id") {
            section.values.emplace_back(key, value);
        }
    }
    out.push_back(std::move(section));
    return {};
}

void set_value(std::vector<std::pair<std::string, std::string>>& values, std::string key, std::string value)
{
    auto it = std::ranges::find_if(values, [&](const auto& entry) { return entry.first == key; });
    if (it != values.end()) {
        it->second = std::move(value);
    } else {
        values.emplace_back(std::move(key), std::move(value));
    }
}

bool is_space(char ch)
{
    return std::isspace(static_cast<unsigned char>(ch)) != 0;
}

// sscanf's "%63s": skips white space, then takes up to 63 non-space characters.
std::optional<std::string_view> scan_word(std::string_view& rest)
{
    while (!rest.empty() && is_space(rest.front())) {
        rest.remove_prefix(1);
    }
    size_t n = 0;
    while (n < rest.size() && n < 63 && !is_space(rest[n])) {
        ++n;
    }
    if (n == 0) {
        return std::nullopt;
    }
    std::string_view word = rest.substr(0, n);
    rest.remove_prefix(n);
    return word;
}

void skip_space(std::string_view& rest)
{
    while (!rest.empty() && is_space(rest.front())) {
        rest.remove_prefix(1);
    }
}

// A section header: `[group "id"]` or `[group]`; nullopt when the line is neither.
std::optional<std::pair<std::string, std::optional<std::string>>> scan_header(std::string_view line)
{
    std::string_view rest = line.substr(1);
    if (auto group = scan_word(rest)) {
        std::string_view after = rest;
        skip_space(after);
        if (!after.empty() && after.front() == '"') {
            after.remove_prefix(1);
            size_t n = 0;
            while (n < after.size() && n < 63 && after[n] != '"') {
                ++n;
            }
            if (n > 0) {
                return std::pair{std::string(*group), std::optional<std::string>(std::string(after.substr(0, n)))};
            }
        }
    }
    size_t n = 0;
    rest = line.substr(1);
    while (n < rest.size() && n < 63 && rest[n] != ']') {
        ++n;
    }
    if (n == 0) {
        return std::nullopt;
    }
    return std::pair{std::string(rest.substr(0, n)), std::optional<std::string>()};
}

}  // namespace

Result<std::vector<RuleSection>> parse_blkdebug_config(std::string_view text)
{
    std::vector<RuleSection> sections;
    std::vector<std::string> ids;
    std::optional<PendingGroup> pending;
    size_t pos = 0;
    while (pos < text.size()) {
        // fgets: a line keeps its newline.
        size_t end = text.find('\n', pos);
        end = end == std::string_view::npos ? text.size() : end + 1;
        std::string_view line = text.substr(pos, end - pos);
        pos = end;
        if (line.front() == '\n' || line.front() == '#') {
            continue;
        }
        if (line.front() == '[') {
            if (auto header = scan_header(line)) {
                if (pending) {
                    TRY_VOID(finish_group(*pending, sections, ids));
                }
                pending = PendingGroup{.group = header->first};
                if (header->second) {
                    pending->values.emplace_back("id", *header->second);
                }
                continue;
            }
        }
        std::string_view rest = line;
        auto key = scan_word(rest);
        if (!key) {
            return make_error("parse error");
        }
        std::string value;
        skip_space(rest);
        if (!rest.empty() && rest.front() == '=') {
            rest.remove_prefix(1);
            skip_space(rest);
            if (!rest.empty() && rest.front() == '"') {
                rest.remove_prefix(1);
                size_t n = 0;
                while (n < rest.size() && n < 1023 && rest[n] != '"') {
                    ++n;
                }
                value = std::string(rest.substr(0, n));
            }
        }
        if (!pending) {
            return make_error("no group defined");
        }
        set_value(pending->values, std::string(*key), std::move(value));
    }
    if (pending) {
        TRY_VOID(finish_group(*pending, sections, ids));
    }
    return sections;
}

namespace {

// config_parse_qdict_section: "name.key" for one unnumbered section, or "name.N.key" for
// sections 0, 1, ... in order.
Result<void> take_section_options(BlockOptions& options, RuleSectionKind kind, std::vector<RuleSection>& out)
{
    std::string name(section_name(kind));
    BlockOptions subtree = extract_subtree(options, name);
    if (subtree.empty()) {
        return {};
    }
    size_t original = subtree.size();
    RuleSection direct{.kind = kind};
    for (const auto& [key, value] :
        in_qdict_order(std::map<std::string, std::string>(subtree.begin(), subtree.end()))) {
        if (const KeyDesc* desc = find_key(kind, key)) {
            TRY_VOID(check_value(*desc, value));
            direct.values.emplace_back(key, value);
            subtree.erase(key);
        }
    }
    if (subtree.empty()) {
        out.push_back(std::move(direct));
        return {};
    }
    if (subtree.size() < original) {
        return make_error("Unknown option '" + in_qdict_order({subtree.begin(), subtree.end()}).front().first +
            "' for [" + name + "]");
    }
    for (unsigned index = 0;; ++index) {
        std::string number = std::to_string(index);
        BlockOptions section = extract_subtree(subtree, number);
        if (subtree.contains(number)) {
            return make_error("[" + name + "] section (index " + number + ") does not consist of keys");
        }
        if (section.empty()) {
            break;
        }
        RuleSection numbered{.kind = kind};
        for (const auto& [key, value] : in_qdict_order({section.begin(), section.end()})) {
            if (const KeyDesc* desc = find_key(kind, key)) {
                TRY_VOID(check_value(*desc, value));
                numbered.values.emplace_back(key, value);
            }
        }
        for (const auto& [key, value] : in_qdict_order({section.begin(), section.end()})) {
            if (!find_key(kind, key)) {
                return make_error("[" + name + "] section doesn't support the option '" + key + "'");
            }
        }
        out.push_back(std::move(numbered));
    }
    if (!subtree.empty()) {
        return make_error("Unused option '" + in_qdict_order({subtree.begin(), subtree.end()}).front().first +
            "' for [" + name + "]");
    }
    return {};
}

std::optional<std::string_view> value_of(const RuleSection& section, std::string_view key)
{
    for (const auto& [name, value] : section.values) {
        if (name == key) {
            return value;
        }
    }
    return std::nullopt;
}

// Values were checked when the section was read, so these parse.
uint64_t number_or(const RuleSection& section, std::string_view key, uint64_t fallback)
{
    auto value = value_of(section, key);
    if (!value) {
        return fallback;
    }
    return parse_option_number(key, *value).value_or(fallback);
}

bool bool_of(const RuleSection& section, std::string_view key)
{
    auto value = value_of(section, key);
    return value && parse_option_bool(key, *value).value_or(false);
}

Result<BlkdebugRule> build_rule(const RuleSection& section)
{
    auto event_name = value_of(section, "event");
    if (!event_name) {
        return make_error("Missing event name for rule");
    }
    auto event = parse_blkdebug_event(*event_name);
    if (!event) {
        return make_error("invalid parameter value: " + std::string(*event_name));
    }
    BlkdebugRule rule{.event = *event, .state = static_cast<int>(number_or(section, "state", 0))};
    if (section.kind == RuleSectionKind::SetState) {
        rule.action = RuleAction::SetState;
        rule.new_state = static_cast<int>(number_or(section, "new_state", 0));
        return rule;
    }
    rule.action = RuleAction::InjectError;
    rule.error = static_cast<int>(number_or(section, "errno", EIO));
    rule.once = bool_of(section, "once");
    rule.immediately = bool_of(section, "immediately");
    auto sector = static_cast<int64_t>(number_or(section, "sector", UINT64_MAX));
    rule.offset = sector == -1 ? -1 : static_cast<int64_t>(static_cast<uint64_t>(sector) * kSectorSize);
    if (auto iotype_name = value_of(section, "iotype")) {
        auto iotype = parse_blkdebug_iotype(*iotype_name);
        if (!iotype) {
            return make_error("invalid parameter value: " + std::string(*iotype_name));
        }
        rule.iotype_mask = uint64_t{1} << static_cast<unsigned>(*iotype);
    }
    return rule;
}

}  // namespace

Result<std::vector<RuleSection>> take_rule_options(BlockOptions& options)
{
    std::vector<RuleSection> sections;
    TRY_VOID(take_section_options(options, RuleSectionKind::InjectError, sections));
    TRY_VOID(take_section_options(options, RuleSectionKind::SetState, sections));
    return sections;
}

Result<std::vector<BlkdebugRule>> build_blkdebug_rules(const std::vector<RuleSection>& sections)
{
    std::vector<BlkdebugRule> rules;
    for (RuleSectionKind kind : {RuleSectionKind::InjectError, RuleSectionKind::SetState}) {
        for (const RuleSection& section : sections) {
            if (section.kind == kind) {
                rules.push_back(TRY(build_rule(section)));
            }
        }
    }
    return rules;
}

}  // namespace qemu::block
