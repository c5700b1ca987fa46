// libFuzzer target: arbitrary bytes, cut into arbitrary chunks, go through JsonStreamer.
// Checked for every input: chunking never changes what comes out; every value written
// back is ASCII, in both layouts, and parses to an equal value; every error has a text.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "qobject/json.h"

namespace {

using qemu::JsonValue;

void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

// "inf" is what QEMU writes for an out-of-range number, and it does not parse back.
bool all_finite(const JsonValue& v)
{
    if (v.is_number_float()) {
        return std::isfinite(v.get<double>());
    }
    if (v.is_structured()) {
        for (const auto& child : v) {
            if (!all_finite(child)) {
                return false;
            }
        }
    }
    return true;
}

void check_value(const JsonValue& v)
{
    for (bool pretty : {false, true}) {
        std::string text = qemu::json_to_string(v, {.pretty = pretty});
        for (unsigned char c : text) {
            check(c < 0x80);
        }
        if (all_finite(v)) {
            auto back = qemu::json_parse(text);
            check(back.has_value());
            check(*back == v);
        }
    }
    std::string line = qemu::qmp_wire_line(v, false);
    check(line.size() >= 2 && line.ends_with("\r\n"));
}

struct Outcome {
    bool ok;
    JsonValue value;
    std::string error;
    bool operator==(const Outcome&) const = default;
};

std::vector<Outcome> run(const uint8_t* data, size_t size, uint32_t seed, bool chunked)
{
    std::vector<Outcome> out;
    qemu::JsonStreamer streamer([&out](qemu::Result<JsonValue> r) {
        if (r) {
            check_value(*r);
            out.push_back({true, std::move(*r), {}});
        } else {
            check(r.error().desc.starts_with("JSON ") || r.error().desc.starts_with("Expecting"));
            check(qemu::json_to_string(r.error().desc).size() >= 2);
            out.push_back({false, {}, std::move(r.error().desc)});
        }
    });
    const char* bytes = reinterpret_cast<const char*>(data);
    size_t pos = 0;
    uint32_t state = seed | 1;
    while (pos < size) {
        size_t len = size - pos;
        if (chunked) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            len = std::min<size_t>(len, 1 + state % 16);
        }
        streamer.feed(std::span<const char>(bytes + pos, len));
        pos += len;
    }
    streamer.flush();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint32_t seed = data[0];
    auto whole = run(data + 1, size - 1, seed, false);
    auto pieces = run(data + 1, size - 1, seed, true);
    check(whole == pieces);
    // json_parse() agrees with the streamer on single-message input.
    auto single = qemu::json_parse(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    if (whole.size() == 1) {
        check(single.has_value() == whole[0].ok);
        if (whole[0].ok) {
            check(*single == whole[0].value);
        } else {
            check(single.error().desc == whole[0].error);
        }
    }
    return 0;
}
