// libFuzzer target: arbitrary bytes as vmdk. First the codecs (vmdk-codec.h) see them
// directly: as a stored grain of several sizes, with and without a marker, as a stream
// footer, as seSparse and COWD headers and table entries. Then the bytes become an extent
// file in a memfd, opened through the block layer as vmdk read-only and read-write (a
// seSparse extent through a descriptor the harness writes, since seSparse has no other
// way in), read in a few places, written, block-status-walked and checked.
//
// The driver opens every file a descriptor names, and a vmdk4 header with capacity 0 makes
// its file a descriptor; a fuzzed descriptor naming "/etc/passwd" opened read-write would
// be written to. So inputs that could be read as descriptor text, or that name a backing
// file, are only given to the codecs, never opened: only extent files the harness controls
// are opened. Nothing may crash, touch memory outside its buffers, or leak memory or
// descriptors.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "block/block.h"
#include "block/vmdk/vmdk-codec.h"
#include "tests/fuzz/fuzz-support.h"
#include "util/bswap.h"
#include "util/unique_fd.h"

namespace {

using namespace qemu::block;
namespace vmdk = qemu::block::vmdk;

using qemu::fuzz::check;
using qemu::fuzz::open_fd_count;

uint64_t le_at(std::span<const uint8_t> in, size_t at, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width && at + i < in.size(); ++i) {
        value |= uint64_t{in[at + i]} << (8 * i);
    }
    return value;
}

std::array<uint8_t, 512> sector_at(std::span<const uint8_t> in, size_t at)
{
    std::array<uint8_t, 512> sector{};
    if (at < in.size()) {
        std::memcpy(sector.data(), in.data() + at, std::min<size_t>(512, in.size() - at));
    }
    return sector;
}

// ---- the codecs on their own ----------------------------------------------------------------

void fuzz_codecs(std::span<const uint8_t> in)
{
    // Grains of 512 B to 64 KiB; the output buffer sits between guard bytes that must stay.
    static constexpr size_t kGuard = 64;
    size_t grain = size_t{512} << (in.empty() ? 0 : in[in.size() - 1] % 8);
    std::vector<uint8_t> buf(grain + 2 * kGuard, 0xa5);
    std::span<uint8_t> out(buf.data() + kGuard, grain);
    for (bool marker : {true, false}) {
        auto produced = vmdk::inflate_grain(in, out, marker);
        if (produced) {
            check(*produced <= grain);
        } else {
            check(produced.error().errno_value == EINVAL);
        }
        auto whole = vmdk::decompress_grain(in, out, marker);
        check(whole.has_value() == (produced && *produced == grain));
        // libdeflate (the fast path) must accept exactly what zlib accepts, with its bytes.
        std::vector<uint8_t> fast(grain);
        std::vector<uint8_t> reference(grain);
        auto by_libdeflate = vmdk::inflate_grain(in, fast, marker);
        auto by_zlib = vmdk::inflate_grain_zlib(in, reference, marker);
        check(by_libdeflate.has_value() == by_zlib.has_value());
        if (by_libdeflate && by_zlib) {
            check(*by_libdeflate == *by_zlib &&
                std::equal(fast.begin(), fast.begin() + static_cast<ptrdiff_t>(*by_zlib), reference.begin()));
        }
    }
    for (size_t i = 0; i < kGuard; ++i) {
        check(buf[i] == 0xa5 && buf[kGuard + grain + i] == 0xa5);
    }

    // Whatever was inflated must come back through compress_grain unchanged.
    if (auto produced = vmdk::inflate_grain(in, out, true); produced && *produced > 0) {
        std::vector<uint8_t> data(out.begin(), out.begin() + static_cast<ptrdiff_t>(*produced));
        auto stored = vmdk::compress_grain(le_at(in, 0, 8), data, true);
        check(stored.has_value() && stored->size() % 512 == 0);
        std::vector<uint8_t> again(grain);
        auto back = vmdk::inflate_grain(*stored, again, true);
        check(back && *back == data.size() && std::equal(data.begin(), data.end(), again.begin()));
    }

    if (in.size() >= 1536) {
        auto header = vmdk::parse_stream_footer(in.last(1536));
        check(header || header.error().desc == "Invalid footer");
    }
    (void)vmdk::parse_stream_footer(in.first(std::min<size_t>(in.size(), 1535)));

    auto s0 = sector_at(in, 0);
    auto s1 = sector_at(in, 512);
    auto se = vmdk::parse_sesparse_const_header(s0);
    check(se || !se.error().desc.empty());
    auto vol = vmdk::check_sesparse_volatile_header(s1);
    check(vol || !vol.error().desc.empty());
    auto cowd = vmdk::parse_cowd_header(s0);
    check(!cowd || (cowd->granularity > 0 && cowd->granularity <= 0x200000));
    for (size_t at = 0; at + 8 <= std::min<size_t>(in.size(), 512); at += 8) {
        uint64_t entry = le_at(in, at, 8);
        auto gd = vmdk::decode_sesparse_gd_entry(entry);
        if (gd && gd->has_value()) {
            check(**gd <= 0xffffffffULL);
            (void)vmdk::sesparse_gt_sector(le_at(in, 512, 8), **gd);
        }
        auto gte = vmdk::decode_sesparse_gte(entry);
        check(gte || gte.error().errno_value == EIO);
    }
}

// ---- the driver -------------------------------------------------------------------------------

// Bounds that keep one run small where QEMU would allocate or walk what the header says.
constexpr uint64_t kMaxL1Entries = 1 << 16;
constexpr uint64_t kMaxFuzzGrainSectors = 4096;  // 2 MiB; larger valid grains are skipped
constexpr uint64_t kMaxCheckGrains = 1 << 16;

enum class Kind { Skip, Vmdk4, Cowd, SeSparse };

bool has_text(std::span<const uint8_t> in, std::string_view text)
{
    return std::search(in.begin(), in.end(), text.begin(), text.end()) != in.end();
}

// Which way the bytes may be opened, given what the driver would do with them.
Kind classify(std::span<const uint8_t> in, uint64_t& grains)
{
    // The embedded descriptor may name a backing file, which would be opened by name.
    if (in.size() < 512 || has_text(in, "parentFileNameHint")) {
        return Kind::Skip;
    }
    grains = 0;
    if (std::memcmp(in.data(), "KDMV", 4) == 0) {
        uint64_t capacity = le_at(in, 12, 8);
        uint64_t granularity = le_at(in, 20, 8);
        uint64_t gtes = le_at(in, 44, 4);
        // Capacity 0 with a descriptor offset: the file is a descriptor (extents by name).
        if (capacity == 0 && le_at(in, 28, 8) != 0) {
            return Kind::Skip;
        }
        // "GD at end": the real header is in the footer, which the driver reads; apply the
        // same bounds to it.
        if (le_at(in, 56, 8) == ~0ULL && in.size() >= 1536) {
            auto tail = in.last(1536).subspan(512);
            if (std::memcmp(tail.data(), "KDMV", 4) == 0) {
                capacity = le_at(tail, 12, 8);
                granularity = le_at(tail, 20, 8);
                gtes = le_at(tail, 44, 4);
            }
        }
        if (granularity > kMaxFuzzGrainSectors && granularity <= 0x200000) {
            return Kind::Skip;
        }
        uint64_t per_l1 = gtes * granularity;
        if (per_l1 != 0 && gtes <= 512 && granularity <= 0x200000 && capacity / per_l1 >= kMaxL1Entries) {
            return Kind::Skip;
        }
        grains = granularity ? capacity / granularity : 0;
        return Kind::Vmdk4;
    }
    if (std::memcmp(in.data(), "COWD", 4) == 0) {
        uint64_t granularity = le_at(in, 16, 4);
        if ((granularity > kMaxFuzzGrainSectors && granularity <= 0x200000) || le_at(in, 24, 4) > kMaxL1Entries) {
            return Kind::Skip;
        }
        grains = granularity ? le_at(in, 12, 4) / granularity : 0;
        return Kind::Cowd;
    }
    if (le_at(in, 0, 8) == 0xcafebabeULL) {
        if (le_at(in, 136, 8) > kMaxL1Entries / 64) {  // 64 entries per directory sector
            return Kind::Skip;
        }
        grains = le_at(in, 16, 8) / 8;
        return Kind::SeSparse;
    }
    return Kind::Skip;
}

void exercise(BlockNode& node, std::span<const uint8_t> in, uint64_t grains)
{
    auto length = node.length();
    check(length || !length.error().desc.empty());
    if (!length || *length <= 0) {
        return;
    }
    int64_t len = *length;
    uint64_t seed = le_at(in, in.size() - std::min<size_t>(in.size(), 8), 8);
    std::vector<uint8_t> buf(3 * 4096);
    for (int i = 0; i < 3; ++i) {
        int64_t at = static_cast<int64_t>((seed >> (i * 16)) % static_cast<uint64_t>(len)) / 512 * 512;
        int64_t n = std::min<int64_t>(len - at, static_cast<int64_t>(buf.size()));
        auto read = node.pread(at, std::span(buf).first(static_cast<size_t>(n)));
        check(read || !read.error().desc.empty());
    }
    for (int64_t at = 0, steps = 0; at < len && steps < 64; ++steps) {
        auto st = node.block_status(true, at, len - at);
        if (!st) {
            check(!st.error().desc.empty());
            break;
        }
        check(st->bytes > 0 && st->bytes <= len - at);
        at += st->bytes;
    }
    if (!node.read_only()) {
        // A 64 KiB aligned write (a whole default grain, what a stream extent accepts)
        // and a small unaligned one.
        std::vector<uint8_t> pattern(65536, 0x5a);
        int64_t at = static_cast<int64_t>((seed >> 8) % static_cast<uint64_t>(len)) / 65536 * 65536;
        int64_t n = std::min<int64_t>(len - at, 65536);
        auto wrote = node.pwrite(at, std::span<const uint8_t>(pattern).first(static_cast<size_t>(n)));
        check(wrote || !wrote.error().desc.empty());
        at = static_cast<int64_t>((seed >> 32) % static_cast<uint64_t>(len)) / 512 * 512;
        n = std::min<int64_t>(len - at, 1536);
        wrote = node.pwrite(at, std::span<const uint8_t>(pattern).first(static_cast<size_t>(n)));
        check(wrote || !wrote.error().desc.empty());
        auto read = node.pread(at, std::span(buf).first(static_cast<size_t>(n)));
        check(read || !read.error().desc.empty());
    }
    if (node.driver().check && grains <= kMaxCheckGrains) {
        (void)node.driver().check(node, false);
    }
}

struct Memfd {
    qemu::UniqueFd fd;
    std::string name;
};

Memfd make_memfd(const char* tag, std::span<const uint8_t> bytes)
{
    Memfd m{qemu::UniqueFd(memfd_create(tag, MFD_CLOEXEC)), {}};
    check(m.fd.valid());
    check(bytes.empty() || ::write(m.fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    m.name = "/proc/self/fd/" + std::to_string(m.fd.get());
    return m;
}

void fuzz_driver(std::span<const uint8_t> in)
{
    uint64_t grains = 0;
    Kind kind = classify(in, grains);
    if (kind == Kind::Skip) {
        return;
    }
    Memfd image = make_memfd("fuzz-vmdk", in);
    std::string to_open = image.name;
    Memfd descriptor;
    if (kind == Kind::SeSparse) {
        // The harness's own descriptor, naming only the memfd (absolute, so nothing is
        // resolved against a directory).
        std::string text = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
                           "createType=\"seSparse\"\n\n# Extent description\nRW 2048 SESPARSE \"" +
            image.name + "\"\n";
        descriptor = make_memfd("fuzz-vmdk-desc", {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
        to_open = descriptor.name;
    }
    BlockGraph graph;
    graph.set_warning_sink([](const std::string&) {});
    for (bool read_write : {false, true}) {
        BlockOptions options;
        options.emplace("driver", "vmdk");
        options.emplace("file.locking", "off");
        auto node = graph.open(to_open, std::move(options), OpenFlags{.read_write = read_write});
        if (node) {
            exercise(**node, in, grains);
        } else {
            check(!node.error().desc.empty());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    int before = open_fd_count();
    std::span<const uint8_t> in(data, size);
    fuzz_codecs(in);
    fuzz_driver(in);
    check(open_fd_count() == before);  // a descriptor outlived its image
    return 0;
}
