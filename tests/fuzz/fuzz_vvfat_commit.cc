// libFuzzer target: the vvfat committer (block/vvfat/commit) against arbitrary guest
// writes. Byte 0 picks the FAT type of a small partition, and whether to try a commit after
// every changed sector or once at the end. The partition's baseline (a file of several
// clusters, an empty file, a directory with a file, made with the unit tests' FAT writer)
// also exists in a scratch directory; the remaining bytes overwrite the partition from its
// first FAT onwards (FATs, root directory, directory and data clusters), every sector they
// change counting as written.
//
// Whatever the bytes, nothing outside the scratch directory may change (a sentinel file
// beside it, a directory with a file outside it, the parent's listing), no fd may leak, the
// scratch directory must hold exactly the entries the committer records (names, kinds,
// sizes) whether the commit succeeded, was refused or failed half-way, and after a
// Committed outcome a second try_commit of the same view must change nothing.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "block/vvfat/commit/fat-commit.h"
#include "tests/fuzz/fuzz-support.h"
#include "tests/unit/block/vvfat_commit_test_fat.h"
#include "util/unique_fd.h"

namespace {

namespace fs = std::filesystem;
using namespace qemu::block::vvfat;
using qemu::fuzz::check;
using qemu::fuzz::open_fd_count;

std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& data)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

// The parent's listing and every file outside the scratch directory, with contents.
std::map<std::string, std::string> outside_state(const fs::path& parent)
{
    std::map<std::string, std::string> state;
    for (auto it = fs::recursive_directory_iterator(parent); it != fs::recursive_directory_iterator(); ++it) {
        std::string rel = it->path().lexically_relative(parent).string();
        if (rel == "share" || rel.starts_with("share/")) {
            it.disable_recursion_pending();
            continue;
        }
        state[rel] = it->is_symlink() ? "link:" + fs::read_symlink(it->path()).string()
            : it->is_regular_file()   ? "file:" + read_file(it->path())
                                      : "dir";
    }
    return state;
}

struct Scratch {
    fs::path parent;
    fs::path share;
    std::map<std::string, std::string> outside;

    Scratch()
    {
        const char* tmp = getenv("TMPDIR");
        std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/fuzz-vvfat-commit-XXXXXX";
        check(mkdtemp(templ.data()) != nullptr);
        parent = templ;
        share = parent / "share";
        write_file(parent / "sentinel", "beside the directory");
        fs::create_directory(parent / "outside");
        write_file(parent / "outside" / "victim", "outside the directory");
        fs::create_directory(share);
        outside = outside_state(parent);
    }
    ~Scratch()
    {
        std::error_code ec;
        fs::remove_all(parent, ec);
    }
};

Scratch& scratch()
{
    static Scratch instance;
    return instance;
}

std::string pattern(size_t n, char seed)
{
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(seed + (i * 7) % 61);
    }
    return s;
}

// The baseline in a fresh image and a freshly emptied scratch directory.
vvfat_test::FatImage baseline(uint32_t fat_type, const fs::path& share)
{
    std::error_code ec;
    fs::remove_all(share, ec);
    fs::create_directory(share);
    // A way out the committer must never take: a symlink inside, pointing out, that the
    // guest does not see (the driver skips symlinks).
    fs::create_symlink("../outside/victim", share / "escape");
    vvfat_test::FatImage image(vvfat_test::small_geometry(fat_type, 1, 64, fat_type == 32));
    image.add_file(vvfat_test::kRoot, "file", pattern(1300, 'f'));
    write_file(share / "file", pattern(1300, 'f'));
    image.add_file(vvfat_test::kRoot, "empty", "");
    write_file(share / "empty", "");
    uint32_t sub = image.make_dir(vvfat_test::kRoot, "sub");
    fs::create_directory(share / "sub");
    image.add_file(sub, "inner", "inner");
    write_file(share / "sub" / "inner", "inner");
    image.dirty.clear();
    return image;
}

// The scratch directory must list exactly what the committer says it committed.
void check_matches_committed(const FatCommitter& committer, const fs::path& share)
{
    std::map<std::string, std::pair<bool, uint64_t>> host;
    for (auto it = fs::recursive_directory_iterator(share); it != fs::recursive_directory_iterator(); ++it) {
        std::string rel = it->path().lexically_relative(share).string();
        if (rel == "escape") {
            check(it->is_symlink());  // the guest never saw it, nothing may have replaced it
            continue;
        }
        check(!it->is_symlink());
        host[rel] = {it->is_directory(), it->is_directory() ? 0 : it->file_size()};
    }
    std::map<std::string, std::pair<bool, uint64_t>> committed;
    for (const CommittedEntry& e : committer.committed_entries()) {
        committed[e.path] = {e.is_directory, e.size};
    }
    check(host == committed);
}

// One try_commit and the checks that hold whatever its outcome.
void attempt_commit(FatCommitter& committer, vvfat_test::FatImage& image, const fs::path& share)
{
    auto outcome = committer.try_commit(image, image.dirty);
    // Committed, refused, or failed half-way (at the symlink): the committer's record of
    // the host is the host.
    check_matches_committed(committer, share);
    if (outcome && outcome->committed()) {
        image.dirty.clear();
        auto again = committer.try_commit(image, image.dirty);
        check(again.has_value() && again->committed() && again->host_changes == 0);
    }
}

void run(const uint8_t* data, size_t size)
{
    Scratch& s = scratch();
    int fds_before = open_fd_count();
    static constexpr uint32_t kTypes[] = {12, 16, 32};
    uint32_t fat_type = kTypes[data[0] % 3];
    vvfat_test::FatImage image = baseline(fat_type, s.share);
    {
        qemu::UniqueFd dir(open(s.share.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        check(dir.valid());
        auto committer = FatCommitter::create(image.geometry(), dir.get(), image);
        check(committer.has_value());

        // Only sectors whose bytes change count as written: a guest rewriting what is there
        // is no news, and marking the whole disk dirty would leave no state consistent.
        // Staged inputs commit after every changed sector, as QEMU does after every write,
        // so the committer also meets each intermediate state and builds on its own commits.
        const bool staged = (data[0] >> 2) & 1;
        size_t start = size_t{image.geometry().reserved_sectors} * 512;
        size_t length = std::min(size - 1, image.disk().size() - start);
        for (size_t at = 0; at < length; at += 512) {
            std::vector<uint8_t> sector(image.disk().begin() + start + at, image.disk().begin() + start + at + 512);
            size_t n = std::min<size_t>(512, length - at);
            if (std::memcmp(sector.data(), data + 1 + at, n) == 0) {
                continue;
            }
            std::memcpy(sector.data(), data + 1 + at, n);
            image.write_bytes(start + at, sector);
            if (staged) {
                attempt_commit(*committer, image, s.share);
            }
        }
        attempt_commit(*committer, image, s.share);
    }
    check(outside_state(s.parent) == s.outside);
    check(open_fd_count() == fds_before);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    run(data, size);
    return 0;
}
