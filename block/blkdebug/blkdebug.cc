// The blkdebug protocol (QEMU's block/blkdebug.c): a filter over the node "image" that
// fails requests the way its rules say, after events the layers above raise. The rules
// and their state machine are blkdebug-rules.cc, where they come from blkdebug-config.cc;
// this file is the driver: its filename syntax, its options, and the requests.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "block/blkdebug/blkdebug-config.h"
#include "util/aio-context.h"
#include "block/blkdebug/blkdebug-rules.h"
#include "block/block.h"
#include "block/drivers.h"
#include "block/iov.h"

namespace qemu::block {

namespace {

struct BlkdebugState : DriverState {
    std::unique_ptr<BlkdebugRules> rules;
    uint64_t align = 0;
    uint64_t max_transfer = 0;
    uint64_t opt_write_zero = 0;
    uint64_t max_write_zero = 0;
    uint64_t opt_discard = 0;
};

BlkdebugState& blkdebug_state(BlockNode& node)
{
    return node.state<BlkdebugState>();
}

BlockNode& image_of(BlockNode& node)
{
    return *node.child("image");
}

// "blkdebug:CONFIG:IMAGE"; without the prefix the whole name is the image's.
Result<void> blkdebug_parse_filename(std::string_view filename, BlockOptions& options)
{
    constexpr std::string_view kPrefix = "blkdebug:";
    if (!filename.starts_with(kPrefix)) {
        options["x-image"] = std::string(filename);
        return {};
    }
    std::string_view rest = filename.substr(kPrefix.size());
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
        return make_error("blkdebug requires both config file and image path");
    }
    if (colon > 0) {
        options["config"] = std::string(rest.substr(0, colon));
    }
    options["x-image"] = std::string(rest.substr(colon + 1));
    return {};
}

Result<std::string> read_config_file(const OpenContext& context, const std::string& path)
{
    auto opened = qemu_open(context, path, O_RDONLY);
    if (!opened) {
        return make_errno_error(opened.error().errno_or(EIO), "Could not read blkdebug config file");
    }
    std::string text;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(opened->get(), chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return make_error("Cannot read config file");
        }
        if (n == 0) {
            break;
        }
        text.append(chunk, static_cast<size_t>(n));
    }
    return text;
}

bool is_power_of_2(uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

// A limit must be below INT_MAX and a multiple of what it refines.
Result<void> check_limit(std::string_view name, uint64_t value, uint64_t multiple_of)
{
    if (value && (value >= INT_MAX || value % multiple_of != 0)) {
        return make_error("Cannot meet constraints with " + std::string(name) + " " + std::to_string(value));
    }
    return {};
}

Result<void> blkdebug_open(BlockNode& node, BlockOptions& options, const OpenContext& context)
{
    auto config = take_string(options, "config");
    auto image_name = take_string(options, "x-image");
    auto align = TRY(take_size(options, "align")).value_or(0);
    auto max_transfer = TRY(take_size(options, "max-transfer")).value_or(0);
    auto opt_write_zero = TRY(take_size(options, "opt-write-zero")).value_or(0);
    auto max_write_zero = TRY(take_size(options, "max-write-zero")).value_or(0);
    auto opt_discard = TRY(take_size(options, "opt-discard")).value_or(0);
    auto max_discard = TRY(take_size(options, "max-discard")).value_or(0);

    std::vector<RuleSection> sections;
    if (config) {
        std::string text = TRY(read_config_file(context, *config));
        sections = TRY(parse_blkdebug_config(text));
    }
    for (RuleSection& section : TRY(take_rule_options(options))) {
        sections.push_back(std::move(section));
    }
    auto state = std::make_unique<BlkdebugState>();
    state->rules = std::make_unique<BlkdebugRules>(TRY(build_blkdebug_rules(sections)));

    auto image = TRY(node.graph().open_child(options, "image", image_name, node.flags(), false));
    std::string image_filename = image->filename();
    node.add_child("image", std::move(image), child_role::kFiltered | child_role::kPrimary);

    if (align && (align >= INT_MAX || !is_power_of_2(align))) {
        return make_error("Cannot meet constraints with align " + std::to_string(align));
    }
    // The file below takes any byte alignment, so only ours counts.
    uint64_t unit = std::max<uint64_t>(align, 1);
    TRY_VOID(check_limit("max-transfer", max_transfer, unit));
    TRY_VOID(check_limit("opt-write-zero", opt_write_zero, unit));
    TRY_VOID(check_limit("max-write-zero", max_write_zero, std::max(opt_write_zero, unit)));
    TRY_VOID(check_limit("opt-discard", opt_discard, unit));
    TRY_VOID(check_limit("max-discard", max_discard, std::max(opt_discard, unit)));
    state->align = align;
    state->max_transfer = max_transfer;
    state->opt_write_zero = opt_write_zero;
    state->max_write_zero = max_write_zero;
    state->opt_discard = opt_discard;

    node.set_filename("blkdebug:" + config.value_or("") + ":" + image_filename);
    BlkdebugRules& rules = *state->rules;
    node.set_state(std::move(state));
    // Rules written for "none" are active from the start.
    (void)rules.event(BlkdebugEvent::None);
    return {};
}

// What a matching rule makes of a request: its error, or, for a negative errno, success
// without the request ever reaching the image (QEMU returns the positive value, which
// its callers take for success).
enum class Verdict { Forward, Skip };

Result<Verdict> check_rules(BlockNode& node, uint64_t offset, uint64_t bytes, BlkdebugIoType type)
{
    auto injection = blkdebug_state(node).rules->check(offset, bytes, type);
    if (!injection) {
        return Verdict::Forward;
    }
    if (injection->error < 0) {
        return Verdict::Skip;
    }
    return make_errno_error(injection->error);
}

// With max-transfer the generic layer hands blkdebug the request in pieces, each checked
// on its own, so the pieces before a failing one reach the image.
template <typename Forward>
Result<void> in_pieces(
    BlockNode& node, int64_t offset, std::span<const iovec> iov, BlkdebugIoType type, Forward forward)
{
    auto total = static_cast<int64_t>(iov_size(iov));
    auto piece = static_cast<int64_t>(blkdebug_state(node).max_transfer);
    if (piece == 0 || total <= piece) {
        if (TRY(check_rules(node, offset, total, type)) == Verdict::Forward) {
            TRY_VOID(forward(offset, iov));
        }
        return {};
    }
    for (int64_t done = 0; done < total; done += piece) {
        int64_t now = std::min(piece, total - done);
        std::vector<iovec> part = iov_slice(iov, static_cast<size_t>(done), static_cast<size_t>(now));
        if (TRY(check_rules(node, offset + done, now, type)) == Verdict::Forward) {
            TRY_VOID(forward(offset + done, std::span<const iovec>(part)));
        }
    }
    return {};
}

Result<void> blkdebug_preadv(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    return in_pieces(node, offset, iov, BlkdebugIoType::Read,
        [&](int64_t at, std::span<const iovec> part) { return image_of(node).preadv(at, part, flags); });
}

Result<void> blkdebug_pwritev(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags)
{
    return in_pieces(node, offset, iov, BlkdebugIoType::Write,
        [&](int64_t at, std::span<const iovec> part) { return image_of(node).pwritev(at, part, flags); });
}

Result<void> blkdebug_flush(BlockNode& node)
{
    TRY(check_rules(node, 0, 0, BlkdebugIoType::Flush));
    return {};
}

// The generic layer's zeroing of an unaligned range (bdrv_co_do_pwrite_zeroes): a head up
// to the zeroing alignment, the aligned middle in max-write-zero pieces, then a tail.
// Pieces smaller than the alignment are ones blkdebug refuses on purpose, so they become
// writes of zeroes, each checked as a write.
Result<void> blkdebug_write_zeroes(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags)
{
    BlkdebugState& s = blkdebug_state(node);
    auto unit = static_cast<int64_t>(std::max<uint64_t>({s.align, s.opt_write_zero, 1}));
    auto most = static_cast<int64_t>(s.max_write_zero);
    auto by_write = [&](int64_t at, int64_t len) -> Result<void> {
        if (flags.no_fallback) {
            return make_errno_error(ENOTSUP);
        }
        std::vector<uint8_t> zeroes(static_cast<size_t>(len));
        iovec one{zeroes.data(), zeroes.size()};
        return blkdebug_pwritev(node, at, std::span(&one, 1), {});
    };
    while (bytes > 0) {
        int64_t head = offset % unit;
        int64_t now;
        if (head) {
            now = std::min(bytes, unit - head);
        } else if (bytes < unit) {
            now = bytes;
        } else {
            now = bytes - bytes % unit;
            if (most) {
                now = std::min(now, most);
            }
        }
        if (now < unit) {
            TRY_VOID(by_write(offset, now));
        } else if (TRY(check_rules(node, offset, now, BlkdebugIoType::WriteZeroes)) == Verdict::Forward) {
            TRY_VOID(image_of(node).pwrite_zeroes(offset, now, flags));
        }
        offset += now;
        bytes -= now;
    }
    return {};
}

Result<void> blkdebug_discard(BlockNode& node, int64_t offset, int64_t bytes)
{
    auto unit = static_cast<int64_t>(std::max<uint64_t>(blkdebug_state(node).align, 1));
    if (bytes < unit) {
        return make_errno_error(ENOTSUP);
    }
    if (TRY(check_rules(node, offset, bytes, BlkdebugIoType::Discard)) == Verdict::Skip) {
        return {};
    }
    return image_of(node).discard(offset, bytes);
}

Result<BlockStatus> blkdebug_block_status(BlockNode& node, bool, int64_t offset, int64_t bytes)
{
    TRY(check_rules(node, offset, bytes, BlkdebugIoType::BlockStatus));
    return BlockStatus{
        .flags = status::kRaw | status::kOffsetValid, .bytes = bytes, .map = offset, .file = &image_of(node)};
}

Result<int64_t> blkdebug_get_length(BlockNode& node)
{
    return image_of(node).length();
}

Result<DriverInfo> blkdebug_get_info(BlockNode& node)
{
    return image_of(node).info();
}

void blkdebug_debug_event(BlockNode& node, BlkdebugEvent event)
{
    BlkdebugRules& rules = *blkdebug_state(node).rules;
    // Printed as the request is suspended, before `wait_break` can see it and a `resume`
    // print its line.
    EventOutcome outcome = rules.event(event, [](const std::string& tag) {
        std::printf("blkdebug: Suspended request '%s'\n", tag.c_str());
        std::fflush(stdout);
    });
    // A request running on a worker of a context that can resume it waits here for
    // `resume`, as QEMU's coroutine does; one on the caller's own thread (a synchronous
    // request, or HMP's qemu-io, which must answer) is only recorded as suspended and goes
    // on, where QEMU would hang.
    AioContext* ctx = AioContext::worker_context();
    if (outcome.suspended_ids.empty() || !ctx || !ctx->parking()) {
        return;
    }
    // Parked before the context counts it so: a drain that sees the count settled must
    // find the request there to let go, or it would wait for it forever.
    rules.mark_parked(outcome.suspended_ids);
    ctx->park_begin();
    for (uint64_t id : outcome.suspended_ids) {
        rules.wait_resumed(id);
    }
    ctx->park_end();
}

// qemu-io's line for a request let go. It is printed before the request can run on (as
// QEMU's coroutine prints it when it wakes), so a worker's next "Suspended" comes after it.
void announce_resume(const std::string& tag)
{
    std::printf("blkdebug: Resuming request '%s'\n", tag.c_str());
    std::fflush(stdout);
}

void blkdebug_resume_parked(BlockNode& node)
{
    blkdebug_state(node).rules->resume_parked(announce_resume);
}

int blkdebug_breakpoint(BlockNode& node, std::string_view event, std::string_view tag)
{
    return blkdebug_state(node).rules->add_breakpoint(event, tag);
}

int blkdebug_remove_breakpoint(BlockNode& node, std::string_view tag)
{
    return blkdebug_state(node).rules->remove_breakpoint(tag, nullptr, announce_resume);
}

int blkdebug_resume(BlockNode& node, std::string_view tag)
{
    return blkdebug_state(node).rules->resume(tag, announce_resume);
}

uint64_t blkdebug_request_alignment(const BlockNode& node)
{
    return node.state<BlkdebugState>().align;
}

bool blkdebug_is_suspended(BlockNode& node, std::string_view tag)
{
    return blkdebug_state(node).rules->is_suspended(tag);
}

}  // namespace

const BlockDriver kBlkdebugDriver = {
    .format_name = "blkdebug",
    .protocol_name = "blkdebug",
    .needs_filename = false,
    .is_filter_like = true,
    .is_filter = true,
    .concurrency = Concurrency::Full,  // the rules lock themselves
    .parse_filename = blkdebug_parse_filename,
    .open = blkdebug_open,
    .preadv = blkdebug_preadv,
    .pwritev = blkdebug_pwritev,
    .flush = blkdebug_flush,
    .discard = blkdebug_discard,
    .write_zeroes = blkdebug_write_zeroes,
    .block_status = blkdebug_block_status,
    .get_length = blkdebug_get_length,
    .get_info = blkdebug_get_info,
    .debug_event = blkdebug_debug_event,
    .request_alignment = blkdebug_request_alignment,
    .debug_breakpoint = blkdebug_breakpoint,
    .debug_remove_breakpoint = blkdebug_remove_breakpoint,
    .debug_resume = blkdebug_resume,
    .debug_is_suspended = blkdebug_is_suspended,
    .debug_resume_parked = blkdebug_resume_parked,
};

}  // namespace qemu::block
