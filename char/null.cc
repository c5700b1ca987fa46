// The "null" backend: open from the start, discards output and never produces input.
#include "char/backend.h"

namespace qemu::chr {

namespace {

class NullChardev final : public Chardev {
public:
    using Chardev::Chardev;
    std::string_view driver() const override { return "null"; }
    std::string filename() const override { return "null"; }
    bool is_open() const override { return true; }
    Result<size_t> write_all(std::span<const uint8_t> data) override { return data.size(); }
};

}  // namespace

Result<ChardevBackendOptions> parse_null_opts(const QemuOpts&)
{
    return NullOptions{};
}

Result<ChardevPtr> open_null(const std::string& id, const NullOptions&, ChardevContext&)
{
    return std::make_unique<NullChardev>(id);
}

}  // namespace qemu::chr
