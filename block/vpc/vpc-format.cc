// Checksums and the size rule of VHD footers (see vpc-format.h).
#include "block/vpc/vpc-format.h"

#include <cstring>

#include "block/vpc/vpc-geometry.h"

namespace qemu::block::vpc {

uint32_t vhd_checksum(std::span<const uint8_t> buf)
{
    uint32_t sum = 0;
    for (uint8_t byte : buf) {
        sum += byte;
    }
    return ~sum;
}

bool Footer::has_cookie() const
{
    return std::memcmp(bytes.data() + footer::kCookie, "conectix", 8) == 0;
}

std::string_view Footer::creator_app() const
{
    return std::string_view(reinterpret_cast<const char*>(bytes.data() + footer::kCreatorApp), 4);
}

bool Footer::checksum_ok() const
{
    std::array<uint8_t, kFooterSize> copy = bytes;
    store_be32(copy, footer::kChecksum, 0);
    return vhd_checksum(copy) == load_be32(bytes, footer::kChecksum);
}

int64_t footer_total_sectors(const Footer& footer, SizeCalc calc)
{
    int64_t chs = int64_t{footer.cylinders()} * footer.heads() * footer.sectors_per_track();
    // Virtual PC sizes a disk by its geometry; these tools write the exact size in the
    // footer instead. The tags are compared as 4 bytes, so Disk2vhd's "d2v\0" is not
    // among them: such images rely on carrying the maximum geometry.
    static constexpr std::string_view kTrustFooterSize[] = {
        {"win ", 4}, {"qem2", 4}, {"d2v ", 4}, {"CTXS", 4}, {"tap\0", 4}};
    bool use_chs = true;
    for (std::string_view app : kTrustFooterSize) {
        if (footer.creator_app() == app) {
            use_chs = false;
        }
    }
    if (calc == SizeCalc::Chs) {
        use_chs = true;
    }
    if (!use_chs || chs == kMaxGeometrySectors || calc == SizeCalc::CurrentSize) {
        return static_cast<int64_t>(footer.current_size() / 512);
    }
    return chs;
}

}  // namespace qemu::block::vpc
