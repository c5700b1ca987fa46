// The run-time half of the QAPI code generator: Codec<T> turns JSON from a QMP client into
// a C++ value with QEMU's strict input-visitor rules and error texts, and back. The
// generator specialises Codec for every schema type; this file has the built-in scalars,
// arrays, and the helpers the generated code shares.
//
// Error paths follow QEMU's qobject input visitor: members are joined with '.', list
// elements are written "[i]", and the root has no name (a command's argument "a" is just
// "a"). A value with no name at all is called "null", as QEMU does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "qobject/json.h"
#include "util/error.h"

namespace qemu::qapi_codec {

template <typename T>
struct Codec;

inline std::string member_path(const std::string& path, std::string_view name)
{
    if (path.empty()) {
        return std::string(name);
    }
    return path + "." + std::string(name);
}

inline std::string element_path(const std::string& path, size_t index)
{
    return path + "[" + std::to_string(index) + "]";
}

inline std::string shown(const std::string& path)
{
    return path.empty() ? std::string("null") : path;
}

inline std::unexpected<Error> invalid_type(const std::string& path, std::string_view expected)
{
    return make_error("Invalid parameter type for '" + shown(path) + "', expected: " +
                      std::string(expected));
}

inline std::unexpected<Error> missing(const std::string& path, std::string_view name)
{
    return make_error("Parameter '" + member_path(path, name) + "' is missing");
}

inline std::unexpected<Error> out_of_range(const std::string& path, std::string_view type)
{
    return make_error("Parameter '" + shown(path) + "' expects " + std::string(type));
}

// Unlike the other errors, QEMU names a bad enum value by the member's own name, not its
// full path, and a list element (which has no name) as 'null'.
inline std::string leaf_name(const std::string& path)
{
    return path.empty() || path.back() == ']' ? std::string("null") : path.substr(path.rfind('.') + 1);
}

inline std::unexpected<Error> bad_enum_value(const std::string& path, std::string_view value)
{
    return make_error("Parameter '" + leaf_name(path) + "' does not accept value '" + std::string(value) + "'");
}

// visit_type_intN / visit_type_uintN: the member's own name too, and the C type.
inline std::unexpected<Error> narrow_out_of_range(const std::string& path, std::string_view ctype)
{
    return make_error("Parameter '" + leaf_name(path) + "' expects " + std::string(ctype));
}

// QEMU reports a member nobody asked for only after all known members were read; the
// first such member in input order is named.
inline Result<void> check_unexpected(const JsonValue& obj, const std::string& path,
                                     std::initializer_list<std::string_view> known)
{
    for (const auto& item : obj.items()) {
        bool found = false;
        for (std::string_view name : known) {
            if (item.key() == name) {
                found = true;
                break;
            }
        }
        if (!found) {
            return make_error("Parameter '" + member_path(path, item.key()) + "' is unexpected");
        }
    }
    return {};
}

template <>
struct Codec<std::string> {
    static Result<std::string> decode(const JsonValue& v, const std::string& path)
    {
        if (!v.is_string()) {
            return invalid_type(path, "string");
        }
        return v.get<std::string>();
    }
    static JsonValue encode(const std::string& v) { return JsonValue(v); }
};

template <>
struct Codec<bool> {
    static Result<bool> decode(const JsonValue& v, const std::string& path)
    {
        if (!v.is_boolean()) {
            return invalid_type(path, "boolean");
        }
        return v.get<bool>();
    }
    static JsonValue encode(bool v) { return JsonValue(v); }
};

template <>
struct Codec<double> {
    static Result<double> decode(const JsonValue& v, const std::string& path)
    {
        if (!v.is_number()) {
            return invalid_type(path, "number");
        }
        return v.get<double>();
    }
    static JsonValue encode(double v) { return JsonValue(v); }
};

template <>
struct Codec<std::nullptr_t> {
    static Result<std::nullptr_t> decode(const JsonValue& v, const std::string& path)
    {
        if (!v.is_null()) {
            return invalid_type(path, "null");
        }
        return nullptr;
    }
    static JsonValue encode(std::nullptr_t) { return JsonValue(nullptr); }
};

template <>
struct Codec<JsonValue> {
    static Result<JsonValue> decode(const JsonValue& v, const std::string&) { return v; }
    static JsonValue encode(const JsonValue& v) { return v; }
};

template <>
struct Codec<int64_t> {
    static Result<int64_t> decode(const JsonValue& v, const std::string& path)
    {
        if (v.is_number_unsigned()) {
            auto u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                return invalid_type(path, "integer");
            }
            return static_cast<int64_t>(u);
        }
        if (!v.is_number_integer()) {
            return invalid_type(path, "integer");
        }
        return v.get<int64_t>();
    }
    static JsonValue encode(int64_t v) { return JsonValue(v); }
};

// uint64 (and size) accept negative numbers, reinterpreted, for compatibility; anything
// else that is not an integer is reported with the type name, as QEMU does.
template <>
struct Codec<uint64_t> {
    static Result<uint64_t> decode(const JsonValue& v, const std::string& path)
    {
        if (v.is_number_unsigned()) {
            return v.get<uint64_t>();
        }
        if (v.is_number_integer()) {
            return static_cast<uint64_t>(v.get<int64_t>());
        }
        return out_of_range(path, "uint64");
    }
    static JsonValue encode(uint64_t v) { return JsonValue(v); }
};

template <typename N, typename Wide>
struct NarrowIntCodec {
    static Result<N> decode(const JsonValue& v, const std::string& path, std::string_view type)
    {
        auto wide = Codec<Wide>::decode(v, path);
        if (!wide) {
            return std::unexpected(std::move(wide).error());
        }
        if (*wide < static_cast<Wide>(std::numeric_limits<N>::min()) ||
            *wide > static_cast<Wide>(std::numeric_limits<N>::max())) {
            return narrow_out_of_range(path, type);
        }
        return static_cast<N>(*wide);
    }
};

#define QAPI_NARROW_CODEC(ctype, wide, qapi_name)                                       \
    template <>                                                                         \
    struct Codec<ctype> {                                                               \
        static Result<ctype> decode(const JsonValue& v, const std::string& path)        \
        {                                                                               \
            return NarrowIntCodec<ctype, wide>::decode(v, path, qapi_name);             \
        }                                                                               \
        static JsonValue encode(ctype v) { return JsonValue(v); }                       \
    };

QAPI_NARROW_CODEC(int8_t, int64_t, "int8_t")
QAPI_NARROW_CODEC(int16_t, int64_t, "int16_t")
QAPI_NARROW_CODEC(int32_t, int64_t, "int32_t")
QAPI_NARROW_CODEC(uint8_t, uint64_t, "uint8_t")
QAPI_NARROW_CODEC(uint16_t, uint64_t, "uint16_t")
QAPI_NARROW_CODEC(uint32_t, uint64_t, "uint32_t")

#undef QAPI_NARROW_CODEC

template <typename T>
struct Codec<std::vector<T>> {
    static Result<std::vector<T>> decode(const JsonValue& v, const std::string& path)
    {
        if (!v.is_array()) {
            return invalid_type(path, "array");
        }
        std::vector<T> out;
        out.reserve(v.size());
        for (size_t i = 0; i < v.size(); i++) {
            auto elem = Codec<T>::decode(v[i], element_path(path, i));
            if (!elem) {
                return std::unexpected(std::move(elem).error());
            }
            out.push_back(std::move(*elem));
        }
        return out;
    }
    static JsonValue encode(const std::vector<T>& v)
    {
        JsonValue out = JsonValue::array();
        for (const auto& elem : v) {
            out.push_back(Codec<T>::encode(elem));
        }
        return out;
    }
};

// Strict decoding of a whole value; `path` names it in error messages ("" for the root).
template <typename T>
Result<T> from_json(const JsonValue& value, const std::string& path = "")
{
    return Codec<T>::decode(value, path);
}

template <typename T>
JsonValue to_json(const T& value)
{
    return Codec<T>::encode(value);
}

}  // namespace qemu::qapi_codec
