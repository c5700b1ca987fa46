// Output helpers for qemu-img (see img-report.h).
#include "tools/qemu-img/img-report.h"

#include <cstdio>
#include <string>

#include "util/qemu-option.h"

namespace qemu::img {

int object_option(std::string_view arg)
{
    if (object_option_lists_types(arg)) {
        std::printf("List of user creatable objects:\n");
        return 0;
    }
    error_report("--object is not supported");
    return 1;
}

void error_report(std::string_view message)
{
    std::fflush(stdout);
    std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(kProgramName.size()), kProgramName.data(),
        static_cast<int>(message.size()), message.data());
}

void warn_report(std::string_view message)
{
    error_report("warning: " + std::string(message));
}

int usage_error(std::string_view message)
{
    error_report(message);
    std::fprintf(
        stderr, "Try '%.*s --help' for more information\n", static_cast<int>(kProgramName.size()), kProgramName.data());
    return 1;
}

int unrecognized_option(const char* arg)
{
    return usage_error("unrecognized option '" + std::string(arg) + "'");
}

int missing_argument(const char* arg)
{
    return usage_error("missing argument for option '" + std::string(arg) + "'");
}

void qprintf(bool quiet, std::string_view text)
{
    if (!quiet) {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
}

Progress::Progress(bool enabled, float min_skip) : m_enabled(enabled), m_min_skip(min_skip)
{
}

void Progress::print(float delta, int max)
{
    float current = max == 0 ? delta : m_current + delta / 100 * static_cast<float>(max);
    if (current > 100.0f) {
        current = 100.0f;
    }
    m_current = current;
    if (current > m_last_print + m_min_skip || current < m_last_print - m_min_skip || current == 100.0f ||
        current == 0.0f) {
        m_last_print = current;
        draw();
    }
}

void Progress::end()
{
    if (m_enabled) {
        std::printf("\n");
        std::fflush(stdout);
    }
}

void Progress::draw()
{
    if (m_enabled) {
        std::printf("    (%3.2f/100%%)\r", static_cast<double>(m_current));
        std::fflush(stdout);
    }
}

}  // namespace qemu::img
