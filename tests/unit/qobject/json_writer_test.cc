// json_to_string() and qmp_wire_line(): QEMU's exact output text, compact and pretty.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "qobject/json.h"

namespace qemu {
namespace {

TEST(JsonWriter, CompactSeparators)
{
    JsonValue v = {{"a", 1}, {"b", {1, 2}}, {"c", JsonValue::object()}, {"d", JsonValue::array()}};
    EXPECT_EQ(json_to_string(v), R"({"a": 1, "b": [1, 2], "c": {}, "d": []})");
    EXPECT_EQ(json_to_string(JsonValue::object()), "{}");
    EXPECT_EQ(json_to_string(JsonValue::array()), "[]");
    EXPECT_EQ(json_to_string(nullptr), "null");
    EXPECT_EQ(json_to_string(false), "false");
}

TEST(JsonWriter, MemberOrderIsInsertionOrder)
{
    JsonValue v = JsonValue::object();
    v["return"] = JsonValue::object();
    v["id"] = "x";
    EXPECT_EQ(json_to_string(v), R"({"return": {}, "id": "x"})");
}

TEST(JsonWriter, PrettyLayoutMatchesQemu)
{
    JsonValue v = {{"a", 1}, {"b", {1, 2}}, {"c", JsonValue::object()}, {"d", JsonValue::array()}};
    EXPECT_EQ(json_to_string(v, {.pretty = true}),
              "{\n"
              "    \"a\": 1,\n"
              "    \"b\": [\n"
              "        1,\n"
              "        2\n"
              "    ],\n"
              "    \"c\": {\n"
              "    },\n"
              "    \"d\": [\n"
              "    ]\n"
              "}");
    EXPECT_EQ(json_to_string(JsonValue::object(), {.pretty = true}), "{\n}");
    EXPECT_EQ(json_to_string(JsonValue::array(), {.pretty = true}), "[\n]");
    EXPECT_EQ(json_to_string(42, {.pretty = true}), "42");
    EXPECT_EQ(json_to_string(JsonValue({{"return", JsonValue::object()}}), {.pretty = true}),
              "{\n    \"return\": {\n    }\n}");
}

TEST(JsonWriter, StringEscapes)
{
    EXPECT_EQ(json_to_string("\"\\\b\f\n\r\t"), R"("\"\\\b\f\n\r\t")");
    // Slash, apostrophe and angle brackets go out as they are.
    EXPECT_EQ(json_to_string("a/b'<c>&"), R"("a/b'<c>&")");
    EXPECT_EQ(json_to_string("\x01\x0B\x1F\x7F"), R"("\u0001\u000B\u001F\u007F")");
    // Non-ASCII becomes upper-case \uXXXX, surrogate pairs above the BMP.
    EXPECT_EQ(json_to_string("caf\xC3\xA9"), R"("caf\u00E9")");
    EXPECT_EQ(json_to_string("\xE2\x82\xAC"), R"("\u20AC")");
    EXPECT_EQ(json_to_string("\xF0\x9F\x98\x80"), R"("\uD83D\uDE00")");
    // Bytes that are not UTF-8 become U+FFFD.
    EXPECT_EQ(json_to_string("a\xFF" "b\xC3"), R"("a\uFFFDb\uFFFD")");
    // U+0000 as QEMU stores it (C0 80), and as a raw NUL byte in a std::string.
    EXPECT_EQ(json_to_string("\xC0\x80"), R"("\u0000")");
    EXPECT_EQ(json_to_string(std::string("a\0b", 3)), R"("a\u0000b")");
    // Keys are escaped the same way.
    EXPECT_EQ(json_to_string(JsonValue({{"k\xC3\xA9\n", 1}})), R"({"k\u00E9\n": 1})");
}

TEST(JsonWriter, NumbersAsQemuPrintsThem)
{
    EXPECT_EQ(json_to_string(INT64_MIN), "-9223372036854775808");
    EXPECT_EQ(json_to_string(UINT64_MAX), "18446744073709551615");
    EXPECT_EQ(json_to_string(0.1), "0.10000000000000001");
    EXPECT_EQ(json_to_string(1.0), "1");
    EXPECT_EQ(json_to_string(-0.0), "-0");
    EXPECT_EQ(json_to_string(1e300), "1.0000000000000001e+300");
    EXPECT_EQ(json_to_string(2.5), "2.5");
    EXPECT_EQ(json_to_string(std::numeric_limits<double>::infinity()), "inf");
}

TEST(JsonWriter, OutputIsAsciiAndReparsesToTheSameValue)
{
    JsonValue v = {{"s", "\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9D\x84\x9E \"q\" \\"},
                   {"n", {-1, 0, 1, 18446744073709551615ull, 0.5}},
                   {"o", {{"t", true}, {"f", false}, {"z", nullptr}}}};
    for (bool pretty : {false, true}) {
        std::string text = json_to_string(v, {.pretty = pretty});
        for (unsigned char c : text) {
            EXPECT_LT(c, 0x80);
        }
        EXPECT_EQ(json_parse(text).value(), v);
    }
}

TEST(JsonWriter, WireLineEndsInCrlfAndPrettyLinesToo)
{
    JsonValue v = {{"return", {{"a", 1}}}};
    EXPECT_EQ(qmp_wire_line(v, false), "{\"return\": {\"a\": 1}}\r\n");
    EXPECT_EQ(qmp_wire_line(v, true), "{\r\n    \"return\": {\r\n        \"a\": 1\r\n    }\r\n}\r\n");
    // A newline inside a string is escaped, so it never becomes a line break.
    EXPECT_EQ(qmp_wire_line("a\nb", false), "\"a\\nb\"\r\n");
}

}  // namespace
}  // namespace qemu
