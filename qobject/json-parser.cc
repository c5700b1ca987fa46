// Turns one message's tokens into a JsonValue, following QEMU's json-parser.c: the same
// grammar, the same number typing and the same first-error-wins messages, since a QMP
// client sees those messages verbatim.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <unordered_set>

#include "qobject/json-internal.h"

namespace qemu::json_detail {
namespace {

// QEMU formats parser messages into a 1024-byte buffer.
constexpr size_t kMaxMessage = 1023;
// Above this many members, duplicate keys are found through a hash set.
constexpr size_t kLinearKeySearch = 16;

int hex4(std::string_view s, size_t pos)
{
    int cp = 0;
    for (size_t i = 0; i < 4; ++i) {
        char c = pos + i < s.size() ? s[pos + i] : '\0';
        cp <<= 4;
        if (c >= '0' && c <= '9') {
            cp |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            cp |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            cp |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    return cp;
}

class Parser {
public:
    Parser(const std::vector<Token>& tokens, std::string_view text) : m_tokens(tokens), m_text(text) {}

    Result<JsonValue> run()
    {
        JsonValue value;
        if (!parse_value(value)) {
            return make_error(std::move(*m_error));
        }
        return value;
    }

private:
    const Token* peek() const { return m_pos < m_tokens.size() ? &m_tokens[m_pos] : nullptr; }
    const Token* pop() { return m_pos < m_tokens.size() ? &m_tokens[m_pos++] : nullptr; }
    std::string_view text(const Token& t) const { return m_text.substr(t.offset, t.length); }

    // Only the first error of a message is reported, like parse_error().
    bool fail(std::string message)
    {
        if (!m_error) {
            if (message.size() > kMaxMessage) {
                message.resize(kMaxMessage);
            }
            m_error = "JSON parse error, " + message;
        }
        return false;
    }

    bool parse_value(JsonValue& out)
    {
        const Token* t = peek();
        if (!t) {
            return fail("premature EOI");
        }
        switch (t->type) {
        case TokenType::LCurly: return parse_object(out);
        case TokenType::LSquare: return parse_array(out);
        case TokenType::String: return parse_string(*pop(), out);
        case TokenType::Integer: return parse_integer(*pop(), out);
        case TokenType::Float: return parse_float(*pop(), out);
        case TokenType::Keyword: return parse_keyword(*pop(), out);
        default: return fail("expecting value");
        }
    }

    bool parse_keyword(const Token& t, JsonValue& out)
    {
        std::string_view word = text(t);
        if (word == "true") {
            out = true;
        } else if (word == "false") {
            out = false;
        } else if (word == "null") {
            out = nullptr;
        } else {
            return fail("invalid keyword '" + std::string(word) + "'");
        }
        return true;
    }

    bool parse_integer(const Token& t, JsonValue& out)
    {
        std::string_view digits = text(t);
        const char* first = digits.data();
        const char* last = first + digits.size();
        int64_t value;
        if (auto r = std::from_chars(first, last, value); r.ec == std::errc() && r.ptr == last) {
            out = value;
            return true;
        }
        if (digits.front() != '-') {
            uint64_t uvalue;
            if (auto r = std::from_chars(first, last, uvalue); r.ec == std::errc() && r.ptr == last) {
                out = uvalue;
                return true;
            }
        }
        return parse_float(t, out);
    }

    bool parse_float(const Token& t, JsonValue& out)
    {
        // strtod, not from_chars: out-of-range input must give inf or 0 as QEMU's does.
        std::string_view s = text(t);
        char small[64];
        std::string big;
        const char* cstr;
        if (s.size() < sizeof(small)) {
            s.copy(small, s.size());
            small[s.size()] = '\0';
            cstr = small;
        } else {
            big.assign(s);
            cstr = big.c_str();
        }
        out = std::strtod(cstr, nullptr);
        return true;
    }

    bool parse_string(const Token& t, JsonValue& out)
    {
        std::string_view s = text(t);
        char quote = s[0];
        std::string str;
        str.reserve(s.size());
        size_t p = 1;
        auto at = [&s](size_t i) { return i < s.size() ? s[i] : '\0'; };
        while (at(p) != quote) {
            char c = s[p];
            if (c == '\\') {
                size_t escape_begin = p;
                char e = at(p + 1);
                p += 2;
                switch (e) {
                case '"': str.push_back('"'); break;
                case '\'': str.push_back('\''); break;
                case '\\': str.push_back('\\'); break;
                case '/': str.push_back('/'); break;
                case 'b': str.push_back('\b'); break;
                case 'f': str.push_back('\f'); break;
                case 'n': str.push_back('\n'); break;
                case 'r': str.push_back('\r'); break;
                case 't': str.push_back('\t'); break;
                case 'u': {
                    int cp = hex4(s, p);
                    p += 4;
                    if (cp >= 0xD800 && cp <= 0xDBFF && at(p) == '\\' && at(p + 1) == 'u') {
                        int trailing = hex4(s, p + 2);
                        cp = 0x10000 + ((cp & 0x3FF) << 10);
                        if (trailing >= 0xDC00 && trailing <= 0xDFFF) {
                            cp |= trailing & 0x3FF;
                            p += 6;
                        } else {
                            cp = -1;
                        }
                    }
                    if (!mod_utf8_encode(str, cp)) {
                        // The C code prints this span with %.*s, which stops at the token's end.
                        size_t stop = std::min(p, s.size());
                        return fail(std::string(s.substr(escape_begin, stop - escape_begin)) +
                                    " is not a valid Unicode character");
                    }
                    break;
                }
                default:
                    return fail("invalid escape sequence in string");
                }
                continue;
            }
            // Plain ASCII runs are the common case; copy them without decoding.
            if (static_cast<uint8_t>(c) < 0x80) {
                size_t run = p + 1;
                while (run < s.size() && static_cast<uint8_t>(s[run]) < 0x80 && s[run] != quote &&
                       s[run] != '\\') {
                    ++run;
                }
                str.append(s.substr(p, run - p));
                p = run;
                continue;
            }
            size_t used;
            int cp = mod_utf8_codepoint(s, p, &used);
            if (cp < 0) {
                return fail("invalid UTF-8 sequence in string");
            }
            str.append(s.substr(p, used));
            p += used;
        }
        out = std::move(str);
        return true;
    }

    bool parse_pair(JsonValue& object, std::unordered_set<std::string>& index)
    {
        if (!peek()) {
            return fail("premature EOI");
        }
        JsonValue key;
        if (!parse_value(key) || !key.is_string()) {
            return fail("key is not a string in object");
        }
        const Token* t = pop();
        if (!t) {
            return fail("premature EOI");
        }
        if (t->type != TokenType::Colon) {
            return fail("missing : in object pair");
        }
        JsonValue value;
        if (!parse_value(value)) {
            return fail("Missing value in dict");
        }
        auto& members = static_cast<JsonValue::object_t::Container&>(
            object.get_ref<JsonValue::object_t&>());
        auto& name = key.get_ref<std::string&>();
        if (members.size() < kLinearKeySearch) {
            for (const auto& member : members) {
                if (member.first == name) {
                    return fail("duplicate key");
                }
            }
        } else {
            if (index.empty()) {
                for (const auto& member : members) {
                    index.insert(member.first);
                }
            }
            if (!index.insert(name).second) {
                return fail("duplicate key");
            }
        }
        // Appending to the underlying vector skips ordered_map's own linear key search,
        // which would make large objects quadratic; uniqueness was checked above.
        members.emplace_back(std::move(name), std::move(value));
        return true;
    }

    bool parse_object(JsonValue& out)
    {
        pop();  // '{'
        out = JsonValue::object();
        std::unordered_set<std::string> index;
        const Token* t = peek();
        if (!t) {
            return fail("premature EOI");
        }
        if (t->type == TokenType::RCurly) {
            pop();
            return true;
        }
        if (!parse_pair(out, index)) {
            return false;
        }
        for (;;) {
            t = pop();
            if (!t) {
                return fail("premature EOI");
            }
            if (t->type == TokenType::RCurly) {
                return true;
            }
            if (t->type != TokenType::Comma) {
                return fail("expected separator in dict");
            }
            if (!parse_pair(out, index)) {
                return false;
            }
        }
    }

    bool parse_array(JsonValue& out)
    {
        pop();  // '['
        out = JsonValue::array();
        auto& elements = out.get_ref<JsonValue::array_t&>();
        const Token* t = peek();
        if (!t) {
            return fail("premature EOI");
        }
        if (t->type == TokenType::RSquare) {
            pop();
            return true;
        }
        for (;;) {
            JsonValue element;
            if (!parse_value(element)) {
                return fail("expecting value");
            }
            elements.push_back(std::move(element));
            t = pop();
            if (!t) {
                return fail("premature EOI");
            }
            if (t->type == TokenType::RSquare) {
                return true;
            }
            if (t->type != TokenType::Comma) {
                return fail("expected separator in list");
            }
        }
    }

    const std::vector<Token>& m_tokens;
    std::string_view m_text;
    size_t m_pos = 0;
    std::optional<std::string> m_error;
};

}  // namespace

Result<JsonValue> parse_tokens(const std::vector<Token>& tokens, std::string_view text)
{
    return Parser(tokens, text).run();
}

}  // namespace qemu::json_detail
