// Allocations whose size comes from an image or a command: QEMU makes them with
// g_try_malloc and answers -ENOMEM when they fail, so a hostile header ends in "Cannot
// allocate memory" for that open or command rather than in an abort. These helpers turn
// std::bad_alloc (and std::length_error, a size past max_size()) into that error.
#pragma once

#include <cerrno>
#include <new>
#include <stdexcept>
#include <vector>

#include "util/error.h"

namespace qemu {

// Runs f() and maps an allocation failure inside it to ENOMEM; f returns a Result.
template <typename F> auto enomem_on_bad_alloc(F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return make_errno_error(ENOMEM);
    } catch (const std::length_error&) {
        return make_errno_error(ENOMEM);
    }
}

// A vector of n copies of value, or ENOMEM.
template <typename T> Result<std::vector<T>> try_make_vector(size_t n, const T& value = T{})
{
    return enomem_on_bad_alloc([&]() -> Result<std::vector<T>> { return std::vector<T>(n, value); });
}

// v.resize(n, value), or ENOMEM with v unchanged.
template <typename T> Result<void> try_resize(std::vector<T>& v, size_t n, const T& value = T{})
{
    return enomem_on_bad_alloc([&]() -> Result<void> {
        v.resize(n, value);
        return {};
    });
}

}  // namespace qemu
