// In the spirit of QEMU's tests/qtest/qmp-cmd-test.c: decode query-qmp-schema strictly
// (every entry has exactly the members its meta-type requires, masked type names are
// decimal strings, arrays are "[ELEMENT]", every referenced type exists), then run every command that takes no
// mandatory arguments and returns something, each in a fresh emulator, and expect a
// "return". Also checks that query-commands lists exactly the schema's commands.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QTestState;

constexpr const char* kCommonArgs = "-nodefaults -machine none";

std::string dump(const JsonValue& value)
{
    return qemu::json_to_string(value);
}

// Commands that take no mandatory argument and still fail without one, with why.
const std::map<std::string, std::string> kExpectedErrors = {
    // add-fd needs an fd passed with the command.
    {"add-fd", "No file descriptor supplied via SCM_RIGHTS"},
};

bool is_decimal(const std::string& s)
{
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

struct Schema {
    std::map<std::string, JsonValue> entries;  // by name
};

// Every key of entry is in allowed, and every key in required is present.
void expect_keys(const JsonValue& entry, std::set<std::string> required, std::set<std::string> optional)
{
    for (const auto& [key, value] : entry.items()) {
        EXPECT_TRUE(required.contains(key) || optional.contains(key))
            << "unexpected '" << key << "' in " << dump(entry);
    }
    for (const auto& key : required) {
        EXPECT_TRUE(entry.contains(key)) << "missing '" << key << "' in " << dump(entry);
    }
}

void expect_string_list(const JsonValue& v)
{
    ASSERT_TRUE(v.is_array()) << dump(v);
    for (const auto& s : v) {
        EXPECT_TRUE(s.is_string()) << dump(v);
    }
}

Schema fetch_schema(QTestState& qts)
{
    JsonValue list = qts.qmp_assert_success("{ 'execute': 'query-qmp-schema' }");
    Schema schema;
    EXPECT_TRUE(list.is_array());
    for (const auto& entry : list) {
        EXPECT_TRUE(entry.is_object() && entry.contains("name") && entry["name"].is_string()) << dump(entry);
        std::string name = entry["name"].get<std::string>();
        EXPECT_FALSE(schema.entries.contains(name)) << "duplicate " << name;
        schema.entries[name] = entry;
    }
    return schema;
}

void check_entry(const Schema& schema, const JsonValue& entry)
{
    const std::set<std::string> base = {"name", "meta-type"};
    std::string name = entry["name"].get<std::string>();
    ASSERT_TRUE(entry.contains("meta-type") && entry["meta-type"].is_string()) << dump(entry);
    std::string meta = entry["meta-type"].get<std::string>();
    if (entry.contains("features")) {
        expect_string_list(entry["features"]);
    }
    auto expect_type = [&](const JsonValue& ref) {
        ASSERT_TRUE(ref.is_string()) << dump(entry);
        EXPECT_TRUE(schema.entries.contains(ref.get<std::string>()))
            << "'" << ref.get<std::string>() << "' referenced by " << name << " does not exist";
    };
    auto with = [&](std::set<std::string> more) {
        more.insert(base.begin(), base.end());
        return more;
    };
    if (meta == "command") {
        expect_keys(entry, with({"arg-type", "ret-type"}), {"features", "allow-oob"});
        expect_type(entry["arg-type"]);
        expect_type(entry["ret-type"]);
        if (entry.contains("allow-oob")) {
            EXPECT_TRUE(entry["allow-oob"].is_boolean()) << dump(entry);
        }
        return;
    }
    if (meta == "event") {
        expect_keys(entry, with({"arg-type"}), {"features"});
        expect_type(entry["arg-type"]);
        return;
    }
    if (meta == "builtin") {
        expect_keys(entry, with({"json-type"}), {"features"});
        static const std::set<std::string> json_types = {
            "string", "number", "int", "boolean", "null", "object", "array", "value"};
        EXPECT_TRUE(json_types.contains(entry["json-type"].get<std::string>())) << dump(entry);
        EXPECT_FALSE(is_decimal(name)) << "builtin names are not masked: " << dump(entry);
        return;
    }
    if (meta == "array") {
        // As in QEMU 7.2, an array is named after its element type: "[int]", "[42]".
        expect_keys(entry, with({"element-type"}), {"features"});
        expect_type(entry["element-type"]);
        EXPECT_EQ(name, "[" + entry["element-type"].get<std::string>() + "]") << dump(entry);
        return;
    }
    // Every other type's name is masked as a decimal number.
    EXPECT_TRUE(is_decimal(name)) << dump(entry);
    if (meta == "enum") {
        expect_keys(entry, with({"members", "values"}), {"features"});
        ASSERT_TRUE(entry["members"].is_array()) << dump(entry);
        expect_string_list(entry["values"]);
        ASSERT_EQ(entry["members"].size(), entry["values"].size()) << dump(entry);
        for (size_t i = 0; i < entry["members"].size(); ++i) {
            const JsonValue& member = entry["members"][i];
            expect_keys(member, {"name"}, {"features"});
            EXPECT_EQ(member["name"], entry["values"][i]) << dump(entry);
        }
    } else if (meta == "object") {
        expect_keys(entry, with({"members"}), {"features", "tag", "variants"});
        ASSERT_TRUE(entry["members"].is_array()) << dump(entry);
        std::set<std::string> member_names;
        for (const auto& member : entry["members"]) {
            expect_keys(member, {"name", "type"}, {"default", "features"});
            expect_type(member["type"]);
            // The only default QEMU introspects is null, meaning "optional".
            if (member.contains("default")) {
                EXPECT_TRUE(member["default"].is_null()) << dump(entry);
            }
            member_names.insert(member["name"].get<std::string>());
        }
        EXPECT_EQ(entry.contains("tag"), entry.contains("variants")) << dump(entry);
        if (entry.contains("tag")) {
            EXPECT_TRUE(member_names.contains(entry["tag"].get<std::string>())) << dump(entry);
            for (const auto& variant : entry["variants"]) {
                expect_keys(variant, {"case", "type"}, {});
                expect_type(variant["type"]);
            }
        }
    } else if (meta == "alternate") {
        expect_keys(entry, with({"members"}), {"features"});
        ASSERT_TRUE(entry["members"].is_array()) << dump(entry);
        EXPECT_FALSE(entry["members"].empty()) << dump(entry);
        for (const auto& member : entry["members"]) {
            expect_keys(member, {"type"}, {});
            expect_type(member["type"]);
        }
    } else {
        ADD_FAILURE() << "unknown meta-type in " << dump(entry);
    }
}

bool has_mandatory_members(const Schema& schema, const std::string& type)
{
    const JsonValue& entry = schema.entries.at(type);
    for (const auto& member : entry["members"]) {
        if (!member.contains("default")) {
            return true;
        }
    }
    return false;
}

bool is_empty_object(const Schema& schema, const std::string& type)
{
    const JsonValue& entry = schema.entries.at(type);
    return entry["meta-type"] == "object" && entry["members"].empty() && !entry.contains("variants");
}

TEST(QmpCmd, SchemaDecodesStrictly)
{
    auto qts = QTestState::init(kCommonArgs);
    Schema schema = fetch_schema(*qts);
    size_t commands = 0;
    for (const auto& [name, entry] : schema.entries) {
        SCOPED_TRACE(name);
        check_entry(schema, entry);
        commands += entry["meta-type"] == "command" ? 1 : 0;
    }
    EXPECT_GT(commands, 10u);
    // The schema describes itself.
    ASSERT_TRUE(schema.entries.contains("query-qmp-schema"));
}

TEST(QmpCmd, QueryCommandsListsExactlyTheSchemaCommands)
{
    auto qts = QTestState::init(kCommonArgs);
    Schema schema = fetch_schema(*qts);
    std::set<std::string> from_schema;
    for (const auto& [name, entry] : schema.entries) {
        if (entry["meta-type"] == "command") {
            from_schema.insert(name);
        }
    }
    std::set<std::string> listed;
    for (const auto& command : qts->qmp_assert_success("{ 'execute': 'query-commands' }")) {
        EXPECT_TRUE(listed.insert(command["name"].get<std::string>()).second) << dump(command);
    }
    EXPECT_EQ(listed, from_schema);
}

TEST(QmpCmd, EveryArgumentlessQueryReturns)
{
    std::set<std::string> runnable;
    {
        auto qts = QTestState::init(kCommonArgs);
        Schema schema = fetch_schema(*qts);
        for (const auto& [name, entry] : schema.entries) {
            if (entry["meta-type"] != "command") {
                continue;
            }
            std::string arg_type = entry["arg-type"].get<std::string>();
            std::string ret_type = entry["ret-type"].get<std::string>();
            // Commands with empty returns act rather than query (quit, stop, ...).
            if (has_mandatory_members(schema, arg_type) || is_empty_object(schema, ret_type)) {
                continue;
            }
            runnable.insert(name);
        }
    }
    for (const char* expected : {"query-version", "query-status", "query-chardev", "query-qmp-schema"}) {
        EXPECT_TRUE(runnable.contains(expected)) << expected;
    }
    for (const auto& name : runnable) {
        SCOPED_TRACE(name);
        auto qts = QTestState::init(kCommonArgs);
        JsonValue reply = qts->qmp("{ 'execute': '" + name + "' }");
        auto allowed = kExpectedErrors.find(name);
        if (allowed != kExpectedErrors.end()) {
            EXPECT_EQ(qtest::qmp_expect_error(reply, "GenericError"), allowed->second);
        } else {
            EXPECT_TRUE(reply.contains("return")) << dump(reply);
        }
    }
}

}  // namespace
