// libFuzzer target: the option parsers a command line or a filename reaches. The first
// byte picks the parser, the rest is the text:
//   0  QemuOpts (-drive, -chardev, -add-fd ...), with and without an implied key, and
//      every typed getter on every key it found;
//   1  dotted keys (-blockdev a=1,b.c=2), then BlockdevOptions decoding;
//   2  a json: filename's JSON, then BlockdevOptions decoding;
//   3  -chardev option strings and the legacy -serial/-monitor names;
//   4  the scalar parsers (bool, number, size).
// Checked: nothing crashes or leaks; a failure has a text (but see the legacy names); whatever QemuOpts keeps
// can be found again by its key; dotted keys always give a JSON object.
#include <cstdint>
#include <string>
#include <string_view>

#include "block/blockdev-options.h"
#include "char/chardev.h"
#include "qobject/json.h"
#include "system/drive-options.h"
#include "util/qemu-option.h"

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

void qemu_opts(std::string_view text)
{
    for (bool implied : {false, true}) {
        auto opts = implied ? qemu::QemuOpts::parse(text, "backend") : qemu::QemuOpts::parse(text);
        check_result(opts);
        if (!opts) {
            continue;
        }
        for (const auto& [key, value] : opts->entries()) {
            check(opts->has(key));
            check(opts->get(key).has_value());
            check_result(opts->get_bool(key));
            check_result(opts->get_number(key));
            check_result(opts->get_size(key));
        }
        static constexpr std::string_view kAllowed[] = {"id", "path", "backend", "size"};
        check_result(opts->check_allowed(kAllowed));
    }
}

void blockdev_options(const qemu::Result<qemu::JsonValue>& json)
{
    check_result(json);
    if (json && json->is_object()) {
        check_result(qemu::block::blockdev_options_from_json(*json));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 5) {
    case 0:
        qemu_opts(text);
        break;
    case 1: {
        auto json = qemu::parse_keyval(text);
        check(!json || json->is_object());
        blockdev_options(json);
        break;
    }
    case 2:
        blockdev_options(qemu::json_parse(text));
        break;
    case 3:
        check_result(qemu::chr::chardev_parse_opts(text));
        // A malformed tcp: address fails without a text of its own, as in QEMU.
        (void)qemu::chr::chardev_parse_legacy(text, "fuzz");
        break;
    default:
        check_result(qemu::parse_option_bool("x", text));
        check_result(qemu::parse_option_number("x", text));
        check_result(qemu::parse_option_size("x", text));
        break;
    }
    return 0;
}
