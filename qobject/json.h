// QMP's JSON dialect: the value model (nlohmann::ordered_json, so members keep the order we
// build them in), a streaming parser that frames messages out of arbitrary byte chunks the
// way QEMU's json-streamer does, and a writer that produces QEMU's output text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace qemu {

using JsonValue = nlohmann::ordered_json;

// Limits from QEMU's json-streamer.c.
inline constexpr size_t kJsonMaxTokenSize = size_t{64} << 20;
inline constexpr size_t kJsonMaxTokenCount = size_t{2} << 20;
inline constexpr size_t kJsonMaxNesting = 1024;

// Splits a byte stream into JSON values. Each complete top-level value, or each error
// ("JSON parse error, ..." / "JSON token size limit exceeded" ...), is handed to the
// callback, in input order. After an error the lexer resynchronises as QEMU's does.
// A lexical error's text carries the offending bytes raw, as QEMU's does; json_to_string()
// escapes them (0xFF shows as \uFFFD) when the reply is written. The callback may call
// reset() (the rest of the chunk being fed is then dropped) but not feed() or flush().
class JsonStreamer {
public:
    using Callback = std::function<void(Result<JsonValue>)>;

    explicit JsonStreamer(Callback on_message);
    ~JsonStreamer();
    JsonStreamer(const JsonStreamer&) = delete;
    JsonStreamer& operator=(const JsonStreamer&) = delete;

    void feed(std::span<const char> bytes);
    void feed(std::string_view bytes) { feed(std::span<const char>(bytes.data(), bytes.size())); }
    // Strings and literals would otherwise be ambiguous between the two above (and a
    // literal taken as a span would include its terminating NUL).
    void feed(const char* text) { feed(std::string_view(text)); }
    void feed(const std::string& text) { feed(std::string_view(text)); }
    // End of input: a pending scalar is emitted, a pending partial value is an error.
    void flush();
    // Drops all partial input (a monitor does this when its client goes away).
    void reset();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Parses exactly one value from a complete text (QEMU dialect: single quotes allowed), with
// qobject_from_json()'s rules: the first error wins, "Expecting at most one JSON value"
// for a second value and "Expecting a JSON value" for none. As in QEMU, \u0000 in a string
// decodes to the bytes C0 80, so parsed strings never contain NUL.
Result<JsonValue> json_parse(std::string_view text);

struct JsonWriteOptions {
    bool pretty = false;
};

// QEMU's text for a value: ", " and ": " separators, ASCII only (\uXXXX escapes), no
// trailing newline. Pretty mode indents like QEMU's -qmp-pretty.
std::string json_to_string(const JsonValue& value, JsonWriteOptions options = {});

// One server message as it goes on the wire: the text plus "\r\n", with every newline of
// the pretty layout written as "\r\n" too (QEMU's monitor puts a CR before each LF).
std::string qmp_wire_line(const JsonValue& value, bool pretty);

}  // namespace qemu
