// The block graph: nodes (one open image layer each: a protocol such as `file`, or a format
// such as `raw` over a `file` child), the driver interface every layer implements, and the
// graph object that opens nodes from options, probes formats and owns the name registry.
// A driver is one BlockDriver table entry (block/drivers.cc lists them all); the core never
// knows which drivers exist beyond that list.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "block/blkdebug/blkdebug-events.h"
#include "block/dirty-bitmap.h"
#include "qobject/json.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu {
class AioContext;
}

namespace qemu::block {

constexpr int64_t kSectorSize = 512;
// BLOCK_PROBE_BUF_SIZE: how much of an image format probes look at.
constexpr size_t kProbeBufSize = 512;
// BDRV_REQUEST_MAX_BYTES: the largest single request (INT_MAX rounded down to a sector).
constexpr int64_t kRequestMaxBytes = (INT32_MAX >> 9) << 9;

// Flat, dotted-key options as QEMU's QDicts after flattening: "driver", "file.filename",
// "offset", "file.locking", ... A driver's open consumes the keys it knows.
using BlockOptions = std::map<std::string, std::string>;

// Permissions a user of a node takes or refuses to share (BLK_PERM_*), in QEMU's bit order;
// image locking puts these bits on the image file.
namespace perm {
constexpr uint64_t kConsistentRead = 1 << 0;
constexpr uint64_t kWrite = 1 << 1;
constexpr uint64_t kWriteUnchanged = 1 << 2;
constexpr uint64_t kResize = 1 << 3;
constexpr uint64_t kAll = 0xf;
constexpr int kCount = 4;
// The names QEMU prints in lock and permission errors.
std::string_view name(int bit);
// bdrv_perm_names: "write, resize".
std::string names(uint64_t perms);
}  // namespace perm

// Who holds permissions on a node, as QEMU's errors name it: a backend ("block device
// 'd0'", "an unnamed block device") through its "root", or a parent node ("node 'v1'")
// through the child it has the node as.
struct PermUser {
    const void* key;
    std::string description;
    std::string child_name;
};

// detect-zeroes: whether writes of zero buffers become write-zeroes requests (and with
// unmap, ones that may deallocate when the node discards).
enum class DetectZeroes { Off, On, Unmap };

// How a node is opened (BDRV_O_* and the cache options).
struct OpenFlags {
    bool read_write = false;
    bool auto_read_only = false;  // read_write may fall back to read-only
    bool cache_direct = false;  // O_DIRECT
    bool no_flush = false;  // flushes are ignored (cache=unsafe)
    bool unmap = false;  // discard=unmap: discards reach the file
    bool probed = false;  // the format was guessed, not given
    bool force_share = false;  // share every permission, whatever users ask (-U)
    DetectZeroes detect_zeroes = DetectZeroes::Off;  // this node only; children do not inherit it
    // BDRV_O_NO_BACKING: the backing file the image names is not opened (qemu-img info,
    // "backing": null); this node only.
    bool no_backing = false;
    // BDRV_O_NO_IO: opened for its metadata only (qemu-img info), so its name never spells
    // out a backing file it does not open.
    bool no_io = false;
    // read-only was among this node's own options: a reopen of a parent that names the node
    // by reference keeps it rather than passing its own access down.
    bool read_only_given = false;
};

// A write's payload worked out ahead of its turn, on another thread: vmdk compresses a
// stream-optimized grain this way while convert's writer appends the previous one.
struct PreparedWrite {
    int64_t offset = 0;  // the write it was made for
    int64_t bytes = 0;
    std::vector<uint8_t> payload;  // kept between uses, so it is allocated once
    size_t payload_bytes = 0;
};

// Request flags (BDRV_REQ_*).
struct RequestFlags {
    bool fua = false;
    bool may_unmap = false;
    bool no_fallback = false;
    // From BlockNode::prepare_write for exactly this write; a driver that finds it does not
    // match the request (or knows nothing of it) does the work itself.
    const PreparedWrite* prepared = nullptr;
};

// The end of an asynchronous request: its result, run by the AioContext it was started on
// at one of its later polls.
using AioCallback = std::move_only_function<void(Result<void>)>;

// Runs done(result) at the next poll of ctx: the end of a request known at its start.
void complete_later(AioContext& ctx, AioCallback& done, Result<void> result);

// Block status bits (BDRV_BLOCK_*).
namespace status {
constexpr unsigned kData = 0x01;
constexpr unsigned kZero = 0x02;
constexpr unsigned kOffsetValid = 0x04;
constexpr unsigned kRaw = 0x08;
constexpr unsigned kAllocated = 0x10;
constexpr unsigned kEof = 0x20;
// The format's answer is only coarse: ask the file below where its holes are (static images).
constexpr unsigned kRecurse = 0x40;
}  // namespace status

class BlockNode;
struct BdrvChild;

struct BlockStatus {
    unsigned flags = 0;
    int64_t bytes = 0;  // how far from the request offset the answer holds
    int64_t map = 0;  // offset in `file` when kOffsetValid
    BlockNode* file = nullptr;  // the node `map` is an offset into
};

// bdrv_get_specific_stats of the file protocols: the discards they passed to the host.
struct DiscardStats {
    uint64_t nb_ok = 0;
    uint64_t nb_failed = 0;
    uint64_t bytes_ok = 0;
};

// bdrv_get_info's BlockDriverInfo, the fields the tools print.
struct DriverInfo {
    int64_t cluster_size = 0;
    int64_t vm_state_offset = 0;
    // Writes must be whole compressed clusters (vmdk streamOptimized): qemu-img convert
    // then copies one cluster at a time, as with -c.
    bool needs_compressed_writes = false;
};

enum class Prealloc { Off, Metadata, Falloc, Full };
Result<Prealloc> parse_prealloc(std::string_view text);
std::string_view prealloc_name(Prealloc mode);

// One entry of a driver's create option list (QemuOptDesc): qemu-img create -o help lists
// them sorted, the "Formatting ..." line prints them in table order with their defaults.
enum class CreateOptType { String, Bool, Number, Size };
struct CreateOptionDesc {
    std::string_view name;
    CreateOptType type;
    std::string_view help;
    std::string_view default_value = {};  // empty: no default, not printed unless given
};

struct CreateOptions {
    std::string filename;
    uint64_t size = 0;  // for formats the virtual size as given; for file rounded to sectors
    Prealloc prealloc = Prealloc::Off;
    // Every -o key=value of the merged format+protocol list as given (size excepted), for
    // the driver to read its own ("static", "subformat", ...) and hand the rest down.
    BlockOptions opts;
};

// qemu-img check's BdrvCheckResult. Zero means "not reported" for the optional counters,
// as in QEMU, where the tool prints only the non-zero ones. What a driver finds it prints
// to stderr as it goes, as QEMU's drivers do.
struct CheckResult {
    int corruptions = 0;
    int leaks = 0;
    int check_errors = 0;
    int corruptions_fixed = 0;
    int leaks_fixed = 0;
    int64_t image_end_offset = 0;
    int64_t total_clusters = 0;
    int64_t allocated_clusters = 0;
    int64_t fragmented_clusters = 0;
    int64_t compressed_clusters = 0;
};

// bdrv_measure's answer: what an image of the format needs on the host.
struct MeasureInfo {
    int64_t required = 0;
    int64_t fully_allocated = 0;
};

// The host access a reopen asks of a protocol node (the descriptor's mode and O_DIRECT).
struct HostAccess {
    bool read_write = false;
    bool direct = false;
    friend bool operator==(const HostAccess&, const HostAccess&) = default;
};

// Per-node state a driver keeps; each driver derives its own.
struct DriverState {
    virtual ~DriverState() = default;
};

// Which of one node's requests may run at the same time on several threads (convert's
// copy workers). The core serialises the rest around the driver's operations, as QEMU's
// drivers do with their CoMutex.
enum class Concurrency {
    Serial,  // one request at a time
    SharedReads,  // reads and block status together; anything that changes the image alone
    Full,  // the driver's state is fixed while it serves requests (file, raw)
};

// The operations of one driver. Unset entries mean "not supported": the core answers
// ENOTSUP, or falls back to the generic behaviour QEMU has for that case.
struct BlockDriver {
    std::string_view format_name;
    std::string_view protocol_name;  // non-empty for protocol drivers ("file")
    // A protocol that opens a host object by name (file, host_device) cannot open without
    // a filename; one that has nothing to name (null-co) can.
    bool needs_filename = true;
    // The options that change what the image is (QEMU's strong_runtime_opts): given, they
    // make the node's name a json: filename (raw's offset and size, null's size).
    std::span<const std::string_view> strong_runtime_opts;
    bool is_filter_like = false;  // passes permissions and info through to `file`
    // QEMU's is_filter: a node that only passes its child's data on (blkdebug), which
    // blockdev-snapshot refuses as an overlay. raw is filter-like but not this.
    bool is_filter = false;
    // A copy-on-write format (vmdk): after open, the graph opens the backing file the driver
    // named with BlockNode::set_backing_file (or the node the "backing" option names, or
    // none for backing=null) as the child "backing". Reads of what this layer does not
    // hold are the driver's to forward there.
    bool supports_backing = false;
    // Takes compressed writes (qemu-io write -c, qemu-img convert -c) as QEMU's
    // bdrv_co_pwritev_compressed does for it: vmdk's are ordinary writes, compressed only
    // where its extent is (stream-optimized). Others answer ENOTSUP.
    bool supports_compressed_writes = false;
    // Hands a write's FUA flag down to its child (BDRV_REQ_FUA in supported_write_flags), so
    // the core need not flush this node after the write; otherwise the core emulates FUA
    // with one flush of this node once the driver has written.
    bool passes_fua = false;
    Concurrency concurrency = Concurrency::Serial;

    // Score 0..100 for the first bytes of an image (formats only).
    int (*probe)(std::span<const uint8_t> buf, std::string_view filename) = nullptr;
    // Score 0..100 for a filename without a protocol prefix (protocols only): device
    // drivers claim device nodes this way.
    int (*probe_device)(std::string_view filename) = nullptr;
    // bdrv_parse_filename: a protocol that takes its "proto:..." filename apart itself (or,
    // like null-co, only checks it) instead of opening it by name. It moves what it finds
    // into `options`.
    Result<void> (*parse_filename)(std::string_view filename, BlockOptions& options) = nullptr;
    // Consumes its options from `options`; left-over keys are the caller's error.
    Result<void> (*open)(BlockNode& node, BlockOptions& options, const OpenContext& context) = nullptr;
    // bdrv_reopen_prepare+commit for the driver's own options: takes the keys it can change
    // from the node's full new option set and applies them, or fails changing nothing. Keys
    // it leaves must keep the values the node was opened with.
    Result<void> (*reopen)(BlockNode& node, BlockOptions& options, const OpenContext& context) = nullptr;
    // The driver options its reopen can change (raw: offset, size).
    std::span<const std::string_view> reopen_keys;
    // bdrv_reopen_prepare/commit/abort for what a protocol holds on the host (file,
    // host_device: the descriptor, whose access mode and O_DIRECT a reopen may change).
    // prepare gets what the new access needs beside the old and may fail; then exactly one
    // of commit (switch over, release the old) or abort (release the new) follows, and
    // neither can fail. Nodes without them hold nothing to reopen; their children are asked.
    Result<void> (*reopen_prepare)(BlockNode& node, HostAccess wanted) = nullptr;
    void (*reopen_commit)(BlockNode& node) = nullptr;
    void (*reopen_abort)(BlockNode& node) = nullptr;
    // What the host access is now (set together with reopen_prepare).
    HostAccess (*host_access)(BlockNode& node) = nullptr;
    void (*close)(BlockNode& node) = nullptr;
    Result<void> (*preadv)(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags) = nullptr;
    Result<void> (*pwritev)(BlockNode& node, int64_t offset, std::span<const iovec> iov, RequestFlags flags) = nullptr;
    // Works out a write's payload ahead of the write (RequestFlags::prepared); false when
    // the driver has nothing to prepare for it. Runs on any thread while the node serves
    // other requests, so it reads only what open fixed.
    bool (*prepare_write)(BlockNode& node, int64_t offset, std::span<const uint8_t> data, PreparedWrite& out) = nullptr;
    Result<void> (*flush)(BlockNode& node) = nullptr;
    // Asynchronous reads and writes (blk_aio_*): start the request, taking `done`, and
    // return true; `done` runs at a later poll of `ctx`, never inside the call. The iovec
    // array is the driver's to copy; the buffers stay valid until done has run. A driver
    // that cannot start this one without blocking (it must allocate, or update metadata)
    // returns false and leaves `done`: the request then runs the synchronous path on a
    // worker thread, as every request of a driver without these does. The generic layer
    // calls them only where it would call preadv/pwritev directly (no padding, no zero
    // detection), holding the request lock as for a read, and only for the call: what the
    // driver starts must not depend on state an image-changing request may move.
    bool (*aio_preadv)(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov,
        RequestFlags flags, AioCallback& done) = nullptr;
    bool (*aio_pwritev)(BlockNode& node, AioContext& ctx, int64_t offset, std::span<const iovec> iov,
        RequestFlags flags, AioCallback& done) = nullptr;
    Result<void> (*discard)(BlockNode& node, int64_t offset, int64_t bytes) = nullptr;
    Result<void> (*write_zeroes)(BlockNode& node, int64_t offset, int64_t bytes, RequestFlags flags) = nullptr;
    Result<BlockStatus> (*block_status)(BlockNode& node, bool want_zero, int64_t offset, int64_t bytes) = nullptr;
    Result<void> (*truncate)(BlockNode& node, int64_t offset, Prealloc prealloc) = nullptr;
    Result<int64_t> (*get_length)(BlockNode& node) = nullptr;
    Result<DriverInfo> (*get_info)(BlockNode& node) = nullptr;
    // bdrv_get_specific_info: QEMU's ImageInfoSpecific as JSON in QAPI member order,
    // {"type": "vmdk", "data": {...}}; nullopt when the format has nothing to add.
    Result<std::optional<JsonValue>> (*get_specific_info)(BlockNode& node) = nullptr;
    // query-blockstats' driver-specific part (file and host_device).
    DiscardStats (*discard_stats)(BlockNode& node) = nullptr;
    // Bytes the node occupies on the host (protocols; formats add up their children).
    Result<int64_t> (*get_allocated_file_size)(BlockNode& node) = nullptr;
    Result<void> (*create)(const OpenContext& context, const CreateOptions& options) = nullptr;
    // The options create understands, in QEMU's table order ("size" included).
    std::span<const CreateOptionDesc> create_opts;
    // bdrv_measure: the host bytes an image of `virtual_size` bytes needs.
    Result<MeasureInfo> (*measure)(int64_t virtual_size) = nullptr;
    // The warning a writable image of this format gets when the format was only guessed
    // (raw: writes to block 0 are restricted); empty for formats that are safe to guess.
    std::string (*probed_write_warning)(const std::string& filename) = nullptr;
    Result<CheckResult> (*check)(BlockNode& node, bool fix) = nullptr;
    // Permission changes: check first (may refuse), then apply. Protocols lock here.
    Result<void> (*check_perm)(BlockNode& node, uint64_t perm, uint64_t shared) = nullptr;
    void (*set_perm)(BlockNode& node, uint64_t perm, uint64_t shared) = nullptr;
    // BLKDBG_EVENT: an event raised on this node by the layer above it, or by the generic
    // layer for this node's own writes and flushes (blkdebug acts on them).
    void (*debug_event)(BlockNode& node, BlkdebugEvent event) = nullptr;
    // bl.request_alignment, where a driver needs more than byte granularity (blkdebug's
    // align): the generic layer pads every read and write to it.
    uint64_t (*request_alignment)(const BlockNode& node) = nullptr;
    // qemu-io's break, remove_break, resume and wait_break (bdrv_debug_*): 0 or -errno.
    int (*debug_breakpoint)(BlockNode& node, std::string_view event, std::string_view tag) = nullptr;
    int (*debug_remove_breakpoint)(BlockNode& node, std::string_view tag) = nullptr;
    int (*debug_resume)(BlockNode& node, std::string_view tag) = nullptr;
    bool (*debug_is_suspended)(BlockNode& node, std::string_view tag) = nullptr;
    // Resumes every request that waits at a breakpoint, printing QEMU's Resuming line for
    // each (a drain that would otherwise wait for them forever).
    void (*debug_resume_parked)(BlockNode& node) = nullptr;
    // blockdev-reopen put `now` where the child `old` was (the "file" child): a driver that
    // keeps pointers to its file (vmdk's extents) moves them. Drivers that ask node.file()
    // at each use need nothing.
    void (*child_replaced)(BlockNode& node, BlockNode& old, BlockNode& now) = nullptr;
    // bdrv_child_perm beyond the defaults its role gives: adjusts `perm` and `shared`, what
    // the node takes on `child`, given what the node's own users hold (`parent_perm`).
    void (*child_perm)(const BlockNode& node, const BdrvChild& child, uint64_t parent_perm, uint64_t& perm,
        uint64_t& shared) = nullptr;
};

// What a child is to its parent (BdrvChildRole); the permissions the parent takes on it
// follow from it (bdrv_default_perms).
namespace child_role {
constexpr unsigned kData = 1 << 0;  // holds guest data
constexpr unsigned kMetadata = 1 << 1;  // holds the parent's metadata, written even without writers
constexpr unsigned kFiltered = 1 << 2;  // the parent passes every request through to it
constexpr unsigned kCow = 1 << 3;  // a backing file
constexpr unsigned kPrimary = 1 << 4;
constexpr unsigned kImage = kData | kMetadata;
}  // namespace child_role

struct BdrvChild {
    std::string name;  // "file", later "backing", "extents.0", ...
    std::shared_ptr<BlockNode> node;
    unsigned role = child_role::kImage | child_role::kPrimary;
    // The parent opened this node from its own options (QEMU's inherits_from): a reopen of
    // the parent reaches it. A node named by reference keeps its options whatever its
    // parents become.
    bool inherits = false;
};

class BlockGraph;

// One node of the graph. It owns its children; the graph only indexes it by name.
class BlockNode : public std::enable_shared_from_this<BlockNode> {
public:
    BlockNode(BlockGraph& graph, const BlockDriver& driver, std::string node_name, OpenFlags flags);
    ~BlockNode();
    BlockNode(const BlockNode&) = delete;
    BlockNode& operator=(const BlockNode&) = delete;

    const BlockDriver& driver() const { return *m_driver; }
    const std::string& node_name() const { return m_node_name; }
    const OpenFlags& flags() const { return m_flags; }
    OpenFlags& mutable_flags() { return m_flags; }
    bool read_only() const { return !m_flags.read_write; }
    BlockGraph& graph() { return m_graph; }

    // The name the image was opened under (the protocol's filename).
    const std::string& filename() const { return m_filename; }
    void set_filename(std::string name) { m_filename = std::move(name); }

    // The driver's own options the node was opened with (protocols include "filename"),
    // what a reopen may not change unless the driver's reopen takes the key.
    const BlockOptions& open_options() const { return m_open_options; }
    void set_open_options(BlockOptions options) { m_open_options = std::move(options); }

    template <typename T> T& state() { return static_cast<T&>(*m_state); }
    template <typename T> const T& state() const { return static_cast<const T&>(*m_state); }
    void set_state(std::unique_ptr<DriverState> state) { m_state = std::move(state); }

    // The backing file the image itself names (bs->backing_file and bs->backing_format), as
    // written in the image; empty when it names none. Set by the driver's open.
    const std::string& backing_file() const { return m_backing_file; }
    const std::string& backing_format() const { return m_backing_format; }
    void set_backing_file(std::string name, std::string format)
    {
        m_backing_file = std::move(name);
        m_backing_format = std::move(format);
    }
    BlockNode* backing() const { return child("backing"); }
    // How the op blocker of its backing child names this node (bs->backing_blocker): its
    // device's or its own name as it was when that child was attached.
    const std::string& backing_holder() const { return m_backing_holder; }
    void set_backing_holder(std::string name) { m_backing_holder = std::move(name); }
    // Counts up as the graph names nodes (QEMU's graph_bdrv_states order).
    uint64_t serial() const { return m_serial; }
    // bs->wr_highest_offset: where the furthest write (or write-zeroes) request this node
    // received ended, whether or not it succeeded; query-blockstats reports it.
    int64_t wr_highest_offset() const { return m_wr_highest_offset.load(std::memory_order_relaxed); }
    void note_write_end(int64_t end);
    // A write or write-zeroes of [offset, offset + bytes) reached this node: the highest
    // offset, the write threshold and the dirty bitmaps learn of it.
    void note_write(int64_t offset, int64_t bytes)
    {
        note_write_end(offset + bytes);
        m_dirty_bitmaps.note_write(offset, bytes);
    }
    // block-dirty-bitmap-add's bitmaps on this node.
    DirtyBitmaps& dirty_bitmaps() { return m_dirty_bitmaps; }
    // block-set-write-threshold (bs->write_threshold_offset): the first write or discard
    // reaching past it is reported through the graph's on_write_threshold and switches it
    // off again; 0 is none.
    uint64_t write_threshold() const { return m_write_threshold.load(std::memory_order_relaxed); }
    void set_write_threshold(uint64_t offset) { m_write_threshold.store(offset, std::memory_order_relaxed); }
    void check_write_threshold(int64_t end);
    // bdrv_backing_overridden: the backing child is not what the image names (a node given
    // by reference whose name differs, or none where the image names one because the user
    // said "backing": null). QEMU's json: names then spell the backing out.
    bool backing_overridden() const;
    // The backing child was opened from the name in the image (bs->auto_backing_file).
    void set_auto_backing_file(std::string name) { m_auto_backing_file = std::move(name); }
    // "backing": null was given (at open or by blockdev-reopen).
    void set_backing_nulled(bool nulled) { m_backing_nulled = nulled; }

    std::span<BdrvChild> children() { return m_children; }
    // What `user` (a backend, or a parent node for its child) holds on this node and what
    // it shares; nothing held is {0, all}.
    std::pair<uint64_t, uint64_t> perm_of(const void* user) const
    {
        auto it = m_users.find(user);
        return it == m_users.end() ? std::pair<uint64_t, uint64_t>{0, perm::kAll}
                                   : std::pair{it->second.perm, it->second.shared};
    }
    BlockNode* child(std::string_view name) const;
    // The link to the child called `name` (its role, whether it inherits), or nullptr.
    const BdrvChild* child_link(std::string_view name) const;
    BlockNode* file() const { return child("file"); }
    // bdrv_primary_child: the child holding the node's data (`file`, or a filter's
    // `image`), where the generic layer raises this node's flush events.
    BlockNode* primary_child() const;
    // Raises a blkdebug event on this node (a no-op unless its driver acts on events).
    void debug_event(BlkdebugEvent event);
    // Whether a FUA write reaches the disk through this node without a flush after it:
    // the driver passes the flag on and, for a format, the child it goes to does too.
    bool passes_fua() const;
    void add_child(std::string name, std::shared_ptr<BlockNode> node, unsigned role);
    // A driver's open that finds its child is not what the default role said (raw with an
    // offset holds data, not a filtered image; a vmdk descriptor file holds no data).
    void set_child_role(std::string_view name, unsigned role);

    // The union of what every user of the node holds, and what all of them share.
    uint64_t perm() const { return m_perm; }
    // blockdev-reopen marks each writable node it makes read-only while it refreshes the
    // permissions (QEMU's bdrv_is_writable_after_reopen).
    void set_leaving_read_write(bool leaving) { m_leaving_read_write = leaving; }
    uint64_t shared_perm() const { return m_shared; }

    // The generic layer (bdrv_co_*): length in whole sectors, EOF and zero handling,
    // fallbacks where a driver lacks an operation.
    Result<int64_t> length();
    Result<void> preadv(int64_t offset, std::span<const iovec> iov, RequestFlags flags = {});
    Result<void> pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags = {});
    Result<void> pread(int64_t offset, std::span<uint8_t> buf);
    Result<void> pwrite(int64_t offset, std::span<const uint8_t> buf, RequestFlags flags = {});
    // The driver's prepare_write (false without one); safe beside the node's requests.
    bool prepare_write(int64_t offset, std::span<const uint8_t> data, PreparedWrite& out);
    Result<void> pwrite_zeroes(int64_t offset, int64_t bytes, RequestFlags flags = {});
    Result<void> discard(int64_t offset, int64_t bytes);
    Result<void> flush();
    Result<void> truncate(int64_t offset, Prealloc prealloc = Prealloc::Off);
    // The same requests started asynchronously (block/io-aio.cc): `done` runs at a later
    // poll of ctx, on ctx's thread. The node and the buffers must stay until it has run.
    void aio_preadv(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done);
    void aio_pwritev(AioContext& ctx, int64_t offset, std::span<const iovec> iov, RequestFlags flags, AioCallback done);
    void aio_flush(AioContext& ctx, AioCallback done);
    // bdrv_co_block_status, following kRaw down to the child that knows.
    Result<BlockStatus> block_status(bool want_zero, int64_t offset, int64_t bytes);
    // bdrv_is_allocated: whether [offset, offset+*bytes) is allocated in this layer.
    Result<bool> is_allocated(int64_t offset, int64_t bytes, int64_t* pnum);
    Result<DriverInfo> info();
    // bdrv_get_allocated_file_size: the driver's answer, or the sum over the children.
    Result<int64_t> allocated_file_size();

private:
    friend class BlockGraph;

    BlockGraph& m_graph;
    const BlockDriver* m_driver;
    std::string m_node_name;
    std::string m_filename;
    BlockOptions m_open_options;
    std::string m_backing_file;
    std::string m_backing_format;
    std::optional<std::string> m_auto_backing_file;
    std::string m_backing_holder;
    uint64_t m_serial = 0;  // the order the graph named the nodes in
    bool m_backing_nulled = false;
    // Opened by BlockGraph::open_child from a parent's options, not attached yet: the
    // first add_child makes the child inherit from that parent.
    bool m_opened_as_child = false;
    // Set while a blockdev-reopen makes this writable node read-only: a writer it still
    // has is then refused with QEMU's text for that case.
    bool m_leaving_read_write = false;
    OpenFlags m_flags;
    std::unique_ptr<DriverState> m_state;
    std::vector<BdrvChild> m_children;
    // Users (parent nodes, backends) and what each holds and shares; how errors name
    // them, and the order they came in (the newest is asked first, as in QEMU's list).
    struct PermUse {
        uint64_t perm;
        uint64_t shared;
        PermUser who;
        uint64_t serial;
    };
    std::map<const void*, PermUse> m_users;
    std::atomic<int64_t> m_wr_highest_offset{0};
    DirtyBitmaps m_dirty_bitmaps;
    std::atomic<uint64_t> m_write_threshold{0};
    uint64_t m_perm = 0;
    uint64_t m_shared = perm::kAll;
    // Taken around the driver's operations as driver().concurrency asks (block/io.cc).
    std::shared_mutex m_request_lock;
    // Changes made (write_gen) and the count the last flush covered (bs->write_gen and
    // flushed_gen): a flush with nothing new since the last one skips the driver.
    std::atomic<uint64_t> m_write_gen{0};
    std::atomic<uint64_t> m_flushed_gen{0};
    void note_change() { ++m_write_gen; }
    // The driver's write, with FUA done by a flush when the driver cannot pass it on.
    Result<void> driver_pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags);
    // The driver's request alignment (1 without one).
    uint64_t request_alignment() const;
    // pwritev of a request the alignment does not fit: reads the head and tail blocks, then
    // writes the whole aligned range.
    Result<void> padded_pwritev(int64_t offset, std::span<const iovec> iov, RequestFlags flags, uint64_t align);
    // After a driver's write: counts the change and flushes for FUA where the driver could not.
    Result<void> finish_write(bool emulate_fua, bool durable);
    // pwrite_zeroes without its events: the driver's zeroing, or writes of zeroes.
    Result<void> zero_range(int64_t offset, int64_t bytes, RequestFlags flags);

    using RequestGuard =
        std::variant<std::monostate, std::shared_lock<std::shared_mutex>, std::unique_lock<std::shared_mutex>>;
    // What one driver operation holds of m_request_lock while it runs.
    RequestGuard guard_request(bool changes_image);
    // The same without waiting: nullopt when another request holds what this one needs.
    std::optional<RequestGuard> try_guard_request(bool changes_image);
    // An asynchronous request that found the lock taken: `retry` runs on ctx's thread once
    // the holder has let go (block/io-aio.cc).
    void retry_when_unlocked(AioContext& ctx, std::move_only_function<void()> retry);
};

// The graph: opens nodes, names them, finds them. An object owned by whoever runs the
// block layer (the emulator's Vm, a tool's main), never a global.
class BlockGraph {
public:
    explicit BlockGraph(OpenContext context = {}) : m_context(context) { }
    BlockGraph(const BlockGraph&) = delete;
    BlockGraph& operator=(const BlockGraph&) = delete;

    const OpenContext& context() const { return m_context; }

    // bdrv_open: filename and/or options ("driver", "node-name", "file.*", driver keys).
    // Without "driver" the format is probed from the protocol node's first bytes.
    // Warnings (the probed-raw one) go to `warn`, which defaults to stderr.
    Result<std::shared_ptr<BlockNode>> open(std::optional<std::string> filename, BlockOptions options, OpenFlags flags);

    // Sets what `user` (a backend, or a parent node) holds on node and shares with others,
    // and carries the node's new totals down to its children and into the image locks.
    // What one user holds that another refuses to share fails as QEMU's "Permission
    // conflict" does. On failure nothing changes.
    Result<void> set_perm(BlockNode& node, const PermUser& user, uint64_t perm, uint64_t shared);
    // The user is gone: its permissions no longer count.
    void drop_perm(BlockNode& node, const void* user);

    // bdrv_open_child: the child called `name` (QEMU's child names: "file", "extents.0", ...)
    // that `options` give, a reference to an existing node under the key `name` or a
    // subtree of options "name.*" (both taken out of options); without either, the protocol
    // node for `filename`. With neither options nor a filename: nullptr if allow_none,
    // else QEMU's "A block device must be specified for \"NAME\"". The caller adds it with
    // add_child.
    Result<std::shared_ptr<BlockNode>> open_child(BlockOptions& options, std::string_view name,
        std::optional<std::string> filename, OpenFlags flags, bool allow_none);

    BlockNode* find_node(std::string_view node_name) const;
    // After `node`'s children changed: its name and those of every node above it again.
    void refresh_filenames(BlockNode& node);
    // A node that has `node` as its backing child, or nullptr.
    BlockNode* backing_parent_of(const BlockNode& node) const;
    // Every link to `node` from a parent node: the parent and the child's name.
    std::vector<std::pair<BlockNode*, std::string>> parents_of(const BlockNode& node) const;
    // Counts the size changes made through the graph (truncate, reopen), so that a backend
    // may keep its root's length between them, as QEMU keeps bs->total_sectors.
    uint64_t resize_epoch() const { return m_resize_epoch.load(std::memory_order_acquire); }
    void note_resize() { m_resize_epoch.fetch_add(1, std::memory_order_acq_rel); }
    // Replaces `node`'s child called "backing" (nullptr removes it) or "file" (never
    // nullptr), blockdev-reopen's `backing` and `file`: the old one no longer holds this
    // node's permissions, the new one takes them, and a driver that keeps its file told
    // (child_replaced). When the new one cannot grant them, nothing changes. A node named
    // by reference does not inherit from `node`; `inherits` puts back one that did.
    Result<void> replace_child(
        BlockNode& node, const std::string& name, std::shared_ptr<BlockNode> with, bool inherits = false);
    std::vector<BlockNode*> nodes() const;
    // bdrv_refresh_perms: what node takes on its children again, from its users' totals,
    // its flags (a writable format writes its metadata) and each child's role, down the
    // graph. For after a node's flags or children changed.
    Result<void> refresh_perm(BlockNode& node);

    // A write or discard on `node` crossed its write threshold (BLOCK_WRITE_THRESHOLD):
    // the bytes beyond it and the threshold. Called on the thread that made the request.
    std::function<void(const BlockNode& node, uint64_t exceeded, uint64_t threshold)> on_write_threshold;

    // Where warnings go (tests capture them).
    void set_warning_sink(std::function<void(const std::string&)> sink) { m_warn = std::move(sink); }
    void warn(const std::string& text) const;

private:
    friend class BlockNode;
    // What the "backing" option of a copy-on-write node gave: a node name or options.
    struct BackingRequest {
        BlockOptions options;
        std::optional<std::string> reference;
    };
    // bdrv_open_backing_file: the child "backing" of a freshly opened node.
    Result<void> open_backing(BlockNode& node, BackingRequest request);
    Result<std::shared_ptr<BlockNode>> open_protocol(
        std::optional<std::string> filename, BlockOptions options, OpenFlags flags);
    Result<std::shared_ptr<BlockNode>> open_node(
        const BlockDriver& driver, std::string filename, BlockOptions options, OpenFlags flags);
    Result<std::string> take_node_name(BlockOptions& options);

    OpenContext m_context;
    std::map<std::string, BlockNode*, std::less<>> m_by_name;
    uint64_t m_node_serial = 0;
    uint64_t m_perm_serial = 0;  // orders the users of nodes (PermUse::serial)
    std::atomic<uint64_t> m_resize_epoch{0};
    uint64_t m_next_auto_name = 0;
    std::function<void(const std::string&)> m_warn;
};

// BLKDBG_EVENT(child, event): what a driver calls on the child it is about to use.
inline void blkdbg_event(BlockNode* child, BlkdebugEvent event)
{
    if (child) {
        child->debug_event(event);
    }
}

// The node qemu-io's breakpoint commands act on: the first down the primary children of
// `top` whose driver takes breakpoints, or nullptr.
BlockNode* find_debug_node(BlockNode& top);
// Lets every request parked at a breakpoint of that node go (a drain that nothing else
// could end: QEMU's would wait forever).
void resume_parked_requests(BlockNode& top);

// bdrv_co_block_status_above with base excluded: the status of the first layer from `top`
// down the backing chain (stopping above `base`, nullptr for the whole chain) that holds
// the range, or the last one asked. `depth` counts the layers asked (1: top answered).
struct BlockStatusAbove {
    BlockStatus status;
    int depth = 0;
    BlockNode* layer = nullptr;
};
Result<BlockStatusAbove> block_status_above(
    BlockNode& top, const BlockNode* base, bool want_zero, int64_t offset, int64_t bytes);

// bdrv_get_full_backing_filename: the backing file the node names, relative to the
// directory of the image's file (qemu_path_combine, so /dev/fdset/N/NAME names stay in
// set N); absolute names and "proto:" names as they are. Fails when the node names none.
Result<std::string> full_backing_filename(BlockNode& node);

// Takes the options every node has (read-only, auto-read-only, cache.*, force-share,
// discard, detect-zeroes) into flags.
Result<void> take_common_flags(BlockOptions& options, OpenFlags& flags);

// Splits "prefix.key" entries off options into a new map without the prefix.
BlockOptions extract_subtree(BlockOptions& options, std::string_view prefix);

// Option helpers in QEMU's wording ("Parameter 'x' expects ...").
Result<std::optional<bool>> take_bool(BlockOptions& options, std::string_view key);
Result<std::optional<uint64_t>> take_size(BlockOptions& options, std::string_view key);
std::optional<std::string> take_string(BlockOptions& options, std::string_view key);

}  // namespace qemu::block
