// The -p progress line: drawn at 0 and 100, otherwise only after moving more than the skip,
// and closed with a newline; nothing at all when disabled.
#include <gtest/gtest.h>

#include "tools/qemu-img/img-report.h"

namespace qemu::img {
namespace {

TEST(ImgProgress, DrawsOnlyMovesLargerThanTheSkip)
{
    testing::internal::CaptureStdout();
    {
        Progress progress(true, 1.0f);
        progress.print(0, 100);
        progress.print(0.5f, 100);  // 0.5%: too small a move
        progress.print(5.0f, 100);  // 5.5%
        progress.print(94.5f, 100);  // 100%
        progress.print(100, 0);  // always drawn at 100
        progress.end();
    }
    EXPECT_EQ(testing::internal::GetCapturedStdout(),
        "    (0.00/100%)\r    (5.50/100%)\r    (100.00/100%)\r    (100.00/100%)\r\n");
}

TEST(ImgProgress, AbsoluteValuesReplaceTheCurrentOne)
{
    testing::internal::CaptureStdout();
    {
        Progress progress(true, 2.0f);
        progress.print(0, 100);
        progress.print(5.5555556f, 0);
        progress.print(6.0f, 0);  // within the skip of the last drawn value
        progress.print(94.444444f, 0);
        progress.end();
    }
    EXPECT_EQ(testing::internal::GetCapturedStdout(), "    (0.00/100%)\r    (5.56/100%)\r    (94.44/100%)\r\n");
}

TEST(ImgProgress, DisabledPrintsNothing)
{
    testing::internal::CaptureStdout();
    {
        Progress progress(false, 1.0f);
        progress.print(0, 100);
        progress.print(100, 0);
        progress.end();
    }
    EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
}

}  // namespace
}  // namespace qemu::img
