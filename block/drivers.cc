// The driver table. A new format is one more line here and a folder of its own.
#include "block/drivers.h"

#include <algorithm>
#include <array>

namespace qemu::block {

namespace {
// Formats first (probe order), then protocols; raw scores 1 so it is the last resort.
constexpr std::array kDrivers = {
    &kRawDriver,
    &kVdiDriver,
    &kVpcDriver,
    &kVmdkDriver,
    &kFileDriver,
    &kHostDeviceDriver,
    &kHostCdromDriver,
    &kNullCoDriver,
    &kNullAioDriver,
    &kVvfatDriver,
    &kBlkdebugDriver,
};
}  // namespace

std::span<const BlockDriver* const> all_drivers()
{
    return kDrivers;
}

const BlockDriver* find_driver(std::string_view format_name)
{
    for (const BlockDriver* driver : kDrivers) {
        if (driver->format_name == format_name) {
            return driver;
        }
    }
    return nullptr;
}

std::vector<std::string_view> format_names()
{
    std::vector<std::string_view> names;
    for (const BlockDriver* driver : kDrivers) {
        names.push_back(driver->format_name);
    }
    std::ranges::sort(names);
    auto duplicates = std::ranges::unique(names);
    names.erase(duplicates.begin(), duplicates.end());
    return names;
}

const BlockDriver* find_protocol(std::string_view protocol_name)
{
    for (const BlockDriver* driver : kDrivers) {
        if (!driver->protocol_name.empty() && driver->protocol_name == protocol_name) {
            return driver;
        }
    }
    return nullptr;
}

std::optional<std::string_view> protocol_prefix(std::string_view filename)
{
    size_t colon = filename.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    size_t slash = filename.find('/');
    if (slash != std::string_view::npos && slash < colon) {
        return std::nullopt;
    }
    return filename.substr(0, colon);
}

const BlockDriver* protocol_for_filename(std::string_view filename)
{
    if (auto prefix = protocol_prefix(filename)) {
        return find_protocol(*prefix);
    }
    const BlockDriver* best = &kFileDriver;
    int best_score = 0;
    for (const BlockDriver* driver : kDrivers) {
        if (!driver->probe_device) {
            continue;
        }
        int score = driver->probe_device(filename);
        if (score > best_score) {
            best_score = score;
            best = driver;
        }
    }
    return best;
}

const BlockDriver* probe_format(std::span<const uint8_t> buf, std::string_view filename)
{
    const BlockDriver* best = nullptr;
    int best_score = 0;
    for (const BlockDriver* driver : kDrivers) {
        if (!driver->probe) {
            continue;
        }
        int score = driver->probe(buf, filename);
        if (score > best_score) {
            best_score = score;
            best = driver;
        }
    }
    return best;
}

}  // namespace qemu::block
