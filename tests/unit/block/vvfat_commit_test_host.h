// The host side of the vvfat committer's tests: a scratch directory "share" inside a fresh
// temporary parent that also holds a sentinel file, a recursive snapshot of a directory
// (names, kinds, contents, link targets) to compare before and after a commit, and a
// fixture that keeps an image, the host directory and a committer together.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/block/vvfat_commit_test_fat.h"
#include "util/unique_fd.h"

namespace vvfat_test {

namespace fs = std::filesystem;
using qemu::block::vvfat::CommitOutcome;
using qemu::block::vvfat::FatCommitter;

inline std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_file(const fs::path& p, const std::string& data)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

// path relative to root -> "file:<contents>", "dir", "link:<target>", "other".
using Snapshot = std::map<std::string, std::string>;

inline Snapshot snapshot(const fs::path& root)
{
    Snapshot snap;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        std::string rel = it->path().lexically_relative(root).string();
        if (it->is_symlink()) {
            snap[rel] = "link:" + fs::read_symlink(it->path()).string();
        } else if (it->is_directory()) {
            snap[rel] = "dir";
        } else if (it->is_regular_file()) {
            snap[rel] = "file:" + read_file(it->path());
        } else {
            snap[rel] = "other";
        }
    }
    return snap;
}

// A string of n bytes that differs at every position from its neighbours' patterns.
inline std::string pattern(size_t n, char seed)
{
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(seed + (i * 7) % 61);
    }
    return s;
}

class CommitFixture : public ::testing::Test {
protected:
    void SetUp() override { set_up(small_geometry()); }
    void TearDown() override
    {
        committer.reset();
        dir_fd.reset();
        std::error_code ec;
        fs::permissions(share, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(parent, ec);
    }

    void set_up(const FatGeometry& g)
    {
        char templ[] = "/tmp/vvfat-commit-test-XXXXXX";
        ASSERT_NE(mkdtemp(templ), nullptr);
        parent = templ;
        share = parent / "share";
        fs::create_directory(share);
        write_file(parent / "sentinel", "outside");
        fs::create_directory(parent / "outside");
        write_file(parent / "outside" / "victim", "keep me");
        image.emplace(g);
    }

    // The same file in the image and on the host (dir_path: its host folder, "" for root).
    uint32_t seed_file(uint32_t dir, const std::string& dir_path, const std::string& name, const std::string& data)
    {
        write_file(share / dir_path / name, data);
        return image->add_file(dir, name, data);
    }
    uint32_t seed_dir(uint32_t dir, const std::string& dir_path, const std::string& name)
    {
        fs::create_directory(share / dir_path / name);
        return image->make_dir(dir, name);
    }

    // The committer over the image as it is now; the writes so far become the baseline.
    void start()
    {
        dir_fd = qemu::UniqueFd(open(share.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(dir_fd.valid());
        image->dirty.clear();
        auto created = FatCommitter::create(image->geometry(), dir_fd.get(), *image);
        ASSERT_TRUE(created) << created.error().desc;
        committer.emplace(std::move(*created));
        before = snapshot(parent);
    }

    // From now on every write to the image is followed by a commit attempt whose outcome is
    // not checked, as in QEMU. A guest's change is many writes, and the committer (like
    // QEMU) never commits while a cluster the guest wrote belongs to no file: only commits
    // at the intermediate consistent states let such clusters be forgotten.
    void commit_after_every_write()
    {
        image->after_write = [this] { (void)commit(); };
    }

    // try_commit; clears the dirty set after a Committed outcome, as the driver will.
    qemu::Result<CommitOutcome> commit()
    {
        auto outcome = committer->try_commit(*image, image->dirty);
        if (outcome && outcome->committed()) {
            image->dirty.clear();
        }
        return outcome;
    }

    void expect_committed()
    {
        auto outcome = commit();
        ASSERT_TRUE(outcome) << outcome.error().desc;
        EXPECT_TRUE(outcome->committed()) << outcome->reason;
    }

    // Not consistent, and nothing on the host (or beside it) changed.
    void expect_refused()
    {
        auto outcome = commit();
        ASSERT_TRUE(outcome) << outcome.error().desc;
        EXPECT_FALSE(outcome->committed());
        EXPECT_FALSE(outcome->reason.empty());
        EXPECT_EQ(snapshot(parent), before);
    }

    Snapshot share_snapshot() const { return snapshot(share); }

    fs::path parent;
    fs::path share;
    std::optional<FatImage> image;
    qemu::UniqueFd dir_fd;
    std::optional<FatCommitter> committer;
    Snapshot before;
};

}  // namespace vvfat_test
