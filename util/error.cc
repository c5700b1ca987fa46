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
    return *this;
}

std::unexpected<Error> make_errno_error(int err, std::string desc)
{
    desc += ": ";
    desc += std::strerror(err);
    return std::unexpected(Error{ErrorClass::GenericError, std::move(desc), err});
}

}  // namespace qemu
