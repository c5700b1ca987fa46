// json_parse(): the accepted language and the error texts of QEMU's parser, case by case
// in the spirit of QEMU's check-qjson.
#include <gtest/gtest.h>

#include "qobject/json.h"

namespace qemu {
namespace {

std::string error_of(const Result<JsonValue>& r)
{
    return r ? std::string("<no error>") : r.error().desc;
}

// Wraps content in quotes of either kind and parses it as a string.
Result<JsonValue> parse_string_literal(std::string_view content, bool single)
{
    char q = single ? '\'' : '"';
    std::string text;
    text += q;
    text += content;
    text += q;
    return json_parse(text);
}

std::string unquoted_json(const std::string& s)
{
    std::string out = json_to_string(JsonValue(s));
    return out.substr(1, out.size() - 2);
}

struct EscapeCase {
    std::string_view json_in;
    std::optional<std::string_view> decoded;  // nullopt: must fail
    bool reencodes_to_input = true;
};

TEST(JsonParseStrings, EscapesDecodeInBothQuoteStylesAndReencode)
{
    using namespace std::string_view_literals;
    const EscapeCase cases[] = {
        {R"(\b\f\n\r\t\\\")", "\b\f\n\r\t\\\""sv},
        {R"(\/\')", "/'"sv, false},
        {R"(space \u0020)", "space  "sv, false},
        {R"(cent \u00A2)", "cent \xc2\xa2"sv},
        {R"(euro \u20AC)", "euro \xe2\x82\xac"sv},
        {R"(clef \uD834\uDD1E)", "clef \xF0\x9D\x84\x9E"sv},
        {R"(\u12345)", "\xe1\x88\xb4" "5"sv, false},
        {R"(\u0000x)", "\xC0\x80x"sv},
        {R"(\)", std::nullopt},
        {R"(\z)", std::nullopt},
        {R"(\ux)", std::nullopt},
        {R"(\u1x)", std::nullopt},
        {R"(\u12x)", std::nullopt},
        {R"(\u123x)", std::nullopt},
        {R"(lone lead \uD800)", std::nullopt},
        {R"(lead then BMP \uD800\uCAFE)", std::nullopt},
        {R"(lead lead trail \uD800\uD801\uDC02)", std::nullopt},
        {R"(lone trail \uDC00)", std::nullopt},
        {R"(reversed pair \uDC00\uD800)", std::nullopt},
        {R"(nonchar \uFDD0)", std::nullopt},
        {R"(nonchar \uFDEF)", std::nullopt},
        {R"(nonchar \uD87F\uDFFE)", std::nullopt},
        {R"(nonchar \uDBFF\uDFFF)", std::nullopt},
    };
    for (const auto& c : cases) {
        for (bool single : {false, true}) {
            SCOPED_TRACE(std::string(c.json_in) + (single ? " (single quotes)" : ""));
            auto r = parse_string_literal(c.json_in, single);
            if (!c.decoded) {
                EXPECT_FALSE(r.has_value());
                continue;
            }
            ASSERT_TRUE(r.has_value()) << r.error().desc;
            ASSERT_TRUE(r->is_string());
            EXPECT_EQ(r->get<std::string>(), *c.decoded);
            if (c.reencodes_to_input) {
                EXPECT_EQ(unquoted_json(r->get<std::string>()), c.json_in);
            }
        }
    }
}

TEST(JsonParseStrings, EscapeErrorsNameTheSequence)
{
    EXPECT_EQ(error_of(json_parse(R"("\z")")), "JSON parse error, invalid escape sequence in string");
    EXPECT_EQ(error_of(json_parse(R"("a\uD800")")),
              "JSON parse error, \\uD800 is not a valid Unicode character");
    EXPECT_EQ(error_of(json_parse(R"("\uD800\uCAFE")")),
              "JSON parse error, \\uD800 is not a valid Unicode character");
    EXPECT_EQ(error_of(json_parse(R"("\uDC00")")),
              "JSON parse error, \\uDC00 is not a valid Unicode character");
    // A short escape runs into the closing quote; the message stops at the token's end.
    EXPECT_EQ(error_of(json_parse(R"("\u1x")")),
              "JSON parse error, \\u1x\" is not a valid Unicode character");
    EXPECT_EQ(error_of(json_parse("'\x80'")), "JSON parse error, invalid UTF-8 sequence in string");
}

TEST(JsonParseStrings, QuotesOfTheOtherKindNeedNoEscape)
{
    EXPECT_EQ(json_parse(R"("the bee's knees")").value(), "the bee's knees");
    EXPECT_EQ(json_parse(R"('double quote "')").value(), "double quote \"");
    EXPECT_EQ(json_parse(R"('it\'s')").value(), "it's");
    EXPECT_EQ(json_parse(R"("100%")").value(), "100%");
}

struct Utf8Case {
    std::string_view raw;
    bool valid;
    std::string_view written;  // json_to_string of the raw bytes, without quotes
};

TEST(JsonParseStrings, Utf8ValidityMatchesQemuAndWriterEscapes)
{
    const Utf8Case cases[] = {
        {"Gr\xC3\xBC\xC3\x9F" "e", true, "Gr\\u00FC\\u00DFe"},
        {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", true, "\\u03BA\\u1F79\\u03C3\\u03BC\\u03B5"},
        {"\xC2\x80", true, "\\u0080"},
        {"\xE0\xA0\x80", true, "\\u0800"},
        {"\xF0\x90\x80\x80", true, "\\uD800\\uDC00"},
        {"\x7F", true, "\\u007F"},
        {"\xDF\xBF", true, "\\u07FF"},
        {"\xEF\xBF\xBC", true, "\\uFFFC"},
        {"\xED\x9F\xBF", true, "\\uD7FF"},
        {"\xEE\x80\x80", true, "\\uE000"},
        {"\xEF\xBF\xBD", true, "\\uFFFD"},
        {"\xF4\x8F\xBF\xBD", true, "\\uDBFF\\uDFFD"},
        {"\xC0\x80", true, "\\u0000"},  // QEMU's own spelling of U+0000
        // Five- and six-byte forms, beyond U+10FFFF.
        {"\xF8\x88\x80\x80\x80", false, "\\uFFFD"},
        {"\xFC\x84\x80\x80\x80\x80", false, "\\uFFFD"},
        {"\xF7\xBF\xBF\xBF", false, "\\uFFFD"},
        {"\xF4\x90\x80\x80", false, "\\uFFFD"},
        // Stray continuation bytes: one replacement each.
        {"\x80", false, "\\uFFFD"},
        {"\x80\xBF\x80", false, "\\uFFFD\\uFFFD\\uFFFD"},
        // Lonely start bytes followed by a space.
        {"\xC0 \xE0 \xF0 \xF8 \xFC ", false, "\\uFFFD \\uFFFD \\uFFFD \\uFFFD \\uFFFD "},
        // Truncated sequences: one replacement for the whole fragment.
        {"\xE0\x80", false, "\\uFFFD"},
        {"\xF0\x80\x80", false, "\\uFFFD"},
        {"\xEF\xBF", false, "\\uFFFD"},
        {"\xC0\xE0\x80\xF0\x80\x80", false, "\\uFFFD\\uFFFD\\uFFFD"},
        // Overlong forms, including the longer spellings of U+0000.
        {"\xC0\xAF", false, "\\uFFFD"},
        {"\xE0\x80\xAF", false, "\\uFFFD"},
        {"\xF0\x80\x80\xAF", false, "\\uFFFD"},
        {"\xC1\xBF", false, "\\uFFFD"},
        {"\xE0\x9F\xBF", false, "\\uFFFD"},
        {"\xF0\x8F\xBF\xBC", false, "\\uFFFD"},
        {"\xE0\x80\x80", false, "\\uFFFD"},
        // Surrogates encoded directly, alone and paired.
        {"\xED\xA0\x80", false, "\\uFFFD"},
        {"\xED\xBF\xBF", false, "\\uFFFD"},
        {"\xED\xA0\x80\xED\xB0\x80", false, "\\uFFFD\\uFFFD"},
        // Noncharacters.
        {"\xEF\xBF\xBE", false, "\\uFFFD"},
        {"\xEF\xBF\xBF", false, "\\uFFFD"},
        {"\xEF\xB7\x90", false, "\\uFFFD"},
        {"\xEF\xB7\xAF", false, "\\uFFFD"},
        {"\xF0\x9F\xBF\xBE\xF4\x8F\xBF\xBF", false, "\\uFFFD\\uFFFD"},
    };
    for (const auto& c : cases) {
        for (bool single : {false, true}) {
            std::string trace;
            for (unsigned char ch : c.raw) {
                char buf[8];
                snprintf(buf, sizeof(buf), "\\x%02X", ch);
                trace += ch >= 0x20 && ch < 0x7F ? std::string(1, static_cast<char>(ch)) : buf;
            }
            SCOPED_TRACE(trace);
            auto r = parse_string_literal(c.raw, single);
            if (c.valid) {
                ASSERT_TRUE(r.has_value()) << r.error().desc;
                EXPECT_EQ(r->get<std::string>(), c.raw);
                // And the escaped form reads back to the same bytes.
                auto back = parse_string_literal(c.written, single);
                ASSERT_TRUE(back.has_value()) << back.error().desc;
                EXPECT_EQ(back->get<std::string>(), c.raw);
            } else {
                ASSERT_FALSE(r.has_value());
                EXPECT_EQ(r.error().desc, "JSON parse error, invalid UTF-8 sequence in string");
            }
            EXPECT_EQ(unquoted_json(std::string(c.raw)), c.written);
        }
    }
}

TEST(JsonParseStrings, RawControlCharactersAreLexicalErrors)
{
    for (int c = 1; c < 0x20; ++c) {
        std::string text = "\"a";
        text += static_cast<char>(c);
        text += "b\"";
        auto r = json_parse(text);
        ASSERT_FALSE(r.has_value()) << c;
        EXPECT_EQ(r.error().desc, "JSON parse error, stray '\"a" + std::string(1, static_cast<char>(c)) + "'");
    }
    // The C code prints the token with %s, so a NUL ends it.
    EXPECT_EQ(error_of(json_parse(std::string_view("\"ab\0\"", 5))), "JSON parse error, stray '\"ab'");
    EXPECT_EQ(error_of(json_parse("\"a\xFF\"")), "JSON parse error, stray '\"a\xFF'");
}

TEST(JsonParseNumbers, IntegersPreferInt64ThenUint64)
{
    auto check_int = [](std::string_view text, int64_t expected, std::string_view rewritten) {
        auto r = json_parse(text);
        ASSERT_TRUE(r.has_value()) << r.error().desc;
        EXPECT_TRUE(r->is_number_integer() && !r->is_number_unsigned()) << text;
        EXPECT_EQ(r->get<int64_t>(), expected);
        EXPECT_EQ(json_to_string(*r), rewritten);
    };
    check_int("0", 0, "0");
    check_int("1234", 1234, "1234");
    check_int("-32", -32, "-32");
    check_int("-0", 0, "0");
    check_int("9223372036854775807", INT64_MAX, "9223372036854775807");
    check_int("-9223372036854775808", INT64_MIN, "-9223372036854775808");

    for (auto [text, expected] : {std::pair<std::string_view, uint64_t>{"9223372036854775808", uint64_t{1} << 63},
                                  {"18446744073709551615", UINT64_MAX}}) {
        auto r = json_parse(text);
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(r->is_number_unsigned()) << text;
        EXPECT_EQ(r->get<uint64_t>(), expected);
        EXPECT_EQ(json_to_string(*r), text);
    }
}

TEST(JsonParseNumbers, FloatsAndOutOfRangeIntegersBecomeDoubles)
{
    struct Case {
        std::string_view text;
        double value;
        std::string_view rewritten;
    };
    const Case cases[] = {
        {"32.43", 32.43, "32.43"},
        {"0.222", 0.222, "0.222"},
        {"-32.12313", -32.12313, "-32.123130000000003"},
        {"-32.20e-10", -32.20e-10, "-3.22e-09"},
        {"18446744073709551616", 0x1p64, "1.8446744073709552e+19"},
        {"-9223372036854775809", -0x1p63, "-9.2233720368547758e+18"},
        {"1E2", 100.0, "100"},
        {"1e+2", 100.0, "100"},
        {"0.5e-1", 0.05, "0.050000000000000003"},
    };
    for (const auto& c : cases) {
        auto r = json_parse(c.text);
        ASSERT_TRUE(r.has_value()) << c.text;
        EXPECT_TRUE(r->is_number_float()) << c.text;
        EXPECT_EQ(r->get<double>(), c.value) << c.text;
        EXPECT_EQ(json_to_string(*r), c.rewritten);
    }
    // strtod semantics: overflow gives infinity (which QEMU then prints as "inf").
    auto huge = json_parse("1e999");
    ASSERT_TRUE(huge.has_value());
    EXPECT_EQ(json_to_string(*huge), "inf");
}

TEST(JsonParseNumbers, MalformedNumbersAreLexicalErrors)
{
    EXPECT_EQ(error_of(json_parse("01")), "JSON parse error, stray '01'");
    EXPECT_EQ(error_of(json_parse("00")), "JSON parse error, stray '00'");
    EXPECT_EQ(error_of(json_parse("-")), "JSON parse error, stray '-'");
    EXPECT_EQ(error_of(json_parse("1.")), "JSON parse error, stray '1.'");
    EXPECT_EQ(error_of(json_parse("1.e5")), "JSON parse error, stray '1.e'");
    EXPECT_EQ(error_of(json_parse("[1e")), "JSON parse error, stray '1e'");
    EXPECT_EQ(error_of(json_parse("1e+")), "JSON parse error, stray '1e+'");
    EXPECT_EQ(error_of(json_parse("+1")), "JSON parse error, stray '+'");
    EXPECT_EQ(error_of(json_parse(".5")), "JSON parse error, stray '.'");
}

TEST(JsonParseKeywords, OnlyTrueFalseNull)
{
    EXPECT_EQ(json_parse("true").value(), JsonValue(true));
    EXPECT_EQ(json_parse("false").value(), JsonValue(false));
    EXPECT_TRUE(json_parse("null").value().is_null());
    EXPECT_EQ(json_to_string(json_parse("true").value()), "true");
    EXPECT_EQ(json_to_string(json_parse("null").value()), "null");
    EXPECT_EQ(error_of(json_parse("nul")), "JSON parse error, invalid keyword 'nul'");
    EXPECT_EQ(error_of(json_parse("truer")), "JSON parse error, invalid keyword 'truer'");
    EXPECT_EQ(error_of(json_parse("True")), "JSON parse error, stray 'T'");
    // QEMU formats the message into 1024 bytes, so a huge keyword is cut there.
    std::string long_word(5000, 'x');
    auto r = json_parse(long_word);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().desc.size(), std::string("JSON parse error, ").size() + 1023);
}

TEST(JsonParseContainers, DictsKeepMemberOrderAndRoundTrip)
{
    auto r = json_parse(R"({"foo": 42, "bar": "hello world"})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(json_to_string(*r), R"({"foo": 42, "bar": "hello world"})");
    EXPECT_EQ(json_parse("{}").value(), JsonValue::object());
    EXPECT_EQ(json_parse("{'foo': 43}").value(), JsonValue({{"foo", 43}}));
    EXPECT_EQ(json_parse(json_to_string(*r)).value(), *r);
}

TEST(JsonParseContainers, ListsAndWhitespace)
{
    EXPECT_EQ(json_parse("[43,42]").value(), JsonValue({43, 42}));
    EXPECT_EQ(json_parse("[]").value(), JsonValue::array());
    EXPECT_EQ(json_to_string(json_parse("[{}]").value()), "[{}]");
    auto r = json_parse("\t[ 43 , { 'h' : 'b' },\r\n\t[ ], 42 ]\n");
    ASSERT_TRUE(r.has_value()) << r.error().desc;
    EXPECT_EQ(json_to_string(*r), R"([43, {"h": "b"}, [], 42])");
}

// Nested dicts of lists of growing size, like check-qjson's large_dict.
void nested_json(std::string& out, int level, int count)
{
    if (level == 0) {
        out += '[';
        for (int i = 0; i < count; ++i) {
            out += std::to_string(i);
            out += i + 1 < count ? ", " : "";
        }
        out += ']';
        return;
    }
    out += '{';
    for (int i = 0; i < level; ++i) {
        out += "'key" + std::to_string(i) + "': ";
        nested_json(out, i, count);
        out += i + 1 < level ? "," : "";
    }
    out += '}';
}

TEST(JsonParseContainers, LargeNestedDictParses)
{
    std::string text;
    nested_json(text, 10, 100);
    auto r = json_parse(text);
    ASSERT_TRUE(r.has_value()) << r.error().desc;
    EXPECT_EQ(r->size(), 10u);
    EXPECT_EQ(json_parse(json_to_string(*r)).value(), *r);
}

TEST(JsonParseContainers, ManyKeysStayLinearAndDuplicatesAreCaught)
{
    std::string text = "{";
    for (int i = 0; i < 200000; ++i) {
        text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ",";
    }
    std::string ok = text + "\"last\": 0}";
    auto r = json_parse(ok);
    ASSERT_TRUE(r.has_value()) << r.error().desc;
    EXPECT_EQ(r->size(), 200001u);
    EXPECT_EQ((*r)["k199999"], 199999);
    EXPECT_EQ(r->begin().key(), "k0");
    EXPECT_EQ(error_of(json_parse(text + "\"k77\": 0}")), "JSON parse error, duplicate key");
}

TEST(JsonParseErrors, EveryParserMessage)
{
    struct Case {
        std::string_view text;
        std::string_view desc;
    };
    const Case cases[] = {
        {"", "Expecting a JSON value"},
        {"\n ", "Expecting a JSON value"},
        {"@", "JSON parse error, stray '@'"},
        {"%p", "JSON parse error, stray '%'"},
        {"{\x01", "JSON parse error, stray '\x01'"},
        {"[0\xFF]", "JSON parse error, stray '\xFF'"},
        {"\"abc", "JSON parse error, stray '\"abc'"},
        {"'abc", "JSON parse error, stray ''abc'"},
        {"\"abc\\\"", "JSON parse error, stray '\"abc\\\"'"},
        {"[32", "JSON parse error, premature EOI"},
        {"[32,", "JSON parse error, premature EOI"},
        {"{'abc':32", "JSON parse error, premature EOI"},
        {"{'abc':32,", "JSON parse error, premature EOI"},
        {"{'abc':", "JSON parse error, premature EOI"},
        {"{'abc'", "JSON parse error, premature EOI"},
        {"{", "JSON parse error, premature EOI"},
        {"[32,}", "JSON parse error, expecting value"},
        {"{'abc':32,}", "JSON parse error, expecting value"},
        {"{'abc':}", "JSON parse error, expecting value"},
        {"]", "JSON parse error, expecting value"},
        {"{32:'abc'}", "JSON parse error, key is not a string in object"},
        {"{null:1}", "JSON parse error, key is not a string in object"},
        {"{'a' 1}", "JSON parse error, missing : in object pair"},
        {"{'a':1 'b':2}", "JSON parse error, expected separator in dict"},
        {"[1 2]", "JSON parse error, expected separator in list"},
        {"{'a':1,'a':2}", "JSON parse error, duplicate key"},
        {"{'a':1,'a':nul}", "JSON parse error, invalid keyword 'nul'"},
        {"[1, foo]", "JSON parse error, invalid keyword 'foo'"},
        {"false true", "Expecting at most one JSON value"},
        {"} true", "JSON parse error, expecting value"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(error_of(json_parse(c.text)), c.desc) << "input: " << c.text;
    }
}

std::string nest(size_t depth)
{
    // depth-1 lists around one dict, as check-qjson builds it.
    std::string s(depth - 1, '[');
    s += "{}";
    s.append(depth - 1, ']');
    return s;
}

TEST(JsonParseErrors, NestingLimitIs1024)
{
    EXPECT_TRUE(json_parse(nest(kJsonMaxNesting)).has_value());
    EXPECT_EQ(error_of(json_parse(nest(kJsonMaxNesting + 1))), "JSON nesting depth limit exceeded");
}

}  // namespace
}  // namespace qemu
