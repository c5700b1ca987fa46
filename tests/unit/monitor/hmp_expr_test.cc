// HMP's integer expressions (monitor/hmp-expr.h): the values of QEMU's get_expr grammar
// (numbers in C notation, & | ^ between * / % and + -, unary operators, character
// constants), where the text is left for the next argument, and each of QEMU's error texts.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "monitor/hmp-expr.h"

using qemu::monitor::parse_hmp_expression;

namespace {

// The value, or the error text prefixed with "error: ".
std::string eval(std::string_view text)
{
    auto value = parse_hmp_expression(text);
    return value ? std::to_string(*value) : "error: " + value.error().desc;
}

// What parsing leaves for the next argument.
std::string rest(std::string_view text)
{
    auto value = parse_hmp_expression(text);
    EXPECT_TRUE(value.has_value()) << value.error().desc;
    return std::string(text);
}

}  // namespace

TEST(HmpExpression, ReadsDecimalHexAndOctalNumbers)
{
    EXPECT_EQ(eval("0"), "0");
    EXPECT_EQ(eval("42"), "42");
    EXPECT_EQ(eval("0x10"), "16");
    EXPECT_EQ(eval("0X1f"), "31");
    EXPECT_EQ(eval("010"), "8");
    EXPECT_EQ(eval("0xffffffffffffffff"), "-1");
    EXPECT_EQ(eval("9223372036854775807"), std::to_string(std::numeric_limits<int64_t>::max()));
}

TEST(HmpExpression, ProductsBindTighterThanSums)
{
    EXPECT_EQ(eval("2+3*4"), "14");
    EXPECT_EQ(eval("(2+3)*4"), "20");
    EXPECT_EQ(eval("10-4-3"), "3");
    EXPECT_EQ(eval("7/2"), "3");
    EXPECT_EQ(eval("7%3"), "1");
    EXPECT_EQ(eval("2*3/4"), "1");
}

TEST(HmpExpression, DivisionIsSigned)
{
    EXPECT_EQ(eval("-7/2"), "-3");
    EXPECT_EQ(eval("-7%2"), "-1");
    EXPECT_EQ(eval("0xfffffffffffffff0/2"), "-8");
    // QEMU would trap on these; the result wraps instead.
    EXPECT_EQ(eval("0x8000000000000000/-1"), std::to_string(std::numeric_limits<int64_t>::min()));
    EXPECT_EQ(eval("0x8000000000000000%-1"), "0");
}

// QEMU's grammar, unlike C's: & | ^ share one level, left to right, below * / % and above
// + -.
TEST(HmpExpression, BitwiseOperatorsSitBetweenProductsAndSums)
{
    EXPECT_EQ(eval("1|2&0"), "0");  // (1|2)&0; C gives 1
    EXPECT_EQ(eval("2+3&1"), "3");  // 2+(3&1); C gives 1
    EXPECT_EQ(eval("3&2*3"), "2");  // 3&(2*3)
    EXPECT_EQ(eval("6^3|8"), "13");  // (6^3)|8
    EXPECT_EQ(eval("1|2"), "3");
}

TEST(HmpExpression, UnaryOperators)
{
    EXPECT_EQ(eval("-5"), "-5");
    EXPECT_EQ(eval("+5"), "5");
    EXPECT_EQ(eval("--5"), "5");
    EXPECT_EQ(eval("~0"), "-1");
    EXPECT_EQ(eval("~~7"), "7");
    EXPECT_EQ(eval("-(2+3)"), "-5");
    EXPECT_EQ(eval("2*-3"), "-6");
    EXPECT_EQ(eval("~0x0f&0xff"), "240");
}

TEST(HmpExpression, CharacterConstantsAreTheirCode)
{
    EXPECT_EQ(eval("'a'"), "97");
    EXPECT_EQ(eval("'a'+1"), "98");
    EXPECT_EQ(eval("' '"), "32");
    EXPECT_EQ(eval("'0'*2"), "96");
}

TEST(HmpExpression, BlanksAroundNumbersAndOperatorsAreSkipped)
{
    EXPECT_EQ(eval("  1 + 2  "), "3");
    EXPECT_EQ(eval("\t( 2 + 3 ) * 4"), "20");
    EXPECT_EQ(eval("- 1"), "-1");
    EXPECT_EQ(eval("~ 0"), "-1");
    EXPECT_EQ(eval("'a' + 1"), "98");
    EXPECT_EQ(eval("1 + -2"), "-1");
}

// QEMU's next() skips blanks after every operator and '(', so that any operand may follow
// them, not only a number (strtoull would skip its own leading blanks).
TEST(HmpExpression, BlanksAfterAnOperatorMayPrecedeAnyOperand)
{
    EXPECT_EQ(eval("1 + (2)"), "3");
    EXPECT_EQ(eval("- (1)"), "-1");
    EXPECT_EQ(eval("1 + ~0"), "0");
    EXPECT_EQ(eval("1 + 'a'"), "98");
    EXPECT_EQ(eval("( (1))"), "1");
    EXPECT_EQ(eval("1 + x"), "error: invalid char 'x' in expression");
    EXPECT_EQ(eval("1 + $pc"), "error: unknown register");
    EXPECT_EQ(eval("1 + "), "error: unexpected end of expression");
}

TEST(HmpExpression, LeavesTheTextAfterTheExpressionForTheNextArgument)
{
    EXPECT_EQ(eval("1 2"), "1");
    EXPECT_EQ(rest("1 2"), "2");
    EXPECT_EQ(rest("0x10   rest"), "rest");
    EXPECT_EQ(rest("(1+2) x"), "x");
    EXPECT_EQ(rest("'a' b"), "b");
    EXPECT_EQ(rest("5,6"), ",6");
    EXPECT_EQ(rest("1e5"), "e5");
    EXPECT_EQ(rest("   7   "), "");
}

TEST(HmpExpression, RefusesAnInvalidCharacter)
{
    EXPECT_EQ(eval("x"), "error: invalid char 'x' in expression");
    EXPECT_EQ(eval("1+x"), "error: invalid char 'x' in expression");
    EXPECT_EQ(eval("1+)"), "error: invalid char ')' in expression");
}

TEST(HmpExpression, RefusesAMissingOperand)
{
    EXPECT_EQ(eval(""), "error: unexpected end of expression");
    EXPECT_EQ(eval("   "), "error: unexpected end of expression");
    EXPECT_EQ(eval("1+"), "error: unexpected end of expression");
    EXPECT_EQ(eval("-"), "error: unexpected end of expression");
    EXPECT_EQ(eval("("), "error: unexpected end of expression");
}

TEST(HmpExpression, RefusesAnUnclosedParenthesis)
{
    EXPECT_EQ(eval("(1"), "error: ')' expected");
    EXPECT_EQ(eval("(1 2)"), "error: ')' expected");
    EXPECT_EQ(eval("((1)"), "error: ')' expected");
}

TEST(HmpExpression, RefusesDivisionByZero)
{
    EXPECT_EQ(eval("1/0"), "error: division by zero");
    EXPECT_EQ(eval("5%0"), "error: division by zero");
    EXPECT_EQ(eval("1/(2-2)"), "error: division by zero");
}

TEST(HmpExpression, RefusesRegistersForWantOfACpu)
{
    EXPECT_EQ(eval("$pc"), "error: unknown register");
    EXPECT_EQ(eval("1+$eax"), "error: unknown register");
}

TEST(HmpExpression, RefusesANumberTooLarge)
{
    EXPECT_EQ(eval("99999999999999999999999"), "error: number too large");
    EXPECT_EQ(eval("18446744073709551616"), "error: number too large");
    EXPECT_EQ(eval("0x10000000000000000"), "error: number too large");
}

TEST(HmpExpression, RefusesABadCharacterConstant)
{
    EXPECT_EQ(eval("'"), "error: character constant expected");
    EXPECT_EQ(eval("'ab'"), "error: missing terminating ' character");
    EXPECT_EQ(eval("'a"), "error: missing terminating ' character");
}

TEST(HmpExpression, DeepNestingIsAnErrorNotACrash)
{
    EXPECT_EQ(eval(std::string(100'000, '(')), "error: expression too complex");
    EXPECT_EQ(eval(std::string(100'000, '-') + "1"), "error: expression too complex");
    EXPECT_EQ(eval(std::string(100'000, '(') + "1" + std::string(100'000, ')')), "error: expression too complex");

    // Reasonable nesting still works.
    EXPECT_EQ(eval(std::string(200, '(') + "1" + std::string(200, ')')), "1");
    EXPECT_EQ(eval(std::string(200, '~') + "5"), "5");
}

// strtoull reads the whole number in QEMU, however many leading zeros it has.
TEST(HmpExpression, ReadsANumberLongerThanSixtyFourCharacters)
{
    EXPECT_EQ(eval(std::string(64, '0') + "5"), "5");
    EXPECT_EQ(rest(std::string(64, '0') + "5"), "");
    EXPECT_EQ(eval("0x" + std::string(70, '0') + "1f"), "31");
}
