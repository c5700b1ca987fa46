// Weak stand-ins for the codec functions (vmdk-codec.h) until their implementation is
// merged: each fails with ENOTSUP, and the real, strong definitions replace them at link
// time. Delete this file once vmdk-codec.cc is on the branch.
#include <cerrno>

#include "block/vmdk/vmdk-codec.h"

namespace qemu::block::vmdk {

namespace {
std::unexpected<Error> missing()
{
    return std::unexpected(Error{ErrorClass::GenericError, "vmdk codec not available", ENOTSUP});
}
}  // namespace

[[gnu::weak]] Result<std::vector<uint8_t>> compress_grain(uint64_t, std::span<const uint8_t>, bool)
{
    return missing();
}
[[gnu::weak]] Result<void> decompress_grain(std::span<const uint8_t>, std::span<uint8_t>, bool)
{
    return missing();
}
[[gnu::weak]] Result<std::array<uint8_t, 512>> parse_stream_footer(std::span<const uint8_t>)
{
    return missing();
}
[[gnu::weak]] Result<SeSparseHeader> parse_sesparse_const_header(std::span<const uint8_t, 512>)
{
    return missing();
}
[[gnu::weak]] Result<void> check_sesparse_volatile_header(std::span<const uint8_t, 512>)
{
    return missing();
}
[[gnu::weak]] Result<std::optional<uint64_t>> decode_sesparse_gd_entry(uint64_t)
{
    return missing();
}
[[gnu::weak]] Result<SeSparseGte> decode_sesparse_gte(uint64_t)
{
    return missing();
}
[[gnu::weak]] Result<CowdHeader> parse_cowd_header(std::span<const uint8_t, 512>)
{
    return missing();
}

}  // namespace qemu::block::vmdk
