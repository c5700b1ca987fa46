// The one error convention of the project: a failure carries QEMU's message text, the QMP
// error class a client sees, and the errno behind it when there is one. Functions return
// Result<T> (std::expected); nothing reports through out-parameters or exceptions.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace qemu {

// QMP's QapiErrorClass, in the schema's order.
enum class ErrorClass {
    GenericError,
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap,
};

std::string_view error_class_name(ErrorClass cls);

struct Error {
    ErrorClass cls = ErrorClass::GenericError;
    std::string desc;
    int errno_value = 0;

    // Where a hint (QEMU's error_append_hint) starts in desc: the command line and the
    // tools print it after the message, a QMP reply leaves it out.
    size_t hint_at = std::string::npos;

    // Prepends context the way QEMU's error_prepend() does: "prefix" + desc.
    Error& prepend(std::string_view prefix);
    // error_append_hint: "\nIs another process using the image [x]?" after the message.
    Error& append_hint(std::string_view hint);
    // The message without its hint, as QMP's "desc" carries it.
    std::string_view message() const { return std::string_view(desc).substr(0, hint_at); }

    // The errno to report, or fallback when the failure had none (QEMU's callers print
    // strerror of a negative return that is never 0).
    int errno_or(int fallback) const { return errno_value != 0 ? errno_value : fallback; }
};

// std::expected that cannot be dropped silently: ignoring a returned Result is a warning,
// an error under -Werror. Where a failure really does not matter, the call is cast to void
// beside a comment saying why.
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Error> {
public:
    using std::expected<T, Error>::expected;
};

// GenericError with a message (error_setg).
inline std::unexpected<Error> make_error(std::string desc)
{
    return std::unexpected(Error{ErrorClass::GenericError, std::move(desc), 0});
}

inline std::unexpected<Error> make_error(ErrorClass cls, std::string desc)
{
    return std::unexpected(Error{cls, std::move(desc), 0});
}

// QEMU's wording for a message with an errno behind it: "desc: strerror(err)".
std::string errno_message(std::string desc, int err);

// error_setg_errno: "msg: strerror(errno)" and the errno kept for callers that branch on it.
std::unexpected<Error> make_errno_error(int err, std::string desc);

// A bare -errno return as QEMU reports it: the text is strerror(err) alone.
std::unexpected<Error> make_errno_error(int err);

}  // namespace qemu

// Propagates the error of a Result-returning expression, or yields its value.
#define TRY(expr)                                              \
    ({                                                         \
        auto _try_result = (expr);                             \
        if (!_try_result) {                                    \
            return std::unexpected(std::move(_try_result).error()); \
        }                                                      \
        std::move(_try_result).value();                        \
    })

// The same for Result<void>.
#define TRY_VOID(expr)                                         \
    do {                                                       \
        auto _try_result = (expr);                             \
        if (!_try_result) {                                    \
            return std::unexpected(std::move(_try_result).error()); \
        }                                                      \
    } while (0)
