// Our extension to fd sets: /dev/fdset/N/NAME. A member is found by its opaque, or a file
// is opened beneath a directory member, so a manager can hand over every file of a
// multi-file image in one set and let drivers combine relative names as usual. The rules
// are the README's "Our fd-set extensions"; fdset.h says how lent fds keep a set alive.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "util/fdset.h"
#include "util/osdep.h"

namespace qemu {

namespace {

std::string flags_hex(int flags)
{
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%x", static_cast<unsigned>(flags));
    return hex;
}

bool is_directory(int fd)
{
    struct stat st { };
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<UniqueFd> FdSetRegistry::open_named(int64_t id, std::string_view name, int flags, mode_t mode)
{
    std::string set_name = "/dev/fdset/" + std::to_string(id);
    auto it = m_sets.find(id);
    if (it == m_sets.end()) {
        return std::unexpected(Error{ErrorClass::GenericError, "Failed to find fdset " + set_name, ENOENT});
    }
    FdSet& set = it->second;
    std::string quoted = "'" + std::string(name) + "'";

    // A member called exactly name wins, even if a directory member could hold the name:
    // the manager said which descriptor this is, and a wrong access mode is its mistake.
    bool named = std::any_of(set.members.begin(), set.members.end(), [&](const Member& m) { return m.opaque == name; });
    if (named) {
        const Member* member = TRY(find_member(set, name, flags));
        if (!member) {
            return std::unexpected(Error{ErrorClass::GenericError,
                "Failed to find file descriptor " + quoted + " in fdset " + set_name +
                    " with matching flags=" + flags_hex(flags),
                EACCES});
        }
        return lend_dup(id, set, *member, flags);
    }

    // The longest prefix wins, so that opaques which themselves contain '/' still work as
    // roots ("images/2024" beside "images").
    for (size_t slash = name.rfind('/'); slash != std::string_view::npos && slash > 0;
         slash = name.rfind('/', slash - 1)) {
        std::string_view dir = name.substr(0, slash);
        auto root = std::find_if(set.members.rbegin(), set.members.rend(),
            [&](const Member& m) { return m.opaque == dir && is_directory(m.fd.get()); });
        if (root == set.members.rend()) {
            continue;
        }
        std::string display = set_name + "/" + std::string(name);
        std::string root_text = "directory member '" + std::string(dir) + "' of fdset " + set_name;
        UniqueFd fd = TRY(open_beneath(
            root->fd.get(), name.substr(slash + 1), flags, mode, BeneathNames{.name = display, .root = root_text}));
        lend(id, set, fd.get());
        return fd;
    }
    std::string desc = "Failed to find file descriptor " + quoted + " in fdset " + set_name;
    if (name.find('/') != std::string_view::npos) {
        desc += ", nor a directory member it is beneath";
    }
    return std::unexpected(Error{ErrorClass::GenericError, std::move(desc), ENOENT});
}

}  // namespace qemu
