// The error toolkit of util/error.h: QEMU's errno texts from one helper, the errno kept for
// callers, and Result working with TRY/TRY_VOID as std::expected did.
#include "util/error.h"

#include <gtest/gtest.h>

using namespace qemu;

namespace {

Result<int> parse_digit(char c)
{
    if (c < '0' || c > '9') {
        return make_errno_error(EINVAL, std::string("Invalid digit '") + c + "'");
    }
    return c - '0';
}

Result<int> sum_digits(const char* text)
{
    int sum = 0;
    for (; *text; ++text) {
        sum += TRY(parse_digit(*text));
    }
    return sum;
}

Result<void> all_digits(const char* text)
{
    TRY_VOID(sum_digits(text));
    return {};
}

}  // namespace

TEST(Error, ErrnoTextsAreQemusWording)
{
    EXPECT_EQ(errno_message("Could not stat file", ENOENT), "Could not stat file: No such file or directory");
    auto with_text = make_errno_error(EACCES, "Could not open 'x'");
    EXPECT_EQ(with_text.error().desc, "Could not open 'x': Permission denied");
    EXPECT_EQ(with_text.error().errno_value, EACCES);
    EXPECT_EQ(with_text.error().cls, ErrorClass::GenericError);
    auto bare = make_errno_error(EIO);
    EXPECT_EQ(bare.error().desc, "Input/output error");
    EXPECT_EQ(bare.error().errno_value, EIO);
}

TEST(Error, ErrnoOrFallsBackOnlyWithoutAnErrno)
{
    EXPECT_EQ(make_errno_error(ENOSPC).error().errno_or(EIO), ENOSPC);
    EXPECT_EQ(make_error("no errno here").error().errno_or(EIO), EIO);
}

TEST(Error, ResultPropagatesThroughTry)
{
    EXPECT_EQ(sum_digits("123"), 6);
    auto bad = sum_digits("1x3");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "Invalid digit 'x': Invalid argument");
    EXPECT_TRUE(all_digits("42"));
    EXPECT_EQ(all_digits("4-2").error().errno_value, EINVAL);
}

// error_append_hint: the command line and the tools print the hint after the message
// (desc holds both), a QMP reply only the message, wherever context was prepended.
TEST(Error, AHintFollowsTheMessageButIsNotPartOfIt)
{
    Error error = make_error("Failed to get \"write\" lock").error();
    EXPECT_EQ(error.message(), error.desc);
    error.append_hint("\nIs another process using the image [a.img]?");
    EXPECT_EQ(error.desc, "Failed to get \"write\" lock\nIs another process using the image [a.img]?");
    EXPECT_EQ(error.message(), "Failed to get \"write\" lock");
    error.prepend("Could not open 'a.img': ");
    EXPECT_EQ(error.message(), "Could not open 'a.img': Failed to get \"write\" lock");
    error.append_hint(" Or another thread?");
    EXPECT_EQ(error.message(), "Could not open 'a.img': Failed to get \"write\" lock");
    EXPECT_EQ(
        error.desc.substr(error.message().size()), "\nIs another process using the image [a.img]? Or another thread?");
}
