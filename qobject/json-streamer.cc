// Frames QMP input into messages the way QEMU's json-streamer.c does: it counts brackets
// over the lexer's tokens and parses as soon as they balance (or go negative), enforces
// the per-message size, count and depth limits, and reports every lexical error as its
// own message, so a client gets one reply per callback exactly as from QEMU.
#include <optional>

#include "qobject/json-internal.h"

namespace qemu {

using json_detail::Token;
using json_detail::TokenType;

namespace {
constexpr size_t kKeepCapacity = size_t{1} << 20;
}

struct JsonStreamer::Impl final : json_detail::TokenSink {
    explicit Impl(Callback cb) : on_message(std::move(cb)) {}

    void on_token(TokenType type, std::string_view token) override;
    void emit(Result<JsonValue> result);
    void clear_message();

    Callback on_message;
    json_detail::JsonLexer lexer{*this};
    std::string text;  // bytes of the queued tokens, back to back
    std::vector<Token> tokens;
    long brace_count = 0;
    long bracket_count = 0;
    uint64_t resets = 0;  // lets emit() notice a reset() made by the callback
};

void JsonStreamer::Impl::clear_message()
{
    brace_count = 0;
    bracket_count = 0;
    tokens.clear();
    text.clear();
    if (text.capacity() > kKeepCapacity) {
        std::string().swap(text);
        std::vector<Token>().swap(tokens);
    }
}

void JsonStreamer::Impl::emit(Result<JsonValue> result)
{
    clear_message();
    uint64_t before = resets;
    on_message(std::move(result));
    if (resets != before) {
        lexer.stop();
    }
}

void JsonStreamer::Impl::on_token(TokenType type, std::string_view token)
{
    switch (type) {
    case TokenType::LCurly: ++brace_count; break;
    case TokenType::RCurly: --brace_count; break;
    case TokenType::LSquare: ++bracket_count; break;
    case TokenType::RSquare: --bracket_count; break;
    case TokenType::Error: {
        // QEMU prints the token with %s, so it ends at the first NUL byte.
        std::string_view shown = token.substr(0, token.find('\0'));
        emit(make_error("JSON parse error, stray '" + std::string(shown) + "'"));
        return;
    }
    case TokenType::EndOfInput:
        if (!tokens.empty()) {
            emit(json_detail::parse_tokens(tokens, text));
        }
        return;
    default: break;
    }

    // The limits are checked before the token is queued, so what is held stays bounded.
    if (text.size() + token.size() + 1 > kJsonMaxTokenSize) {
        emit(make_error("JSON token size limit exceeded"));
        return;
    }
    if (tokens.size() + 1 > kJsonMaxTokenCount) {
        emit(make_error("JSON token count limit exceeded"));
        return;
    }
    if (brace_count + bracket_count > static_cast<long>(kJsonMaxNesting)) {
        emit(make_error("JSON nesting depth limit exceeded"));
        return;
    }

    tokens.push_back(Token{type, static_cast<uint32_t>(token.size()), text.size()});
    text.append(token);

    if ((brace_count > 0 || bracket_count > 0) && brace_count >= 0 && bracket_count >= 0) {
        return;
    }
    emit(json_detail::parse_tokens(tokens, text));
}

JsonStreamer::JsonStreamer(Callback on_message) : m_impl(std::make_unique<Impl>(std::move(on_message))) {}

JsonStreamer::~JsonStreamer() = default;

void JsonStreamer::feed(std::span<const char> bytes)
{
    m_impl->lexer.feed(bytes.data(), bytes.size());
}

void JsonStreamer::flush()
{
    m_impl->lexer.flush();
}

void JsonStreamer::reset()
{
    ++m_impl->resets;
    m_impl->lexer.reset();
    m_impl->clear_message();
}

Result<JsonValue> json_parse(std::string_view text)
{
    // Same rules as QEMU's qobject_from_json(): the first error wins, a second value is an
    // error of its own, and no value at all is one too.
    std::optional<Result<JsonValue>> result;
    JsonStreamer streamer([&result](Result<JsonValue> message) {
        if (!result) {
            result = std::move(message);
        } else if (result->has_value()) {
            result = make_error("Expecting at most one JSON value");
        }
    });
    streamer.feed(text);
    streamer.flush();
    if (!result) {
        return make_error("Expecting a JSON value");
    }
    return std::move(*result);
}

}  // namespace qemu
