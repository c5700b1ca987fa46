// libFuzzer target: arbitrary bytes as a blkdebug config file (QEMU's -readconfig syntax
// with [inject-error] and [set-state] sections), parsed and turned into rules; and the
// same bytes, split at '\n' into key=value pairs, as the option form
// (inject-error.N.KEY=VALUE). Checked: nothing crashes or leaks; every failure has a text.
#include <cstdint>
#include <string>
#include <string_view>

#include "block/blkdebug/blkdebug-config.h"

namespace {

void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

template <typename T> void check_result(const qemu::Result<T>& result)
{
    if (!result) {
        check(!result.error().desc.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto sections = qemu::block::parse_blkdebug_config(text);
    check_result(sections);
    if (sections) {
        check_result(qemu::block::build_blkdebug_rules(*sections));
    }
    qemu::block::BlockOptions options;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        size_t eq = line.find('=');
        if (eq != std::string_view::npos) {
            options[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        }
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    auto from_options = qemu::block::take_rule_options(options);
    check_result(from_options);
    if (from_options) {
        check_result(qemu::block::build_blkdebug_rules(*from_options));
    }
    return 0;
}
