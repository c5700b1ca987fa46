// The fd-set registry (see fdset.h for the rules it keeps).
#include "util/fdset.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace qemu {

Result<int64_t> FdSetRegistry::add(std::optional<int64_t> id, UniqueFd fd, std::optional<std::string> opaque)
{
    if (id && *id < 0) {
        // fd goes out of scope here: a refused fd is closed, as QEMU does.
        return make_error("Parameter 'fdset-id' expects a non-negative value");
    }
    int64_t set_id = id ? *id : lowest_free_id();
    FdSet& set = m_sets[set_id];
    set.members.push_back(Member{std::move(fd), std::move(opaque)});
    return set_id;
}

int64_t FdSetRegistry::lowest_free_id() const
{
    int64_t expected = 0;
    for (const auto& [id, set] : m_sets) {
        if (id != expected) {
            break;
        }
        expected++;
    }
    return expected;
}

void FdSetRegistry::free_if_empty(std::map<int64_t, FdSet>::iterator it)
{
    if (it->second.members.empty() && it->second.dup_count == 0) {
        m_sets.erase(it);
    }
}

Result<void> FdSetRegistry::remove(int64_t id, std::optional<int64_t> fd)
{
    auto not_found = [&] {
        std::string name = "fdset-id:" + std::to_string(id);
        if (fd) {
            name += ", fd:" + std::to_string(*fd);
        }
        return make_error("File descriptor named '" + name + "' not found");
    };
    auto it = m_sets.find(id);
    if (it == m_sets.end()) {
        return not_found();
    }
    auto& members = it->second.members;
    if (fd) {
        auto member = std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.fd.get() == *fd; });
        if (member == members.end()) {
            return not_found();
        }
        members.erase(member);  // closes it
    } else {
        members.clear();
    }
    free_if_empty(it);
    return {};
}

std::vector<FdSetInfo> FdSetRegistry::query() const
{
    std::vector<FdSetInfo> result;
    result.reserve(m_sets.size());
    for (auto it = m_sets.rbegin(); it != m_sets.rend(); ++it) {
        FdSetInfo info{it->first, {}};
        info.fds.reserve(it->second.members.size());
        for (const auto& member : it->second.members) {
            info.fds.push_back(FdSetMemberInfo{member.fd.get(), member.opaque});
        }
        result.push_back(std::move(info));
    }
    return result;
}

Result<UniqueFd> FdSetRegistry::dup_member(int64_t id, int flags)
{
    auto it = m_sets.find(id);
    if (it == m_sets.end()) {
        return std::unexpected(Error{ErrorClass::GenericError, "Failed to find fdset /dev/fdset/" + std::to_string(id), ENOENT});
    }
    const Member* member = TRY(find_member(it->second, std::nullopt, flags));
    if (!member) {
        char hex[32];
        std::snprintf(hex, sizeof(hex), "0x%x", static_cast<unsigned>(flags));
        return std::unexpected(Error{ErrorClass::GenericError,
            std::string("Failed to find file descriptor with matching flags=") + hex, EACCES});
    }
    return lend_dup(id, it->second, *member, flags);
}

Result<const FdSetRegistry::Member*> FdSetRegistry::find_member(
    const FdSet& set, std::optional<std::string_view> name, int flags) const
{
    // Since QEMU 9.1 O_DIRECT must match too, so that an O_DIRECT user gets its own open
    // file description instead of silently switching O_DIRECT on for everyone.
    constexpr int match_mask = O_ACCMODE | O_DIRECT;
    for (auto member = set.members.rbegin(); member != set.members.rend(); ++member) {
        if (name && member->opaque != *name) {
            continue;
        }
        int member_fd = member->fd.get();
        int member_flags = fcntl(member_fd, F_GETFL);
        if (member_flags < 0) {
            return std::unexpected(Error{ErrorClass::GenericError,
                                         "Failed to read file status flags for fd=" + std::to_string(member_fd), errno});
        }
        if ((member_flags & match_mask) == (flags & match_mask)) {
            return &*member;
        }
    }
    return nullptr;
}

Result<UniqueFd> FdSetRegistry::lend_dup(int64_t id, FdSet& set, const Member& member, int flags)
{
    int member_fd = member.fd.get();
    auto dup_failed = [&](int err) {
        return std::unexpected(Error{
            ErrorClass::GenericError, "Failed to dup() given file descriptor fd=" + std::to_string(member_fd), err});
    };
    UniqueFd dup(fcntl(member_fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) {
        return dup_failed(errno);
    }
    int dup_flags = fcntl(dup.get(), F_GETFL);
    if (dup_flags < 0) {
        return dup_failed(errno);
    }
    if ((dup_flags & O_SYNC) != (flags & O_SYNC)) {
        return dup_failed(EINVAL);
    }
    // The dup shares the member's open file description, so these status flags
    // (O_NONBLOCK, O_APPEND, ...) change on the member and its other dups as well.
    if (fcntl(dup.get(), F_SETFL, flags) < 0) {
        return dup_failed(errno);
    }
    if ((flags & O_TRUNC) || ((flags & O_CREAT) && (flags & O_EXCL))) {
        if (ftruncate(dup.get(), 0) < 0) {
            return dup_failed(errno);
        }
    }
    lend(id, set, dup.get());
    return dup;
}

void FdSetRegistry::lend(int64_t id, FdSet& set, int fd)
{
    set.dup_count++;
    m_dup_owner.emplace(fd, id);
}

bool FdSetRegistry::lend_beside(int lent_fd, int fd)
{
    auto owner = m_dup_owner.find(lent_fd);
    if (owner == m_dup_owner.end()) {
        return false;
    }
    int64_t id = owner->second;
    lend(id, m_sets.at(id), fd);
    return true;
}

bool FdSetRegistry::release_dup(UniqueFd fd)
{
    auto owner = m_dup_owner.find(fd.get());
    if (owner == m_dup_owner.end()) {
        return false;
    }
    auto it = m_sets.find(owner->second);
    m_dup_owner.erase(owner);
    fd.reset();
    if (it != m_sets.end()) {
        it->second.dup_count--;
        free_if_empty(it);
    }
    return true;
}

}  // namespace qemu
