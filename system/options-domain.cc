// The options a management layer adds when it starts a domain (libvirt 9.0 passes all of
// these): -smp, -uuid, -rtc, -boot, -overcommit, -msg, -audiodev, -no-acpi and -object
// secret. With no CPU and no guest device most of them change nothing here, so they are
// checked with QEMU's syntax and texts and kept only where a command reports them
// (query-uuid) or where they change what the emulator prints (-msg timestamp=on).
#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "qobject/json.h"
#include "system/options.h"
#include "util/qemu-option.h"

namespace qemu {

namespace {

std::unexpected<Error> located(std::string_view option, std::string_view arg, const std::string& message)
{
    return make_error("-" + std::string(option) + " " + std::string(arg) + ": " + message);
}

Result<QemuOpts> parse_checked(std::string_view option, std::string_view arg,
    std::optional<std::string_view> implied, std::span<const std::string_view> allowed)
{
    auto opts = QemuOpts::parse(arg, implied);
    if (!opts) {
        return located(option, arg, opts.error().desc);
    }
    if (auto ok = opts->check_allowed(allowed); !ok) {
        return located(option, arg, ok.error().desc);
    }
    return opts;
}

// The booleans of one option: each present key must be on or off.
Result<void> check_bools(
    std::string_view option, std::string_view arg, const QemuOpts& opts, std::span<const std::string_view> keys)
{
    for (std::string_view key : keys) {
        if (auto value = opts.get_bool(key); !value) {
            return located(option, arg, value.error().desc);
        }
    }
    return {};
}

bool is_uuid(std::string_view text)
{
    if (text.size() != 36) {
        return false;
    }
    for (size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

Result<void> parse_domain_option(EmulatorConfig& config, std::string_view name, std::string_view arg)
{
    if (name == "smp") {
        static constexpr std::string_view kAllowed[] = {
            "cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads", "books", "drawers"};
        auto parsed = QemuOpts::parse(arg, "cpus");
        if (!parsed) {
            return located(name, arg, parsed.error().desc);
        }
        QemuOpts& opts = *parsed;
        // -smp goes through the machine's smp property, whose visitor words this differently.
        for (const auto& [key, value] : opts.entries()) {
            if (std::find(std::begin(kAllowed), std::end(kAllowed), key) == std::end(kAllowed)) {
                return make_error("Parameter 'smp." + key + "' is unexpected");
            }
        }
        for (std::string_view key : kAllowed) {
            auto value = opts.get_number(key);
            if (!value) {
                return located(name, arg, value.error().desc);
            }
            // Machine none has at most one CPU (and creates none).
            if ((key == "cpus" || key == "maxcpus") && value->value_or(1) > 1) {
                return make_error("Invalid SMP CPUs " + std::to_string(**value) +
                    ". The max CPUs supported by machine 'none' is 1");
            }
        }
        return {};
    }
    if (name == "uuid") {
        if (!is_uuid(arg)) {
            return located(name, arg, "failed to parse UUID string: wrong format");
        }
        config.uuid = std::string(arg);
        for (char& c : *config.uuid) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        return {};
    }
    if (name == "rtc") {
        static constexpr std::string_view kAllowed[] = {"base", "clock", "driftfix"};
        QemuOpts opts = TRY(parse_checked(name, arg, std::nullopt, kAllowed));
        auto base = opts.get("base");
        if (base && *base != "utc" && *base != "localtime") {
            // A start date; QEMU accepts "2006-06-17T16:01:21" or "2006-06-17".
            bool date = base->size() >= 10 && (*base)[4] == '-' && (*base)[7] == '-';
            if (!date) {
                return make_error("invalid datetime format\nvalid formats: '2006-06-17T16:01:21' or '2006-06-17'");
            }
        }
        return {};
    }
    if (name == "boot") {
        static constexpr std::string_view kAllowed[] = {
            "order", "once", "menu", "splash", "splash-time", "reboot-timeout", "strict"};
        QemuOpts opts = TRY(parse_checked(name, arg, "order", kAllowed));
        for (std::string_view key : {std::string_view("menu"), std::string_view("strict")}) {
            if (auto value = opts.get_bool(key); !value) {
                return make_error("Parameter 'boot." + std::string(key) + "' expects 'on' or 'off'");
            }
        }
        return {};
    }
    if (name == "overcommit") {
        static constexpr std::string_view kAllowed[] = {"mem-lock", "cpu-pm"};
        QemuOpts opts = TRY(parse_checked(name, arg, std::nullopt, kAllowed));
        return check_bools(name, arg, opts, kAllowed);
    }
    if (name == "msg") {
        static constexpr std::string_view kAllowed[] = {"timestamp", "guest-name"};
        QemuOpts opts = TRY(parse_checked(name, arg, std::nullopt, kAllowed));
        TRY_VOID(check_bools(name, arg, opts, kAllowed));
        config.msg_timestamp = opts.get_bool("timestamp").value_or(std::nullopt).value_or(false);
        return {};
    }
    if (name == "audiodev") {
        // JSON ({"id":...,"driver":"none"}) or driver,id=...: only the none driver exists.
        std::string driver;
        bool has_id = false;
        if (arg.starts_with('{')) {
            auto json = json_parse(arg);
            if (!json || !json->is_object()) {
                return located(name, arg, json ? "Invalid JSON object given" : json.error().desc);
            }
            if (json->contains("driver") && (*json)["driver"].is_string()) {
                driver = (*json)["driver"].get<std::string>();
            }
            has_id = json->contains("id");
        } else {
            auto opts = QemuOpts::parse(arg, "driver");
            if (!opts) {
                return located(name, arg, opts.error().desc);
            }
            driver = opts->get("driver").value_or("");
            has_id = opts->has("id");
        }
        if (!has_id) {
            return located(name, arg, "Parameter 'id' is missing");
        }
        if (driver != "none") {
            return located(name, arg, "Parameter 'driver' does not accept value '" + driver + "'");
        }
        return {};
    }
    if (name == "no-acpi") {
        // Checked once the machine is known (parse_command_line).
        config.no_acpi = true;
        return {};
    }
    if (name == "object") {
        if (arg.starts_with('{')) {
            // libvirt's JSON form: {"qom-type":"secret","id":...,"format":"raw","file":...}.
            auto json = json_parse(arg);
            if (!json || !json->is_object() || !json->contains("id") || !(*json)["id"].is_string()) {
                return located(name, arg, "Parameter 'id' is missing");
            }
            SecretSpec secret{.id = (*json)["id"].get<std::string>(), .file = {}};
            if (json->contains("file") && (*json)["file"].is_string()) {
                secret.file = (*json)["file"].get<std::string>();
            }
            config.secrets.push_back(std::move(secret));
            return {};
        }
        auto opts = QemuOpts::parse(arg, "qom-type");
        if (!opts) {
            return located(name, arg, opts.error().desc);
        }
        std::string type = opts->get("qom-type").value_or("");
        if (type != "secret") {
            return located(name, arg, "Parameter 'qom-type' does not accept value '" + type + "'");
        }
        static constexpr std::string_view kAllowed[] = {"qom-type", "id", "format", "data", "file", "keyid", "iv"};
        if (auto ok = opts->check_allowed(kAllowed); !ok) {
            return located(name, arg, ok.error().desc);
        }
        if (!opts->has("id")) {
            return located(name, arg, "Parameter 'id' is missing");
        }
        config.secrets.push_back(SecretSpec{.id = *opts->get("id"), .file = opts->get("file")});
        return {};
    }
    return make_error("-" + std::string(name) + ": invalid option");
}

}  // namespace qemu
