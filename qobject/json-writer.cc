// Produces QEMU's JSON text (json-writer.c): ", " and ": " separators, ASCII-only strings
// with upper-case \uXXXX escapes, "%.17g" doubles, and the 4-space pretty layout of
// -qmp-pretty. QMP replies are compared byte for byte by some clients, so the details
// matter more than elegance here.
#include <charconv>
#include <cstdio>

#include "qobject/json-internal.h"

namespace qemu {
namespace {

using json_detail::mod_utf8_codepoint;

class Writer {
public:
    Writer(std::string& out, bool pretty, std::string_view newline)
        : m_out(out), m_pretty(pretty), m_newline(newline)
    {
    }

    void value(const JsonValue& v)
    {
        switch (v.type()) {
        case JsonValue::value_t::object: object(v); break;
        case JsonValue::value_t::array: array(v); break;
        case JsonValue::value_t::string: string(v.get_ref<const std::string&>()); break;
        case JsonValue::value_t::boolean: m_out += v.get<bool>() ? "true" : "false"; break;
        case JsonValue::value_t::number_integer: integer(v.get<int64_t>()); break;
        case JsonValue::value_t::number_unsigned: integer(v.get<uint64_t>()); break;
        case JsonValue::value_t::number_float: real(v.get<double>()); break;
        case JsonValue::value_t::binary: binary(v.get_binary()); break;
        case JsonValue::value_t::null:
        case JsonValue::value_t::discarded: m_out += "null"; break;
        }
    }

    void string(std::string_view s)
    {
        m_out.push_back('"');
        size_t p = 0;
        while (p < s.size()) {
            // Printable ASCII other than the two characters that need a backslash goes
            // out as is; find the run and copy it at once.
            size_t run = p;
            while (run < s.size()) {
                auto c = static_cast<uint8_t>(s[run]);
                if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
                    break;
                }
                ++run;
            }
            m_out.append(s.substr(p, run - p));
            p = run;
            if (p == s.size()) {
                break;
            }
            size_t used;
            int cp = mod_utf8_codepoint(s, p, &used);
            p += used;
            switch (cp) {
            case '"': m_out += "\\\""; break;
            case '\\': m_out += "\\\\"; break;
            case '\b': m_out += "\\b"; break;
            case '\f': m_out += "\\f"; break;
            case '\n': m_out += "\\n"; break;
            case '\r': m_out += "\\r"; break;
            case '\t': m_out += "\\t"; break;
            default:
                if (cp < 0) {
                    cp = 0xFFFD;
                }
                if (cp > 0xFFFF) {
                    escape(0xD800 + ((cp - 0x10000) >> 10));
                    escape(0xDC00 + ((cp - 0x10000) & 0x3FF));
                } else {
                    escape(cp);  // controls (U+0000 included), DEL and all non-ASCII
                }
            }
        }
        m_out.push_back('"');
    }

private:
    void escape(int unit)
    {
        static constexpr char kHex[] = "0123456789ABCDEF";
        char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 0xF], kHex[(unit >> 8) & 0xF],
                       kHex[(unit >> 4) & 0xF], kHex[unit & 0xF]};
        m_out.append(buf, sizeof(buf));
    }

    template <typename Int>
    void integer(Int n)
    {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof(buf), n);
        m_out.append(buf, r.ptr);
    }

    void real(double d)
    {
        // QEMU's own FIXME: non-finite values come out as inf/nan, which is not JSON.
        char buf[32];
        int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
        m_out.append(buf, static_cast<size_t>(n));
    }

    void binary(const JsonValue::binary_t& bytes)
    {
        // Not a QObject type; written as a list of byte values so nothing is lost silently.
        open('[');
        for (uint8_t b : bytes) {
            separator();
            integer(static_cast<unsigned>(b));
        }
        close(']');
    }

    // Before each member: a comma after the previous one, then the pretty line break.
    void separator()
    {
        if (m_need_comma) {
            m_out.push_back(',');
            if (m_pretty) {
                newline();
            } else {
                m_out.push_back(' ');
            }
        } else {
            if (m_pretty) {
                newline();
            }
            m_need_comma = true;
        }
    }

    void newline()
    {
        m_out += m_newline;
        m_out.append(m_depth * 4, ' ');
    }

    void open(char bracket)
    {
        m_out.push_back(bracket);
        ++m_depth;
        m_need_comma = false;
    }

    void close(char bracket)
    {
        --m_depth;
        if (m_pretty) {
            newline();
        }
        m_out.push_back(bracket);
        m_need_comma = true;
    }

    void object(const JsonValue& v)
    {
        open('{');
        for (const auto& [key, member] : v.get_ref<const JsonValue::object_t&>()) {
            separator();
            string(key);
            m_out += ": ";
            value(member);
        }
        close('}');
    }

    void array(const JsonValue& v)
    {
        open('[');
        for (const auto& element : v) {
            separator();
            value(element);
        }
        close(']');
    }

    std::string& m_out;
    bool m_pretty;
    std::string_view m_newline;
    size_t m_depth = 0;
    bool m_need_comma = false;
};

}  // namespace

std::string json_to_string(const JsonValue& value, JsonWriteOptions options)
{
    std::string out;
    Writer(out, options.pretty, "\n").value(value);
    return out;
}

std::string qmp_wire_line(const JsonValue& value, bool pretty)
{
    // The monitor turns every "\n" into "\r\n"; strings never hold a raw newline (it is
    // escaped), so the only newlines are the pretty layout's and the terminator.
    std::string out;
    out.reserve(128);
    Writer(out, pretty, "\r\n").value(value);
    out += "\r\n";
    return out;
}

}  // namespace qemu
