// JsonStreamer: how bytes arriving in arbitrary pieces are framed into messages, how many
// callbacks bad input produces (the monitor sends one reply per callback), recovery after
// lexical errors, and the per-message limits.
#include <gtest/gtest.h>

#include "qobject/json.h"

namespace qemu {
namespace {

// What a test expects from one callback: a value, or an error text.
struct Expected {
    std::optional<JsonValue> value;
    std::string error;
    static Expected ok(JsonValue v) { return {std::move(v), {}}; }
    static Expected err(std::string e) { return {std::nullopt, std::move(e)}; }
};

class Collector {
public:
    Collector() : m_streamer([this](Result<JsonValue> r) { m_messages.push_back(std::move(r)); }) {}

    JsonStreamer& streamer() { return m_streamer; }
    std::vector<Result<JsonValue>>& messages() { return m_messages; }

    void expect(const std::vector<Expected>& expected)
    {
        ASSERT_EQ(m_messages.size(), expected.size()) << describe();
        for (size_t i = 0; i < expected.size(); ++i) {
            if (expected[i].value) {
                ASSERT_TRUE(m_messages[i].has_value()) << i << ": " << m_messages[i].error().desc;
                EXPECT_EQ(*m_messages[i], *expected[i].value) << i;
            } else {
                ASSERT_FALSE(m_messages[i].has_value()) << i << ": " << json_to_string(*m_messages[i]);
                EXPECT_EQ(m_messages[i].error().desc, expected[i].error) << i;
            }
        }
        m_messages.clear();
    }

    std::string describe() const
    {
        std::string out;
        for (const auto& m : m_messages) {
            out += m ? json_to_string(*m) : "error: " + m.error().desc;
            out += "\n";
        }
        return out;
    }

private:
    std::vector<Result<JsonValue>> m_messages;
    JsonStreamer m_streamer;
};

const std::string kRequest =
    R"({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}, "id": 'caf\u00e9 \"x\"'})";

TEST(JsonStreamerFraming, MessageSplitAtEveryByteBoundary)
{
    JsonValue whole = json_parse(kRequest).value();
    for (size_t cut = 0; cut <= kRequest.size(); ++cut) {
        Collector c;
        c.streamer().feed(std::string_view(kRequest).substr(0, cut));
        if (cut < kRequest.size()) {
            EXPECT_TRUE(c.messages().empty()) << cut;
        }
        c.streamer().feed(std::string_view(kRequest).substr(cut));
        c.expect({Expected::ok(whole)});
    }
}

TEST(JsonStreamerFraming, OneByteAtATimeLikeTheMonitor)
{
    Collector c;
    for (char ch : kRequest + "\n" + kRequest) {
        c.streamer().feed(std::string_view(&ch, 1));
    }
    JsonValue whole = json_parse(kRequest).value();
    c.expect({Expected::ok(whole), Expected::ok(whole)});
}

TEST(JsonStreamerFraming, SeveralMessagesInOneChunk)
{
    Collector c;
    c.streamer().feed(R"({"a": 1}{"b": [2]}  [3]
"four" {})");
    c.expect({Expected::ok({{"a", 1}}), Expected::ok({{"b", {2}}}), Expected::ok({3}), Expected::ok("four"),
              Expected::ok(JsonValue::object())});
}

TEST(JsonStreamerFraming, TopLevelScalarNeedsLookaheadOrFlush)
{
    Collector c;
    c.streamer().feed("42");
    c.expect({});
    c.streamer().feed("\n");
    c.expect({Expected::ok(42)});

    c.streamer().feed("true");
    c.expect({});
    c.streamer().flush();
    c.expect({Expected::ok(true)});

    // A string ends at its quote, so it needs no lookahead.
    c.streamer().feed("'s'");
    c.expect({Expected::ok("s")});

    c.streamer().feed("-1.5");
    c.streamer().feed("{}");
    c.expect({Expected::ok(-1.5), Expected::ok(JsonValue::object())});
}

TEST(JsonStreamerFraming, FlushReportsPartialValueAndNothingWhenIdle)
{
    Collector c;
    c.streamer().flush();
    c.streamer().feed("  \n");
    c.streamer().flush();
    c.expect({});
    c.streamer().feed(R"({"execute": )");
    c.streamer().flush();
    c.expect({Expected::err("JSON parse error, premature EOI")});
    c.streamer().feed(R"("unterminated)");
    c.streamer().flush();
    c.expect({Expected::err("JSON parse error, stray '\"unterminated'")});
    // The streamer is usable again after a flush.
    c.streamer().feed("[1]");
    c.expect({Expected::ok({1})});
}

TEST(JsonStreamerFraming, ResetDropsPartialInput)
{
    Collector c;
    c.streamer().feed(R"({"execute": "stop", "argu)");
    c.streamer().reset();
    c.streamer().feed(R"({"b": 1})");
    c.expect({Expected::ok({{"b", 1}})});
}

TEST(JsonStreamerFraming, ResetFromTheCallbackDropsTheRestOfTheChunk)
{
    std::vector<Result<JsonValue>> seen;
    JsonStreamer* self = nullptr;
    JsonStreamer s([&](Result<JsonValue> r) {
        seen.push_back(std::move(r));
        self->reset();
    });
    self = &s;
    s.feed("[1] [2] [3");
    ASSERT_EQ(seen.size(), 1u);
    s.feed("[4]");
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(*seen[1], JsonValue({4}));
}

TEST(JsonStreamerErrors, ClosingBracketsAtTopLevelEachFailAlone)
{
    Collector c;
    c.streamer().feed("} true\n");
    c.expect({Expected::err("JSON parse error, expecting value"), Expected::ok(true)});
    c.streamer().feed("[32,}");
    c.expect({Expected::err("JSON parse error, expecting value")});
    c.streamer().feed("false true\n");
    c.expect({Expected::ok(false), Expected::ok(true)});
}

TEST(JsonStreamerRecovery, LexicalErrorThenNewline)
{
    Collector c;
    c.streamer().feed("{\"execute\": @@@ junk\n{\"b\": 1}");
    c.expect({Expected::err("JSON parse error, stray '@'"), Expected::ok({{"b", 1}})});
}

TEST(JsonStreamerRecovery, LexicalErrorThenControlCharacter)
{
    // The \x01 ends the skipping, and (being no token either) is reported as well.
    Collector c;
    c.streamer().feed("{\"execute\": %p junk\x01{\"b\": 1}");
    c.expect({Expected::err("JSON parse error, stray '%'"), Expected::err("JSON parse error, stray '\x01'"),
              Expected::ok({{"b", 1}})});
}

TEST(JsonStreamerRecovery, InvalidByteInsideAStringThenRecover)
{
    Collector c;
    c.streamer().feed("{\"execute\": \"abc\xFF{\"b\": 1}");
    c.expect({Expected::err("JSON parse error, stray '\"abc\xFF'"), Expected::ok({{"b", 1}})});
}

TEST(JsonStreamerRecovery, ByteFFAbandonsAPartialMessage)
{
    Collector c;
    c.streamer().feed("{\"execute\": \"x\"\xFF{\"b\": 1}");
    c.expect({Expected::err("JSON parse error, stray '\xFF'"), Expected::ok({{"b", 1}})});
}

TEST(JsonStreamerRecovery, SkippingStopsAtStructuralCharacters)
{
    // After "@" everything up to "[" is skipped; the "]" then closes nothing.
    Collector c;
    c.streamer().feed("@abc def\t\"x\" [1]]");
    c.expect({Expected::err("JSON parse error, stray '@'"), Expected::ok({1}),
              Expected::err("JSON parse error, expecting value")});
}

TEST(JsonStreamerRecovery, ErrorTextShowsBadBytesEscapedOnTheWire)
{
    Collector c;
    c.streamer().feed("\xFF\n\f\n");
    ASSERT_EQ(c.messages().size(), 2u);
    EXPECT_EQ(json_to_string(c.messages()[0].error().desc), R"("JSON parse error, stray '\uFFFD'")");
    EXPECT_EQ(json_to_string(c.messages()[1].error().desc), R"("JSON parse error, stray '\f'")");
}

std::string nest(size_t depth)
{
    std::string s(depth - 1, '[');
    s += "{}";
    s.append(depth - 1, ']');
    return s;
}

TEST(JsonStreamerLimits, NestingOverTheLimitFailsThenEachCloserFails)
{
    Collector c;
    c.streamer().feed(nest(kJsonMaxNesting));
    ASSERT_EQ(c.messages().size(), 1u);
    EXPECT_TRUE(c.messages()[0].has_value());
    c.messages().clear();

    // QEMU drops the message at the 1025th opener; the closers that follow arrive at depth
    // zero, so each is a message (and a reply) of its own.
    c.streamer().feed(nest(kJsonMaxNesting + 1));
    auto& m = c.messages();
    ASSERT_EQ(m.size(), 1 + 1 + kJsonMaxNesting);
    EXPECT_EQ(m[0].error().desc, "JSON nesting depth limit exceeded");
    for (size_t i = 1; i < m.size(); ++i) {
        ASSERT_FALSE(m[i].has_value());
        EXPECT_EQ(m[i].error().desc, "JSON parse error, expecting value");
    }
}

// "[0,0,...,0]" with the given number of tokens (odd counts only).
std::string list_with_tokens(size_t tokens)
{
    size_t elements = (tokens - 1) / 2;
    std::string s = "[";
    s.reserve(tokens + 1);
    for (size_t i = 0; i + 1 < elements; ++i) {
        s += "0,";
    }
    s += "0]";
    return s;
}

TEST(JsonStreamerLimits, TokenCountLimit)
{
    Collector c;
    c.streamer().feed(list_with_tokens(kJsonMaxTokenCount - 1));
    ASSERT_EQ(c.messages().size(), 1u);
    ASSERT_TRUE(c.messages()[0].has_value());
    EXPECT_EQ(c.messages()[0]->size(), (kJsonMaxTokenCount - 2) / 2);
    c.messages().clear();

    // Exactly the limit is still fine: "[[],0,...]" has an even count.
    std::string at_limit = "[[]," + list_with_tokens(kJsonMaxTokenCount - 3).substr(1);
    c.streamer().feed(at_limit);
    ASSERT_EQ(c.messages().size(), 1u);
    EXPECT_TRUE(c.messages()[0].has_value());
    c.messages().clear();

    // One more and the closing bracket is refused; nothing of the message remains.
    c.streamer().feed(list_with_tokens(kJsonMaxTokenCount + 1));
    c.expect({Expected::err("JSON token count limit exceeded")});
    c.streamer().feed("[7]");
    c.expect({Expected::ok({7})});
}

TEST(JsonStreamerLimits, TotalTokenSizeLimit)
{
    // Two strings of half the limit each: the second one no longer fits, and the closer
    // that follows is on its own.
    std::string half(kJsonMaxTokenSize / 2, 'a');
    std::string text = "[\"" + half + "\", \"" + half + "\"]";
    Collector c;
    for (size_t pos = 0; pos < text.size(); pos += size_t{1} << 20) {
        c.streamer().feed(std::string_view(text).substr(pos, size_t{1} << 20));
    }
    c.expect({Expected::err("JSON token size limit exceeded"), Expected::err("JSON parse error, expecting value")});
}

TEST(JsonStreamerLimits, LargestAcceptedStringAndOneByteMore)
{
    // Token bytes plus one must stay within the limit: quotes + content = limit - 1.
    std::string content(kJsonMaxTokenSize - 3, 'b');
    Collector c;
    c.streamer().feed("\"" + content + "\"");
    ASSERT_EQ(c.messages().size(), 1u);
    ASSERT_TRUE(c.messages()[0].has_value());
    EXPECT_EQ(c.messages()[0]->get_ref<const std::string&>().size(), content.size());
    c.messages().clear();

    content += 'b';
    c.streamer().feed("\"" + content + "\"\n");
    c.expect({Expected::err("JSON token size limit exceeded")});
}

TEST(JsonStreamerLimits, SingleOversizedTokenIsCutOff)
{
    // The lexer gives up on a token past the limit; what follows is lexed afresh.
    Collector c;
    std::string chunk(size_t{1} << 20, 'c');
    c.streamer().feed("\"");
    for (size_t fed = 0; fed <= kJsonMaxTokenSize; fed += chunk.size()) {
        c.streamer().feed(chunk);
    }
    ASSERT_GE(c.messages().size(), 1u);
    EXPECT_EQ(c.messages()[0].error().desc, "JSON token size limit exceeded");
    c.streamer().reset();
    c.messages().clear();
    c.streamer().feed("[1]");
    c.expect({Expected::ok({1})});
}

}  // namespace
}  // namespace qemu
