// Reading chardev options from the command line: "-chardev BACKEND,id=ID,..." and the
// legacy filename syntax of -qmp/-serial/-monitor/-qtest, with QEMU's error texts.
#include <array>

#include "char/backend.h"

namespace qemu::chr {

namespace {

// Every key -chardev knows, whatever the backend: QEMU checks keys against one list for
// all backends, so "null,id=x,server=on" is accepted and the key ignored.
constexpr std::array<std::string_view, 42> kChardevKeys = {
    "id",        "backend",   "path",      "host",         "port",      "fd",        "localaddr",
    "localport", "to",        "ipv4",      "ipv6",         "wait",      "server",    "delay",
    "nodelay",   "reconnect", "reconnect-ms", "telnet",    "tn3270",    "websocket", "tls-creds",
    "tls-authz", "width",     "height",    "cols",         "rows",      "mux",       "signal",
    "name",      "debug",     "size",      "chardev",      "append",    "logfile",   "logappend",
    "mouse",     "clipboard", "abstract",  "tight",        "input-path", "local",    "vc",
};

// Fills everything but id from parsed options of a known backend.
Result<ChardevOptions> options_from(const QemuOpts& opts, std::string_view backend)
{
    TRY_VOID(opts.check_allowed(kChardevKeys));
    const ChardevDriver* driver = find_chardev_driver(backend);
    if (!driver) {
        return make_error("'" + std::string(backend) + "' is not a valid char driver name");
    }
    ChardevOptions options;
    options.backend = TRY(driver->parse(opts));
    options.mux = TRY(opts.get_bool("mux")).value_or(false);
    options.logfile = opts.get("logfile");
    options.logappend = TRY(opts.get_bool("logappend")).value_or(false);
    options.warnings = opts.warnings();
    return options;
}

std::string escape_commas(std::string_view text)
{
    std::string out;
    for (char c : text) {
        out += c;
        if (c == ',') {
            out += ',';
        }
    }
    return out;
}

// An error without text: QEMU 7.2's compat parser fails silently on these and only the
// caller's "parse error: ..." line is printed.
std::unexpected<Error> silent_failure()
{
    return make_error("");
}

Result<ChardevOptions> parse_legacy_tcp(std::string_view rest, std::string id)
{
    // "HOST:PORT[,opts]" with HOST possibly empty.
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
        return silent_failure();
    }
    std::string_view host = rest.substr(0, colon);
    std::string_view after = rest.substr(colon + 1);
    size_t comma = after.find(',');
    std::string_view port = after.substr(0, comma);
    if (port.empty() || host.find(',') != std::string_view::npos) {
        return silent_failure();
    }
    std::string text = "host=" + escape_commas(host) + ",port=" + escape_commas(port);
    if (comma != std::string_view::npos) {
        text += "," + std::string(after.substr(comma + 1));
    }
    QemuOpts opts = TRY(QemuOpts::parse(text));
    ChardevOptions options = TRY(options_from(opts, "socket"));
    options.id = std::move(id);
    return options;
}

}  // namespace

Result<ChardevOptions> chardev_parse_opts(std::string_view optarg)
{
    QemuOpts opts = TRY(QemuOpts::parse(optarg, "backend"));
    auto id = opts.get("id");
    if (id && !id_wellformed(*id)) {
        return make_error("Parameter 'id' expects an identifier\n"
                          "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.");
    }
    TRY_VOID(opts.check_allowed(kChardevKeys));
    if (!id) {
        return make_error("chardev: no id specified");
    }
    auto backend = opts.get("backend");
    if (!backend) {
        return make_error("chardev: \"" + *id + "\" missing backend");
    }
    ChardevOptions options = TRY(options_from(opts, *backend));
    options.id = *id;
    return options;
}

Result<ChardevOptions> chardev_parse_legacy(std::string_view filename, std::string id)
{
    auto simple = [&](ChardevBackendOptions backend) -> Result<ChardevOptions> {
        ChardevOptions options;
        options.id = std::move(id);
        options.backend = std::move(backend);
        return options;
    };
    if (filename == "null") {
        return simple(NullOptions{});
    }
    if (filename == "stdio") {
        return simple(StdioOptions{});
    }
    if (filename == "pty") {
        return simple(PtyOptions{});
    }
    if (filename.starts_with("file:")) {
        FileOptions file;
        file.out = std::string(filename.substr(5));
        return simple(std::move(file));
    }
    if (filename.starts_with("pipe:")) {
        return simple(PipeOptions{std::string(filename.substr(5))});
    }
    if (filename.starts_with("tcp:")) {
        return parse_legacy_tcp(filename.substr(4), std::move(id));
    }
    if (filename.starts_with("unix:")) {
        // "path" is the implied key, so both "unix:/p,server=on" and "unix:path=/p" work.
        QemuOpts opts = TRY(QemuOpts::parse(filename.substr(5), "path"));
        ChardevOptions options = TRY(options_from(opts, "socket"));
        options.id = std::move(id);
        return options;
    }
    if (filename.starts_with("chardev:")) {
        ChardevOptions options;
        options.id = std::string(filename.substr(8));
        options.refers_to_existing = true;
        return options;
    }
    return make_error("'" + std::string(filename) + "' is not a valid char driver");
}

bool chardev_help_requested(std::string_view optarg)
{
    auto opts = QemuOpts::parse(optarg, "backend");
    if (!opts) {
        return false;
    }
    auto backend = opts->get("backend");
    return backend && (*backend == "help" || *backend == "?");
}

}  // namespace qemu::chr
