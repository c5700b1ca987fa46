// util/alloc.h: sizes that cannot be had end in ENOMEM for the caller, never in an abort.
#include "util/alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using qemu::try_make_vector;
using qemu::try_resize;

TEST(Alloc, ASizeThatFitsIsFilledWithTheValue)
{
    auto v = try_make_vector<uint32_t>(1000, 0xFFFFFFFFu);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->size(), 1000u);
    EXPECT_EQ((*v)[999], 0xFFFFFFFFu);
}

TEST(Alloc, ASizePastMaxSizeIsEnomem)
{
    // More elements than a vector can ever hold: std::length_error inside, ENOMEM out.
    auto v = try_make_vector<uint64_t>(SIZE_MAX / 4);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().errno_value, ENOMEM);
    EXPECT_EQ(v.error().desc, "Cannot allocate memory");
}

TEST(Alloc, AFailedResizeLeavesTheVectorAsItWas)
{
    std::vector<uint32_t> v{1, 2, 3};
    auto done = try_resize(v, SIZE_MAX / 2);
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().errno_value, ENOMEM);
    EXPECT_EQ(v, (std::vector<uint32_t>{1, 2, 3}));
    ASSERT_TRUE(try_resize(v, 5, uint32_t{9}));
    EXPECT_EQ(v, (std::vector<uint32_t>{1, 2, 3, 9, 9}));
}

#ifndef __SANITIZE_ADDRESS__
// A size within max_size() that no address space holds (2^62 bytes): std::bad_alloc inside.
// AddressSanitizer reports such a request as fatal before operator new can throw, so this
// one runs in the plain build only.
TEST(Alloc, AnAllocationNoAddressSpaceHoldsIsEnomem)
{
    auto v = try_make_vector<uint8_t>(size_t{1} << 62);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().errno_value, ENOMEM);
}
#endif

}  // namespace
