// The only place the committer touches the host filesystem. Every call takes a directory fd
// the caller owns and one name component, refused unless it is a valid host name (no '/',
// not "." or ".."), so no call can reach outside the directory it is given. Opens go through
// util/osdep's open_beneath (openat2, RESOLVE_BENEATH) with O_NOFOLLOW: a symlink is never
// followed, not even one that stays inside. rename, mkdir and unlink act on the name itself
// and never follow a symlink either.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string_view>

#include "util/error.h"
#include "util/unique_fd.h"

namespace qemu::block::vvfat {

// A duplicate of dir_fd (borrowed for the call), which must be a directory.
Result<UniqueFd> duplicate_directory_fd(int dir_fd);

// The subdirectory name of dir, opened O_RDONLY | O_DIRECTORY.
Result<UniqueFd> open_subdirectory(int dir, std::string_view name);

// Creates the regular file name in dir (0666 before the umask, as QEMU); fails if it exists.
Result<UniqueFd> create_file(int dir, std::string_view name);

// Opens the existing regular file name in dir for writing. Anything but a regular file is
// refused without being opened (a FIFO or device could block or have side effects).
Result<UniqueFd> open_file_for_writing(int dir, std::string_view name);

// lstat of name in dir.
Result<struct stat> stat_entry(int dir, std::string_view name);

// mkdir name in dir, 0755 as QEMU.
Result<void> make_directory(int dir, std::string_view name);

// Renames from_dir/from to to_dir/to; fails with EEXIST rather than replace anything.
Result<void> rename_entry(int from_dir, std::string_view from, int to_dir, std::string_view to);

Result<void> remove_file(int dir, std::string_view name);

// rmdir; false (and no error) if the directory is not empty.
Result<bool> remove_directory(int dir, std::string_view name);

// pwrite of all of data at offset, and ftruncate.
Result<void> write_all_at(int fd, std::span<const uint8_t> data, uint64_t offset);
Result<void> truncate_file(int fd, uint64_t size);

}  // namespace qemu::block::vvfat
