// Error helpers shared by every layer.
#include "util/error.h"

#include <cstring>

namespace qemu {

std::string_view error_class_name(ErrorClass cls)
{
    switch (cls) {
    case ErrorClass::GenericError:
        return "GenericError";
    case ErrorClass::CommandNotFound:
        return "CommandNotFound";
    case ErrorClass::DeviceNotActive:
        return "DeviceNotActive";
    case ErrorClass::DeviceNotFound:
        return "DeviceNotFound";
    case ErrorClass::KVMMissingCap:
        return "KVMMissingCap";
    }
    return "GenericError";
}

Error& Error::prepend(std::string_view prefix)
{
    desc.insert(0, prefix);
    if (hint_at != std::string::npos) {
        hint_at += prefix.size();
    }
    return *this;
}

Error& Error::append_hint(std::string_view hint)
{
    if (hint_at == std::string::npos) {
        hint_at = desc.size();
    }
    desc += hint;
    return *this;
}

std::string errno_message(std::string desc, int err)
{
    desc += ": ";
    desc += std::strerror(err);
    return desc;
}

std::unexpected<Error> make_errno_error(int err, std::string desc)
{
    return std::unexpected(Error{ErrorClass::GenericError, errno_message(std::move(desc), err), err});
}

std::unexpected<Error> make_errno_error(int err)
{
    return std::unexpected(Error{ErrorClass::GenericError, std::strerror(err), err});
}

}  // namespace qemu
