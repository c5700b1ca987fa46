// HMP's integer expressions (see hmp-expr.h).
#include "monitor/hmp-expr.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace qemu::monitor {

namespace {

// Recursive descent over QEMU's grammar, lowest precedence first. A nesting bound keeps a
// line of parentheses from exhausting the stack.
class ExpressionParser {
public:
    explicit ExpressionParser(std::string_view& text) : m_text(text) { }

    Result<int64_t> sum()
    {
        uint64_t value = TRY(logic());
        for (char op = peek(); op == '+' || op == '-'; op = peek()) {
            advance();
            const uint64_t rhs = TRY(logic());
            value = op == '+' ? value + rhs : value - rhs;
        }
        return static_cast<int64_t>(value);
    }

private:
    char peek() const { return m_text.empty() ? '\0' : m_text.front(); }
    // Past one character, then past the blanks after it (QEMU's next()).
    void advance()
    {
        m_text.remove_prefix(1);
        skip_blanks();
    }
    void skip_blanks()
    {
        while (std::isspace(static_cast<unsigned char>(peek())) && peek() != '\0') {
            advance();
        }
    }

    Result<uint64_t> logic()
    {
        uint64_t value = TRY(product());
        for (char op = peek(); op == '&' || op == '|' || op == '^'; op = peek()) {
            advance();
            const uint64_t rhs = TRY(product());
            value = op == '&' ? value & rhs : op == '|' ? value | rhs : value ^ rhs;
        }
        return value;
    }

    Result<uint64_t> product()
    {
        uint64_t value = TRY(unary());
        for (char op = peek(); op == '*' || op == '/' || op == '%'; op = peek()) {
            advance();
            const uint64_t rhs = TRY(unary());
            if (op == '*') {
                value *= rhs;
                continue;
            }
            if (rhs == 0) {
                return make_error("division by zero");
            }
            // QEMU divides as signed 64-bit numbers.
            const auto a = static_cast<int64_t>(value);
            const auto b = static_cast<int64_t>(rhs);
            if (b == -1) {
                value = op == '/' ? 0 - value : 0;
            } else {
                value = static_cast<uint64_t>(op == '/' ? a / b : a % b);
            }
        }
        return value;
    }

    Result<uint64_t> unary()
    {
        if (++m_depth > 256) {
            return make_error("expression too complex");
        }
        auto value = unary_inner();
        --m_depth;
        return value;
    }

    Result<uint64_t> unary_inner()
    {
        uint64_t value = 0;
        switch (char c = peek()) {
        case '+':
            advance();
            return unary();
        case '-':
            advance();
            return 0 - TRY(unary());
        case '~':
            advance();
            return ~TRY(unary());
        case '(':
            advance();
            value = static_cast<uint64_t>(TRY(sum()));
            if (peek() != ')') {
                return make_error("')' expected");
            }
            advance();
            break;
        case '\'':
            m_text.remove_prefix(1);  // the constant may be a blank
            if (peek() == '\0') {
                return make_error("character constant expected");
            }
            value = static_cast<unsigned char>(peek());
            m_text.remove_prefix(1);
            if (peek() != '\'') {
                return make_error("missing terminating ' character");
            }
            m_text.remove_prefix(1);
            break;
        case '$':
            return make_error("unknown register");  // there is no CPU to have any
        case '\0':
            return make_error("unexpected end of expression");
        default: {
            // strtoull, base 0, over a copy of what could be a number: the run of letters
            // and digits here.
            size_t run = 0;
            while (run < m_text.size() && std::isalnum(static_cast<unsigned char>(m_text[run]))) {
                ++run;
            }
            const std::string copy(m_text.substr(0, run));
            char* end = nullptr;
            errno = 0;
            value = std::strtoull(copy.c_str(), &end, 0);
            if (end == copy.c_str()) {
                return make_error(std::string("invalid char '") + c + "' in expression");
            }
            if (errno == ERANGE) {
                return make_error("number too large");
            }
            m_text.remove_prefix(static_cast<size_t>(end - copy.c_str()));
            break;
        }
        }
        skip_blanks();
        return value;
    }

    std::string_view& m_text;
    int m_depth = 0;
};

}  // namespace

Result<int64_t> parse_hmp_expression(std::string_view& text)
{
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    ExpressionParser parser(text);
    return parser.sum();
}

}  // namespace qemu::monitor
