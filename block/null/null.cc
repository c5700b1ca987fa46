// The null-co and null-aio protocols (QEMU's block/null.c): a device of `size` bytes
// (1 GiB unless given) that throws writes away and reads nothing, or zeroes with
// read-zeroes, each request after `latency-ns`. They open without a filename; only their
// own "null-co://" (or "null-aio://") is accepted as one. QEMU's two drivers differ in how
// they complete requests, which is nothing here.
#include <cstring>
#include <ctime>
#include <string>

#include "block/block.h"
#include "block/drivers.h"
#include "util/qemu-option.h"

namespace qemu::block {

namespace {

struct NullState : DriverState {
    int64_t length = int64_t{1} << 30;
    int64_t latency_ns = 0;
    bool read_zeroes = false;
};

NullState& null_state(BlockNode& node)
{
    return node.state<NullState>();
}

// The only filename either driver takes is its own name and "://".
template <const std::string_view& kName> Result<void> null_parse_filename(std::string_view filename, BlockOptions&)
{
    std::string own = std::string(kName) + "://";
    if (filename != own) {
        return make_error("The only allowed filename for this driver is '" + own + "'");
    }
    return {};
}

Result<void> null_open(BlockNode& node, BlockOptions& options, const OpenContext&)
{
    auto state = std::make_unique<NullState>();
    if (auto size = TRY(take_size(options, "size"))) {
        state->length = static_cast<int64_t>(*size);
    }
    if (auto latency = take_string(options, "latency-ns")) {
        // QEMU reads a number and keeps it signed, so the upper half of the range fails.
        state->latency_ns = static_cast<int64_t>(TRY(parse_option_number("latency-ns", *latency)));
        if (state->latency_ns < 0) {
            return make_error("latency-ns is invalid");
        }
    }
    state->read_zeroes = TRY(take_bool(options, "read-zeroes")).value_or(false);
    node.set_filename(std::string(node.driver().format_name) + "://");
    node.set_state(std::move(state));
    return {};
}

void wait_latency(BlockNode& node)
{
    int64_t ns = null_state(node).latency_ns;
    if (ns > 0) {
        timespec delay{.tv_sec = static_cast<time_t>(ns / 1'000'000'000), .tv_nsec = ns % 1'000'000'000};
        while (::nanosleep(&delay, &delay) != 0) { }
    }
}

Result<void> null_preadv(BlockNode& node, int64_t, std::span<const iovec> iov, RequestFlags)
{
    // Without read-zeroes the buffer keeps what it had, as in QEMU: the data is undefined.
    if (null_state(node).read_zeroes) {
        for (const iovec& v : iov) {
            std::memset(v.iov_base, 0, v.iov_len);
        }
    }
    wait_latency(node);
    return {};
}

Result<void> null_pwritev(BlockNode& node, int64_t, std::span<const iovec>, RequestFlags)
{
    wait_latency(node);
    return {};
}

Result<void> null_flush(BlockNode& node)
{
    wait_latency(node);
    return {};
}

Result<BlockStatus> null_block_status(BlockNode& node, bool, int64_t offset, int64_t bytes)
{
    BlockStatus result{.flags = status::kOffsetValid, .bytes = bytes, .map = offset, .file = &node};
    if (null_state(node).read_zeroes) {
        result.flags |= status::kZero;
    }
    return result;
}

Result<int64_t> null_get_length(BlockNode& node)
{
    return null_state(node).length;
}

Result<int64_t> null_allocated_file_size(BlockNode&)
{
    return 0;
}

// size and read-zeroes change what a reader sees; latency-ns only when.
constexpr std::string_view kNullStrongOpts[] = {"size", "read-zeroes"};

constexpr std::string_view kNullCoName = "null-co";
constexpr std::string_view kNullAioName = "null-aio";

constexpr BlockDriver null_driver(const std::string_view& name, auto parse_filename)
{
    return BlockDriver{
        .format_name = name,
        .protocol_name = name,
        .needs_filename = false,
        .strong_runtime_opts = kNullStrongOpts,
        .passes_fua = true,
        .concurrency = Concurrency::Full,
        .parse_filename = parse_filename,
        .open = null_open,
        .preadv = null_preadv,
        .pwritev = null_pwritev,
        .flush = null_flush,
        .block_status = null_block_status,
        .get_length = null_get_length,
        .get_allocated_file_size = null_allocated_file_size,
    };
}

}  // namespace

const BlockDriver kNullCoDriver = null_driver(kNullCoName, null_parse_filename<kNullCoName>);
const BlockDriver kNullAioDriver = null_driver(kNullAioName, null_parse_filename<kNullAioName>);

}  // namespace qemu::block
