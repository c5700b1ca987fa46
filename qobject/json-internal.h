// Pieces shared by the JSON lexer, streamer and parser. Nothing outside qobject/ includes
// this; the public face is json.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qobject/json.h"

namespace qemu::json_detail {

// Token kinds the lexer hands to the streamer. Oversized is a token the lexer cut off at
// the size limit; QEMU passes it on with a non-token type and the streamer rejects it.
enum class TokenType : uint8_t {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Integer,
    Float,
    Keyword,
    String,
    Error,
    Oversized,
    EndOfInput,
};

struct Token {
    TokenType type;
    uint32_t length;
    size_t offset;  // into the owning text buffer
};

// Receives every token as the lexer completes it. The text stays valid only for the call.
class TokenSink {
public:
    virtual void on_token(TokenType type, std::string_view text) = 0;

protected:
    ~TokenSink() = default;
};

// The table-driven lexer of QEMU's json-lexer.c (without interpolation, which QMP never
// enables). Bytes of a token that spans several feed() calls are kept in m_partial; a
// token that ends inside the chunk it started in is handed over without copying.
class JsonLexer {
public:
    explicit JsonLexer(TokenSink& sink);

    // Returns false when the sink asked to stop (see stop()), true when all bytes were used.
    bool feed(const char* data, size_t size);
    void flush();
    void reset();
    // Called by the sink from inside on_token: drop the rest of the current chunk.
    void stop() { m_stopped = true; }

private:
    void emit(uint8_t token_state, const char* data, size_t begin, size_t end);

    TokenSink& m_sink;
    uint8_t m_state;
    bool m_stopped = false;
    std::string m_partial;
};

// Decodes one character of QEMU's "modified UTF-8" (util/unicode.c mod_utf8_codepoint):
// returns the code point or -1 and stores the length consumed in *used. Bytes past the end
// read as NUL, as the C code reads its terminator.
int mod_utf8_codepoint(std::string_view s, size_t pos, size_t* used);
// Appends the encoding of cp (U+0000 as C0 80); false for surrogates, noncharacters and
// values beyond U+10FFFF.
bool mod_utf8_encode(std::string& out, int cp);

// Parses one message's tokens (QEMU's json_parser_parse); text holds their bytes.
Result<JsonValue> parse_tokens(const std::vector<Token>& tokens, std::string_view text);

}  // namespace qemu::json_detail
