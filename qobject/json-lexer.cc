// Splits QMP input bytes into JSON tokens with the state table of QEMU's json-lexer.c, so
// that what counts as a token, what counts as a lexical error, and where the lexer picks
// up again after one are the same as in QEMU. Decoding strings is the parser's job.
#include <array>

#include "qobject/json-internal.h"

namespace qemu::json_detail {
namespace {

// A table entry is the next state; the high bit says the byte was only looked at and
// belongs to the next token (the table's "lookahead" transitions).
constexpr uint8_t kLookahead = 0x80;

enum State : uint8_t {
    kError = 0,  // unlisted bytes default to this
    kRecovery,
    kDqEscape,
    kDq,
    kSqEscape,
    kSq,
    kZero,
    kExpDigits,
    kExpSign,
    kExpE,
    kMantissa,
    kMantissaDigits,
    kDigits,
    kSign,
    kKeyword,
    kStart,
    kStateCount,

    // Complete tokens; anything at or above kFirstToken.
    kFirstToken = 100,
    kTokLCurly = kFirstToken,
    kTokRCurly,
    kTokLSquare,
    kTokRSquare,
    kTokColon,
    kTokComma,
    kTokInteger,
    kTokFloat,
    kTokKeyword,
    kTokString,
};

struct Table {
    std::array<std::array<uint8_t, 256>, kStateCount> next{};
};

constexpr Table build_table()
{
    Table t;
    auto set = [&t](State from, int lo, int hi, uint8_t to) {
        for (int c = lo; c <= hi; ++c) {
            t.next[from][c] = to;
        }
    };
    auto set1 = [&set](State from, char c, uint8_t to) {
        set(from, static_cast<uint8_t>(c), static_cast<uint8_t>(c), to);
    };
    // A token that ends with whatever byte follows it.
    auto terminal = [&set](State from, State token) { set(from, 0, 0xFF, token | kLookahead); };
    auto lookahead = [](State s) { return static_cast<uint8_t>(s | kLookahead); };

    // After a lexical error: skip to something a client can use to resynchronise (a
    // structural character, a control character other than tab, or 0xFE/0xFF).
    set(kRecovery, 0, 0x1F, lookahead(kStart));
    set(kRecovery, 0x20, 0xFD, kRecovery);
    set(kRecovery, 0xFE, 0xFF, lookahead(kStart));
    set1(kRecovery, '\t', kRecovery);
    for (char c : {'[', ']', '{', '}', ':', ','}) {
        set1(kRecovery, c, lookahead(kStart));
    }

    // Strings: any byte but controls and 0xFE/0xFF; escapes are checked by the parser.
    set(kDqEscape, 0x20, 0xFD, kDq);
    set(kDq, 0x20, 0xFD, kDq);
    set1(kDq, '\\', kDqEscape);
    set1(kDq, '"', kTokString);
    set(kSqEscape, 0x20, 0xFD, kSq);
    set(kSq, 0x20, 0xFD, kSq);
    set1(kSq, '\\', kSqEscape);
    set1(kSq, '\'', kTokString);

    // Numbers, RFC 8259: no leading zeros, digits required after '.', 'e' and a sign.
    terminal(kZero, kTokInteger);
    set(kZero, '0', '9', kError);
    set1(kZero, '.', kMantissa);

    terminal(kExpDigits, kTokFloat);
    set(kExpDigits, '0', '9', kExpDigits);
    set(kExpSign, '0', '9', kExpDigits);
    set1(kExpE, '-', kExpSign);
    set1(kExpE, '+', kExpSign);
    set(kExpE, '0', '9', kExpDigits);

    terminal(kMantissaDigits, kTokFloat);
    set(kMantissaDigits, '0', '9', kMantissaDigits);
    set1(kMantissaDigits, 'e', kExpE);
    set1(kMantissaDigits, 'E', kExpE);
    set(kMantissa, '0', '9', kMantissaDigits);

    terminal(kDigits, kTokInteger);
    set(kDigits, '0', '9', kDigits);
    set1(kDigits, 'e', kExpE);
    set1(kDigits, 'E', kExpE);
    set1(kDigits, '.', kMantissa);
    set1(kSign, '0', kZero);
    set(kSign, '1', '9', kDigits);

    // Any lower-case word; the parser accepts only true, false and null.
    terminal(kKeyword, kTokKeyword);
    set(kKeyword, 'a', 'z', kKeyword);

    set1(kStart, '"', kDq);
    set1(kStart, '\'', kSq);
    set1(kStart, '0', kZero);
    set(kStart, '1', '9', kDigits);
    set1(kStart, '-', kSign);
    set1(kStart, '{', kTokLCurly);
    set1(kStart, '}', kTokRCurly);
    set1(kStart, '[', kTokLSquare);
    set1(kStart, ']', kTokRSquare);
    set1(kStart, ',', kTokComma);
    set1(kStart, ':', kTokColon);
    set(kStart, 'a', 'z', kKeyword);
    for (char c : {' ', '\t', '\r', '\n'}) {
        set1(kStart, c, kStart);
    }
    return t;
}

constexpr Table kTable = build_table();

constexpr TokenType token_type(uint8_t state)
{
    switch (state) {
    case kTokLCurly: return TokenType::LCurly;
    case kTokRCurly: return TokenType::RCurly;
    case kTokLSquare: return TokenType::LSquare;
    case kTokRSquare: return TokenType::RSquare;
    case kTokColon: return TokenType::Colon;
    case kTokComma: return TokenType::Comma;
    case kTokInteger: return TokenType::Integer;
    case kTokFloat: return TokenType::Float;
    case kTokKeyword: return TokenType::Keyword;
    case kTokString: return TokenType::String;
    case kError: return TokenType::Error;
    default: return TokenType::Oversized;
    }
}

// Buffers above this are given back after use, so one huge message does not pin memory.
constexpr size_t kKeepCapacity = size_t{1} << 20;

}  // namespace

JsonLexer::JsonLexer(TokenSink& sink) : m_sink(sink), m_state(kStart) {}

void JsonLexer::reset()
{
    m_state = kStart;
    m_partial.clear();
    if (m_partial.capacity() > kKeepCapacity) {
        std::string().swap(m_partial);
    }
    m_stopped = true;
}

void JsonLexer::emit(uint8_t token_state, const char* data, size_t begin, size_t end)
{
    std::string_view text;
    if (m_partial.empty()) {
        text = std::string_view(data + begin, end - begin);
    } else {
        m_partial.append(data + begin, end - begin);
        text = m_partial;
    }
    m_sink.on_token(token_type(token_state), text);
    m_partial.clear();
    if (m_partial.capacity() > kKeepCapacity) {
        std::string().swap(m_partial);
    }
}

bool JsonLexer::feed(const char* data, size_t size)
{
    m_stopped = false;
    size_t token_begin = 0;  // bytes before this are either in m_partial or dropped
    size_t i = 0;
    while (i < size) {
        // Most bytes keep the state (inside a string, a number, whitespace); skip those in
        // one go, short of the byte that would push a token over the size limit.
        const auto& row = kTable.next[m_state];
        size_t limit = size;
        size_t budget_end = token_begin + (kJsonMaxTokenSize - m_partial.size());
        if (budget_end < limit) {
            limit = budget_end;
        }
        while (i < limit && row[static_cast<uint8_t>(data[i])] == m_state) {
            ++i;
        }
        if (m_state == kStart || m_state == kRecovery) {
            token_begin = i;
        }
        if (i == size) {
            break;
        }

        uint8_t next = row[static_cast<uint8_t>(data[i])];
        bool consumed = !(next & kLookahead);
        next &= static_cast<uint8_t>(~kLookahead);
        size_t end = consumed ? i + 1 : i;

        if (next >= kFirstToken) {
            m_state = kStart;
            emit(next, data, token_begin, end);
            token_begin = end;
        } else if (next == kError) {
            m_state = kRecovery;
            emit(kError, data, token_begin, end);
            token_begin = end;
        } else if (next == kStart || next == kRecovery) {
            m_state = next;
            m_partial.clear();
            token_begin = end;
        } else {
            m_state = next;
        }
        if (m_stopped) {
            return false;
        }
        if (consumed) {
            ++i;
            // A single token may not grow without bound: hand over what there is (the
            // streamer turns it into "token size limit exceeded") and start afresh.
            if (m_partial.size() + (i - token_begin) > kJsonMaxTokenSize) {
                uint8_t cut_state = m_state;
                m_state = kStart;
                emit(cut_state, data, token_begin, i);
                token_begin = i;
                if (m_stopped) {
                    return false;
                }
            }
        }
    }
    if (m_state != kStart && m_state != kRecovery) {
        m_partial.append(data + token_begin, size - token_begin);
    }
    return true;
}

void JsonLexer::flush()
{
    m_stopped = false;
    // End of input acts as one more byte that every state only looks at.
    while (m_state != kStart) {
        uint8_t next = kTable.next[m_state][0] & static_cast<uint8_t>(~kLookahead);
        if (next >= kFirstToken) {
            m_state = kStart;
            emit(next, nullptr, 0, 0);
        } else if (next == kError) {
            m_state = kRecovery;
            emit(kError, nullptr, 0, 0);
        } else {
            m_state = next;
            m_partial.clear();
        }
        if (m_stopped) {
            return;
        }
    }
    m_sink.on_token(TokenType::EndOfInput, {});
}

}  // namespace qemu::json_detail
