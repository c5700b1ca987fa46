// The fd-set registry: descriptors a management layer handed to the emulator (add-fd,
// -add-fd), grouped in numbered sets, and the duplicates of them that qemu_open() gave out
// for /dev/fdset/N. It follows QEMU 9.1's lifetime rules: members leave only through
// remove-fd, duplicates only when their QemuFd handle is destroyed (qemu_close), and a set
// lives while either list is non-empty. It is an object owned by the emulator; everything
// runs on the main loop thread.
//
// Our extension (README, "Our fd-set extensions"): /dev/fdset/N/NAME names a member by its
// opaque, or a file beneath a directory member; what it opens is lent like a duplicate.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/error.h"
#include "util/unique_fd.h"

namespace qemu {

struct FdSetMemberInfo {
    int fd;
    std::optional<std::string> opaque;
};

struct FdSetInfo {
    int64_t id;
    std::vector<FdSetMemberInfo> fds;  // oldest first
};

class FdSetRegistry {
public:
    FdSetRegistry() = default;
    FdSetRegistry(const FdSetRegistry&) = delete;
    FdSetRegistry& operator=(const FdSetRegistry&) = delete;

    // add-fd: stores fd in set `id` (created if needed) or, without an id, in a new set with
    // the lowest free id. Returns the set id. A negative id is refused and fd closed.
    Result<int64_t> add(std::optional<int64_t> id, UniqueFd fd, std::optional<std::string> opaque);

    // remove-fd: closes the member fd (or every member) of the set at once.
    Result<void> remove(int64_t id, std::optional<int64_t> fd);

    // query-fdsets order: sets by descending id, members oldest first. Duplicates are not listed.
    std::vector<FdSetInfo> query() const;

    // qemu_open("/dev/fdset/N"): duplicates the newest member whose access mode and O_DIRECT
    // bit match flags. The caller must hand the fd back through release_dup().
    Result<UniqueFd> dup_member(int64_t id, int flags);
    // qemu_open("/dev/fdset/N/NAME"): duplicates the newest member whose opaque is exactly
    // name and whose access mode and O_DIRECT match; if no member is called name, opens the
    // rest of name beneath the directory member called by its longest prefix (open_beneath).
    // Either fd is lent like a duplicate: hand it back through release_dup().
    Result<UniqueFd> open_named(int64_t id, std::string_view name, int flags, mode_t mode);
    // Lends fd from the set that lent `lent_fd`, so a file opened beneath a lent directory
    // keeps the set alive as a duplicate does. False (fd untracked) if lent_fd is not lent.
    bool lend_beside(int lent_fd, int fd);
    // qemu_close of a duplicate: forgets and closes it, and frees its set if now empty.
    // Returns false if fd is not a duplicate handed out by this registry (it is closed anyway).
    bool release_dup(UniqueFd fd);

    size_t set_count() const { return m_sets.size(); }
    bool has_set(int64_t id) const { return m_sets.contains(id); }

private:
    struct Member {
        UniqueFd fd;
        std::optional<std::string> opaque;
    };
    struct FdSet {
        std::vector<Member> members;  // oldest first
        size_t dup_count = 0;
    };

    // The newest member that matches (opaque == *name, if given) and whose access mode and
    // O_DIRECT match flags; nullptr if none does.
    Result<const Member*> find_member(const FdSet& set, std::optional<std::string_view> name, int flags) const;
    // Duplicates member with QEMU's flag handling and records the duplicate as lent by set id.
    Result<UniqueFd> lend_dup(int64_t id, FdSet& set, const Member& member, int flags);
    void lend(int64_t id, FdSet& set, int fd);
    int64_t lowest_free_id() const;
    void free_if_empty(std::map<int64_t, FdSet>::iterator it);

    std::map<int64_t, FdSet> m_sets;
    // Duplicate fd number -> its set, so qemu_close does not scan every set.
    std::unordered_map<int, int64_t> m_dup_owner;
};

}  // namespace qemu
