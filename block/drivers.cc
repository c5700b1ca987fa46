// The driver table. A new format is one more line here and a folder of its own.
#include "block/drivers.h"

#include <array>

namespace qemu::block {

namespace {
// Formats first (probe order), then protocols; raw scores 1 so it is the last resort.
constexpr std::array<const BlockDriver*, 3> kDrivers = {
    &kRawDriver,
    &kVpcDriver,
    &kFileDriver,
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

const BlockDriver* find_protocol(std::string_view protocol_name)
{
    for (const BlockDriver* driver : kDrivers) {
        if (!driver->protocol_name.empty() && driver->protocol_name == protocol_name) {
            return driver;
        }
    }
    return nullptr;
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
