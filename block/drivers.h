// The one list of block drivers, and the lookups over it: by format name, by protocol
// prefix, and format probing over an image's first bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "block/block.h"

namespace qemu::block {

// Every driver, in QEMU's registration order (which breaks probe ties).
std::span<const BlockDriver* const> all_drivers();

const BlockDriver* find_driver(std::string_view format_name);

// bdrv_iterate_format: every driver's format name once, sorted, as the help texts list them
// ("qemu-img --help", "-drive format=help"). No driver is whitelisted away in this build,
// so the read-write and read-only lists are the same.
std::vector<std::string_view> format_names();
const BlockDriver* find_protocol(std::string_view protocol_name);

// The "proto:" in front of a filename, if it has one (a '/' before the colon means none).
std::optional<std::string_view> protocol_prefix(std::string_view filename);
// bdrv_find_protocol: the protocol a prefix names (nullptr if none does), or for a name
// with no prefix the protocol whose device probe scores highest (host_device for device
// nodes), else file. A /dev/fdset/N name names no device node, so it is always file.
const BlockDriver* protocol_for_filename(std::string_view filename);

// bdrv_probe_all: the format with the strictly highest score, or nullptr if none scores.
const BlockDriver* probe_format(std::span<const uint8_t> buf, std::string_view filename);

// The driver tables themselves, defined beside each driver.
extern const BlockDriver kFileDriver;
extern const BlockDriver kHostDeviceDriver;
extern const BlockDriver kHostCdromDriver;
extern const BlockDriver kNullCoDriver;
extern const BlockDriver kNullAioDriver;
extern const BlockDriver kRawDriver;
extern const BlockDriver kVdiDriver;
extern const BlockDriver kVpcDriver;
extern const BlockDriver kVmdkDriver;
extern const BlockDriver kVvfatDriver;
extern const BlockDriver kBlkdebugDriver;

}  // namespace qemu::block
