// Exercises the code generated from tests/qapi-schema/qapi-schema-test.json: value round
// trips, QEMU's input-visitor error texts with their paths, dispatch through the command
// table, event messages and the introspection data.
#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "test-qapi-commands.h"
#include "test-qapi-events.h"
#include "test-qapi-introspect.h"
#include "test-qapi-visit.h"

namespace test_qapi {

struct QmpContext {
    std::vector<std::string> calls;
};

qemu::Result<SubModuleStruct> qmp_sub_module_cmd(QmpContext& ctx)
{
    ctx.calls.push_back("sub-module-cmd");
    return SubModuleStruct{SubSubEnum::beta};
}

qemu::Result<void> qmp_user_def_cmd(QmpContext& ctx)
{
    ctx.calls.push_back("user_def_cmd");
    return {};
}

qemu::Result<void> qmp_user_def_cmd1(QmpContext& ctx, const UserDefOne& ud1a)
{
    ctx.calls.push_back("user-def-cmd1 " + ud1a.string);
    return {};
}

qemu::Result<UserDefTwo> qmp_user_def_cmd2(QmpContext& ctx, const UserDefOne& ud1a,
                                           const std::optional<UserDefOne>& ud1b, bool flag,
                                           const std::optional<uint8_t>& count)
{
    ctx.calls.push_back("user-def-cmd2 " + std::string(flag ? "flag" : "noflag") +
                        (count ? " count=" + std::to_string(*count) : ""));
    UserDefTwo ret;
    ret.string0 = "ret";
    ret.dict1.string1 = ud1a.string;
    ret.dict1.dict3 = ud1b;
    ret.list = {ud1a};
    return ret;
}

qemu::Result<std::vector<UserDefOne>> qmp_cmd_returns_list(QmpContext&)
{
    return std::vector<UserDefOne>{};
}

qemu::Result<int64_t> qmp_guest_get_time(QmpContext&, int64_t a, const std::optional<int64_t>& b)
{
    return a + b.value_or(0);
}

qemu::Result<void> qmp_boxed_struct(QmpContext& ctx, const UserDefZero& arg)
{
    ctx.calls.push_back("boxed-struct " + std::to_string(arg.integer));
    return {};
}

qemu::Result<void> qmp_boxed_union(QmpContext& ctx, const FlatUnion& arg)
{
    ctx.calls.push_back("boxed-union " + std::string(UnionKind_str(arg.kind)));
    return {};
}

qemu::Result<void> qmp_named_args(QmpContext& ctx, int64_t integer, const std::string& string,
                                  const std::optional<EnumOne>& enum1)
{
    ctx.calls.push_back("named-args " + std::to_string(integer) + " " + string +
                        (enum1 ? " " + std::string(EnumOne_str(*enum1)) : ""));
    return {};
}

qemu::Result<void> qmp_cmd_with_keywords(QmpContext&, int64_t, const std::string&, bool,
                                         const std::optional<std::string>&, int64_t)
{
    return {};
}

qemu::Result<UserDefOne> qmp_cmd_alternate(QmpContext&, const AltStrObj& alt,
                                           const std::optional<AltIntBoolNull>&)
{
    if (const auto* obj = std::get_if<UserDefOne>(&alt.value)) {
        return *obj;
    }
    UserDefOne ret;
    ret.string = std::get<std::string>(alt.value);
    return ret;
}

// 'gen': false: the marshaller is ours.
qemu::Result<qemu::JsonValue> qmp_marshal_hand_written(QmpContext&, const qemu::JsonValue&)
{
    return qemu::JsonValue::array();
}

qemu::Result<void> qmp_no_response(QmpContext&) { return {}; }
qemu::Result<void> qmp_oob_command(QmpContext&) { return {}; }
qemu::Result<void> qmp_deprecated_cmd(QmpContext&)
{
    return qemu::make_error(qemu::ErrorClass::DeviceNotFound, "nothing here");
}
qemu::Result<void> qmp_cond_cmd(QmpContext&, const CondStruct&) { return {}; }
qemu::Result<void> qmp_cmd_cond_arg(QmpContext& ctx, int64_t a, const std::optional<std::string>& b)
{
    ctx.calls.push_back("cmd-cond-arg " + std::to_string(a) + " " + b.value_or("-"));
    return {};
}
qemu::Result<std::vector<__org_qemu_x_Struct>> qmp_downstream_cmd(
    QmpContext&, __org_qemu_x_Enum m1, const std::string& m2, const std::optional<int64_t>& w)
{
    __org_qemu_x_Struct s;
    s.__org_qemu_x_member1 = m1;
    s.__org_qemu_x_member2 = m2;
    s.q_wchar_t = w;
    return std::vector<__org_qemu_x_Struct>{s};
}
qemu::Result<Builtins> qmp_builtins_echo(QmpContext&, const Builtins& arg) { return arg; }
qemu::Result<void> qmp_alt_num_enum(QmpContext&, const AltNumEnum&, EnumOne) { return {}; }

}  // namespace test_qapi

namespace {

using qemu::JsonValue;
using namespace test_qapi;

JsonValue parse(const char* text)
{
    return JsonValue::parse(text);
}

template <typename T>
std::string decode_error(const char* json, const std::string& path = "")
{
    auto r = from_json<T>(parse(json), path);
    if (r) {
        return "(no error)";
    }
    EXPECT_EQ(r.error().cls, qemu::ErrorClass::GenericError);
    return r.error().desc;
}

// --- types and round trips ---

TEST(QapiTypes, EnumNamesAreMangledAndLookedUpBothWays)
{
    EXPECT_EQ(EnumOne_str(EnumOne::q_3value), "3value");
    EXPECT_EQ(EnumOne_str(EnumOne::q_default), "default");
    EXPECT_EQ(EnumOne_str(EnumOne::if_value), "if-value");
    EXPECT_EQ(EnumOne_parse("old-value"), EnumOne::old_value);
    EXPECT_EQ(EnumOne_parse("value-3"), std::nullopt);
    EXPECT_EQ(std::size(EnumOne_values), 6u);
    EXPECT_EQ(__org_qemu_x_Enum_str(__org_qemu_x_Enum::__org_qemu_x_value), "__org.qemu_x-value");
}

TEST(QapiTypes, NestedStructRoundTripsAndBaseMembersComeFirst)
{
    auto json = parse(R"({"string0": "s0", "dict1": {"string1": "s1",
        "dict3": {"integer": 7, "string": "d3", "enum1": "value2"}},
        "list": [{"integer": 1, "string": "a"}, {"integer": 2, "string": "b"}],
        "ints": [-128, 127]})");
    auto v = from_json<UserDefTwo>(json);
    ASSERT_TRUE(v) << v.error().desc;
    EXPECT_EQ(v->dict1.dict3->integer, 7);
    EXPECT_EQ(v->dict1.dict3->enum1, EnumOne::value2);
    ASSERT_EQ(v->list.size(), 2u);
    EXPECT_EQ(v->list[1].string, "b");
    EXPECT_EQ((*v->ints)[0], -128);
    EXPECT_EQ(to_json(*v), json);
    // UserDefOne derives from its base UserDefZero; the base's member leads on the wire.
    const UserDefZero& base = v->list[0];
    EXPECT_EQ(base.integer, 1);
    EXPECT_EQ(to_json(v->list[0]).begin().key(), "integer");
}

TEST(QapiTypes, StructContainingItselfNestsAndCopiesDeeply)
{
    auto json = parse(R"({"name": "top", "next": {"name": "mid", "next": {"name": "base"}}})");
    auto v = from_json<UserDefChain>(json);
    ASSERT_TRUE(v) << v.error().desc;
    ASSERT_TRUE(v->next && (*v->next).next);
    EXPECT_EQ(v->next->next->name, "base");
    EXPECT_FALSE(v->next->next->next);
    EXPECT_EQ(to_json(*v), json);
    UserDefChain copy = *v;
    copy.next->name = "changed";
    EXPECT_EQ(v->next->name, "mid");
    EXPECT_NE(copy, *v);
    copy.next->name = "mid";
    EXPECT_EQ(copy, *v);
    EXPECT_EQ(decode_error<UserDefChain>(R"({"name": "a", "next": {"next": {"name": "c"}}})"),
        "Parameter 'next.name' is missing");
}

TEST(QapiTypes, AbsentOptionalsAreLeftOutOfOutput)
{
    UserDefOne one;
    one.integer = 3;
    one.string = "x";
    EXPECT_EQ(to_json(one), parse(R"({"integer": 3, "string": "x"})"));
}

TEST(QapiTypes, EveryBuiltinRoundTrips)
{
    auto json = parse(R"({"s": "str", "n": 1.5, "i": -9007199254740993, "i8": -128,
        "i16": 32767, "i32": -2147483648, "i64": 9223372036854775807, "u8": 255,
        "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615,
        "sz": 4096, "b": true, "null": null, "any": {"x": [1, "y"]}})");
    auto v = from_json<Builtins>(json);
    ASSERT_TRUE(v) << v.error().desc;
    EXPECT_EQ(v->u64, UINT64_MAX);
    EXPECT_EQ(v->i32, INT32_MIN);
    EXPECT_TRUE(v->null.has_value());
    EXPECT_EQ((*v->any)["x"][1], "y");
    EXPECT_EQ(to_json(*v), json);
}

TEST(QapiTypes, KeywordMembersKeepTheirWireNames)
{
    Keywords k;
    k.q_default = 1;
    k.q_wchar_t = "w";
    k.q_new = true;
    k.x_dashed_name = 2;
    EXPECT_EQ(to_json(k), parse(R"({"default": 1, "wchar-t": "w", "new": true, "x-dashed-name": 2})"));
    auto back = from_json<Keywords>(to_json(k));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, k);
}

TEST(QapiTypes, FlatUnionSelectsTheBranchByDiscriminator)
{
    auto json = parse(R"({"kind": "one", "common": 5, "integer": 1, "string": "s"})");
    auto v = from_json<FlatUnion>(json);
    ASSERT_TRUE(v) << v.error().desc;
    EXPECT_EQ(v->kind, UnionKind::one);
    ASSERT_TRUE(v->u.one.has_value());
    EXPECT_FALSE(v->u.two.has_value());
    EXPECT_EQ(v->u.one->string, "s");
    EXPECT_EQ(to_json(*v), json);

    auto none = from_json<FlatUnion>(parse(R"({"kind": "none"})"));
    ASSERT_TRUE(none);
    EXPECT_EQ(to_json(*none), parse(R"({"kind": "none"})"));
}

TEST(QapiTypes, InlineBaseUnionWithWrapperBranch)
{
    auto json = parse(R"({"type": "one", "name": "n", "data": {"integer": 4}})");
    auto v = from_json<InlineUnion>(json);
    ASSERT_TRUE(v) << v.error().desc;
    EXPECT_EQ(v->name, "n");
    EXPECT_EQ(v->u.one->data.integer, 4);
    EXPECT_EQ(to_json(*v), json);
}

TEST(QapiTypes, AlternatePicksTheBranchByJsonType)
{
    auto s = from_json<AltStrObj>(parse(R"("text")"));
    ASSERT_TRUE(s);
    EXPECT_EQ(std::get<std::string>(s->value), "text");
    auto o = from_json<AltStrObj>(parse(R"({"integer": 1, "string": "o"})"));
    ASSERT_TRUE(o);
    EXPECT_EQ(std::get<UserDefOne>(o->value).string, "o");
    EXPECT_EQ(to_json(*o), parse(R"({"integer": 1, "string": "o"})"));

    auto i = from_json<AltIntBoolNull>(parse("42"));
    ASSERT_TRUE(i);
    EXPECT_EQ(std::get<int64_t>(i->value), 42);
    auto b = from_json<AltIntBoolNull>(parse("false"));
    ASSERT_TRUE(b);
    EXPECT_FALSE(std::get<bool>(b->value));
    auto n = from_json<AltIntBoolNull>(parse("null"));
    ASSERT_TRUE(n);
    EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(n->value));
    EXPECT_EQ(to_json(*n), JsonValue(nullptr));

    auto num = from_json<AltNumEnum>(parse("3"));
    ASSERT_TRUE(num);
    EXPECT_EQ(std::get<double>(num->value), 3.0);
    auto e = from_json<AltNumEnum>(parse(R"("two")"));
    ASSERT_TRUE(e);
    EXPECT_EQ(std::get<UnionKind>(e->value), UnionKind::two);
}

// --- input visitor error texts ---

TEST(QapiInput, MissingMembersAreNamedByTheirDottedPath)
{
    EXPECT_EQ(decode_error<UserDefTwo>(R"({"string0": "a", "dict1": {}, "list": []})"),
              "Parameter 'dict1.string1' is missing");
    EXPECT_EQ(decode_error<UserDefTwo>(
                  R"({"string0": "a", "dict1": {"string1": "b"}, "list": [{"integer": 1}]})"),
              "Parameter 'list[0].string' is missing");
    EXPECT_EQ(decode_error<UserDefOne>(R"({"string": "a"})", "arg"),
              "Parameter 'arg.integer' is missing");
}

TEST(QapiInput, UnexpectedMembersAreReportedAfterKnownOnes)
{
    EXPECT_EQ(decode_error<UserDefOne>(R"({"bogus": 1, "integer": 1, "string": "s"})"),
              "Parameter 'bogus' is unexpected");
    // A missing member wins over an extra one: known members are visited first.
    EXPECT_EQ(decode_error<UserDefOne>(R"({"bogus": 1, "integer": 1})"),
              "Parameter 'string' is missing");
    EXPECT_EQ(decode_error<UserDefTwo>(
                  R"({"string0": "a", "dict1": {"string1": "b", "x": 0}, "list": []})"),
              "Parameter 'dict1.x' is unexpected");
}

TEST(QapiInput, WrongJsonTypesNameTheExpectedType)
{
    EXPECT_EQ(decode_error<UserDefOne>(R"({"integer": "1", "string": "s"})"),
              "Invalid parameter type for 'integer', expected: integer");
    EXPECT_EQ(decode_error<UserDefOne>(R"({"integer": 1.5, "string": "s"})"),
              "Invalid parameter type for 'integer', expected: integer");
    EXPECT_EQ(decode_error<UserDefOne>(R"({"integer": 1, "string": 2})"),
              "Invalid parameter type for 'string', expected: string");
    EXPECT_EQ(decode_error<UserDefA>(R"({"integer": 1, "Upper_Case": 0})"),
              "Invalid parameter type for 'Upper_Case', expected: boolean");
    EXPECT_EQ(decode_error<UserDefTwo>(R"({"string0": "a", "dict1": [], "list": []})"),
              "Invalid parameter type for 'dict1', expected: object");
    EXPECT_EQ(decode_error<UserDefTwo>(R"({"string0": "a", "dict1": {"string1": "b"}, "list": {}})"),
              "Invalid parameter type for 'list', expected: array");
    EXPECT_EQ(decode_error<UserDefOne>(R"({"integer": 1, "string": null})"),
              "Invalid parameter type for 'string', expected: string");
    EXPECT_EQ(decode_error<AltStrObj>(R"(1)", "alt"),
              "Invalid parameter type for 'alt', expected: AltStrObj");
}

std::string builtins_error(const std::string& member, const std::string& value)
{
    JsonValue json = parse(R"({"s": "", "n": 0, "i": 0, "i8": 0, "i16": 0, "i32": 0, "i64": 0,
        "u8": 0, "u16": 0, "u32": 0, "u64": 0, "sz": 0, "b": false})");
    json[member] = JsonValue::parse(value);
    auto r = from_json<Builtins>(json, "arg");
    return r ? "(no error)" : r.error().desc;
}

TEST(QapiInput, IntegerRangesAreChecked)
{
    EXPECT_EQ(builtins_error("i8", "128"), "Parameter 'i8' expects int8_t");
    EXPECT_EQ(builtins_error("i8", "-129"), "Parameter 'i8' expects int8_t");
    EXPECT_EQ(builtins_error("i16", "32768"), "Parameter 'i16' expects int16_t");
    EXPECT_EQ(builtins_error("i32", "2147483648"), "Parameter 'i32' expects int32_t");
    EXPECT_EQ(builtins_error("u8", "256"), "Parameter 'u8' expects uint8_t");
    EXPECT_EQ(builtins_error("u8", "-1"), "Parameter 'u8' expects uint8_t");
    EXPECT_EQ(builtins_error("u16", "65536"), "Parameter 'u16' expects uint16_t");
    EXPECT_EQ(builtins_error("u32", "4294967296"), "Parameter 'u32' expects uint32_t");
    EXPECT_EQ(builtins_error("i64", "9223372036854775808"),
              "Invalid parameter type for 'arg.i64', expected: integer");
    EXPECT_EQ(builtins_error("u64", "\"1\""), "Parameter 'arg.u64' expects uint64");
    EXPECT_EQ(builtins_error("n", "\"1\""), "Invalid parameter type for 'arg.n', expected: number");
    EXPECT_EQ(builtins_error("null", "0"), "Invalid parameter type for 'arg.null', expected: null");
    // Negative numbers are accepted for uint64, for compatibility.
    JsonValue json = parse(R"({"s": "", "n": 0, "i": 0, "i8": 0, "i16": 0, "i32": 0, "i64": 0,
        "u8": 0, "u16": 0, "u32": 0, "u64": -1, "sz": 0, "b": false})");
    auto v = from_json<Builtins>(json);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->u64, UINT64_MAX);
}

TEST(QapiInput, BadEnumValuesAreRejected)
{
    EXPECT_EQ(decode_error<UserDefOne>(R"({"integer": 1, "string": "s", "enum1": "value9"})"),
              "Parameter 'enum1' does not accept value 'value9'");
    EXPECT_EQ(decode_error<FlatUnion>(R"({"kind": "three"})"),
              "Parameter 'kind' does not accept value 'three'");
}

TEST(QapiInput, BadEnumValuesAreNamedByTheirOwnMemberOrNull)
{
    // QEMU 7.2: qmp_capabilities {"enable": ["oob", "bogus"]} -> Parameter 'null' ...
    EXPECT_EQ(qemu::qapi_codec::bad_enum_value("enable[1]", "bogus").error().desc,
              "Parameter 'null' does not accept value 'bogus'");
    EXPECT_EQ(qemu::qapi_codec::bad_enum_value("backend.data.format", "x").error().desc,
              "Parameter 'format' does not accept value 'x'");
}

TEST(QapiInput, UnionBranchMembersAreCheckedForTheChosenBranchOnly)
{
    EXPECT_EQ(decode_error<FlatUnion>(R"({"kind": "one", "integer": 1})"),
              "Parameter 'string' is missing");
    EXPECT_EQ(decode_error<FlatUnion>(R"({"kind": "none", "integer": 1})"),
              "Parameter 'integer' is unexpected");
    EXPECT_EQ(decode_error<FlatUnion>(R"({"common": 1})"), "Parameter 'kind' is missing");
    // The 'cond' branch is compiled out (TEST_IF_UNION), so its members are unexpected.
    EXPECT_EQ(decode_error<FlatUnion>(R"({"kind": "cond", "integer": 1})"),
              "Parameter 'integer' is unexpected");
}

// --- commands ---

const QmpCommandInfo* find_command(std::string_view name)
{
    for (const auto& cmd : qmp_command_table()) {
        if (cmd.name == name) {
            return &cmd;
        }
    }
    return nullptr;
}

qemu::Result<JsonValue> run(QmpContext& ctx, std::string_view name, const char* args)
{
    const QmpCommandInfo* cmd = find_command(name);
    EXPECT_NE(cmd, nullptr) << name;
    return cmd->marshal(ctx, parse(args));
}

TEST(QapiCommands, TableListsEveryCommandInSchemaOrderWithFlags)
{
    std::vector<std::string_view> names;
    for (const auto& cmd : qmp_command_table()) {
        names.push_back(cmd.name);
    }
    std::vector<std::string_view> expected = {
        "sub-module-cmd", "user_def_cmd", "user-def-cmd1", "user-def-cmd2",
        "cmd-returns-list", "guest-get-time", "boxed-struct", "boxed-union", "named-args",
        "cmd-with-keywords", "cmd-alternate", "hand-written", "no-response", "oob-command",
        "deprecated-cmd", "cond-cmd", "cmd-cond-arg", "downstream-cmd", "builtins-echo",
        "alt-num-enum"};
    EXPECT_EQ(names, expected);  // never-cmd is compiled out

    const auto* oob = find_command("oob-command");
    EXPECT_TRUE(oob->allow_oob);
    EXPECT_TRUE(oob->allow_preconfig);
    EXPECT_TRUE(oob->coroutine);
    EXPECT_TRUE(oob->success_response);
    EXPECT_FALSE(find_command("no-response")->success_response);
    EXPECT_TRUE(find_command("deprecated-cmd")->deprecated);
    EXPECT_TRUE(find_command("deprecated-cmd")->unstable);
    EXPECT_FALSE(find_command("user_def_cmd")->deprecated);
    EXPECT_EQ(find_command("hand-written")->marshal, &qmp_marshal_hand_written);
}

TEST(QapiCommands, MarshallerDecodesCallsAndEncodes)
{
    QmpContext ctx;
    auto ret = run(ctx, "user-def-cmd2",
                   R"({"ud1a": {"integer": 1, "string": "a"}, "flag": true, "count": 3})");
    ASSERT_TRUE(ret) << ret.error().desc;
    EXPECT_EQ(ctx.calls.back(), "user-def-cmd2 flag count=3");
    EXPECT_EQ(*ret, parse(R"({"string0": "ret", "dict1": {"string1": "a"},
                              "list": [{"integer": 1, "string": "a"}]})"));

    auto none = run(ctx, "user_def_cmd", "{}");
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, JsonValue::object());

    auto scalar = run(ctx, "guest-get-time", R"({"a": 40, "b": 2})");
    ASSERT_TRUE(scalar);
    EXPECT_EQ(*scalar, JsonValue(42));

    ASSERT_TRUE(run(ctx, "named-args", R"({"integer": 5, "string": "s", "enum1": "default"})"));
    EXPECT_EQ(ctx.calls.back(), "named-args 5 s default");
    ASSERT_TRUE(run(ctx, "boxed-struct", R"({"integer": 9})"));
    EXPECT_EQ(ctx.calls.back(), "boxed-struct 9");
    ASSERT_TRUE(run(ctx, "boxed-union", R"({"kind": "two", "integer": 1, "Upper_Case": true})"));
    EXPECT_EQ(ctx.calls.back(), "boxed-union two");
    ASSERT_TRUE(run(ctx, "cmd-cond-arg", R"({"a": 1, "b": "x"})"));
    EXPECT_EQ(ctx.calls.back(), "cmd-cond-arg 1 x");

    auto alt = run(ctx, "cmd-alternate", R"({"alt": "via-string"})");
    ASSERT_TRUE(alt);
    EXPECT_EQ((*alt)["string"], "via-string");
}

TEST(QapiCommands, ArgumentErrorsUseTopLevelNames)
{
    QmpContext ctx;
    auto missing = run(ctx, "user-def-cmd2", R"({"ud1a": {"integer": 1, "string": "a"}})");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().desc, "Parameter 'flag' is missing");

    auto nested = run(ctx, "user-def-cmd1", R"({"ud1a": {"integer": 1}})");
    ASSERT_FALSE(nested);
    EXPECT_EQ(nested.error().desc, "Parameter 'ud1a.string' is missing");

    auto extra = run(ctx, "user-def-cmd2",
                     R"({"ud1a": {"integer": 1, "string": "a"}, "flag": true, "extra": 1})");
    ASSERT_FALSE(extra);
    EXPECT_EQ(extra.error().desc, "Parameter 'extra' is unexpected");

    auto no_args = run(ctx, "user_def_cmd", R"({"x": 1})");
    ASSERT_FALSE(no_args);
    EXPECT_EQ(no_args.error().desc, "Parameter 'x' is unexpected");

    auto range = run(ctx, "user-def-cmd2",
                     R"({"ud1a": {"integer": 1, "string": "a"}, "flag": true, "count": 256})");
    ASSERT_FALSE(range);
    EXPECT_EQ(range.error().desc, "Parameter 'count' expects uint8_t");
    EXPECT_TRUE(ctx.calls.empty());  // no handler ran for bad arguments
}

TEST(QapiCommands, HandlerErrorsPassThrough)
{
    QmpContext ctx;
    auto r = run(ctx, "deprecated-cmd", "{}");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().cls, qemu::ErrorClass::DeviceNotFound);
    EXPECT_EQ(r.error().desc, "nothing here");
}

// --- events ---

struct RecordingSink : QapiEventSink {
    std::vector<std::pair<QAPIEvent, JsonValue>> events;
    void emit(QAPIEvent event, JsonValue message) override
    {
        events.emplace_back(event, std::move(message));
    }
};

TEST(QapiEvents, MessagesCarryNameDataAndTimestamp)
{
    RecordingSink sink;
    int64_t before = static_cast<int64_t>(time(nullptr));
    qapi_event_send_event_a(sink);
    qapi_event_send_event_b(sink, 1, std::nullopt, EnumOne::q_3value);
    qapi_event_send_event_c(sink, 7);
    FlatUnion u;
    u.kind = UnionKind::two;
    u.u.two.emplace();
    u.u.two->integer = 3;
    u.u.two->Upper_Case = true;
    qapi_event_send_event_d(sink, u);
    qapi_event_send_event_e(sink, std::nullopt);
    ASSERT_EQ(sink.events.size(), 5u);

    const auto& [kind_a, a] = sink.events[0];
    EXPECT_EQ(kind_a, QAPIEvent::EVENT_A);
    EXPECT_EQ(QAPIEvent_str(kind_a), "EVENT_A");
    EXPECT_EQ(a["event"], "EVENT_A");
    EXPECT_FALSE(a.contains("data"));
    ASSERT_TRUE(a["timestamp"]["seconds"].is_number_integer());
    EXPECT_GE(a["timestamp"]["seconds"].get<int64_t>(), before);
    int64_t usec = a["timestamp"]["microseconds"].get<int64_t>();
    EXPECT_GE(usec, 0);
    EXPECT_LT(usec, 1000000);
    EXPECT_EQ(a.size(), 2u);

    EXPECT_EQ(sink.events[1].second["data"], parse(R"({"a": 1, "kind": "3value"})"));
    EXPECT_EQ(sink.events[2].second["data"], parse(R"({"integer": 7})"));
    EXPECT_EQ(sink.events[3].second["data"],
              parse(R"({"kind": "two", "integer": 3, "Upper_Case": true})"));
    // Members exist but all are absent: data is an empty object.
    EXPECT_EQ(sink.events[4].second["data"], JsonValue::object());
}

// --- introspection ---

const JsonValue* find_entry(const std::string& name)
{
    for (const auto& entry : qmp_schema_introspection()) {
        if (entry["name"] == name) {
            return &entry;
        }
    }
    return nullptr;
}

TEST(QapiIntrospect, TypeNamesAreMaskedAndIntegersShownAsInt)
{
    const JsonValue* cmd = find_entry("user-def-cmd2");
    ASSERT_NE(cmd, nullptr);
    EXPECT_EQ((*cmd)["meta-type"], "command");
    EXPECT_FALSE(cmd->contains("allow-oob"));
    std::string arg_name = (*cmd)["arg-type"];
    // Names follow first use: the main file's commands come before the included
    // module's; user_def_cmd's q_empty is "0", user-def-cmd1's arguments "1".
    EXPECT_EQ(arg_name, "2");
    EXPECT_EQ((*find_entry("user_def_cmd"))["arg-type"], "0");
    const JsonValue* arg = find_entry(arg_name);
    ASSERT_NE(arg, nullptr);
    EXPECT_EQ((*arg)["meta-type"], "object");
    const JsonValue& members = (*arg)["members"];
    ASSERT_EQ(members.size(), 4u);
    EXPECT_EQ(members[0]["name"], "ud1a");
    EXPECT_FALSE(members[0].contains("default"));
    EXPECT_EQ(members[1]["default"], nullptr);
    EXPECT_EQ(members[2]["type"], "bool");
    EXPECT_EQ(members[3]["type"], "int");  // uint8

    const JsonValue* builtin_int = find_entry("int");
    ASSERT_NE(builtin_int, nullptr);
    EXPECT_EQ((*builtin_int)["meta-type"], "builtin");
    EXPECT_EQ((*builtin_int)["json-type"], "int");
    EXPECT_EQ(find_entry("uint8"), nullptr);
    EXPECT_EQ(find_entry("int8"), nullptr);
    EXPECT_EQ(find_entry("UserDefOne"), nullptr);

    for (const auto& entry : qmp_schema_introspection()) {
        std::string meta = entry["meta-type"];
        std::string name = entry["name"];
        if (meta == "enum" || meta == "object" || meta == "alternate") {
            EXPECT_EQ(name.find_first_not_of("0123456789"), std::string::npos) << name;
        }
    }
}

TEST(QapiIntrospect, EmptyArgumentsArraysAndUnions)
{
    const JsonValue* plain = find_entry("user_def_cmd");
    ASSERT_NE(plain, nullptr);
    const JsonValue* empty = find_entry((*plain)["arg-type"]);
    ASSERT_NE(empty, nullptr);
    EXPECT_EQ((*empty)["members"], JsonValue::array());
    EXPECT_EQ((*plain)["ret-type"], (*plain)["arg-type"]);  // both q_empty

    const JsonValue* list = find_entry("cmd-returns-list");
    std::string ret = (*list)["ret-type"];
    ASSERT_EQ(ret.front(), '[');
    const JsonValue* array = find_entry(ret);
    ASSERT_NE(array, nullptr);
    EXPECT_EQ((*array)["meta-type"], "array");
    EXPECT_EQ("[" + (*array)["element-type"].get<std::string>() + "]", ret);

    EXPECT_EQ((*find_entry("oob-command"))["allow-oob"], true);
    EXPECT_EQ((*find_entry("deprecated-cmd"))["features"], parse(R"(["deprecated", "unstable"])"));

    const JsonValue* union_cmd = find_entry("boxed-union");
    const JsonValue* flat = find_entry((*union_cmd)["arg-type"]);
    ASSERT_NE(flat, nullptr);
    EXPECT_EQ((*flat)["tag"], "kind");
    std::vector<std::string> cases;
    for (const auto& v : (*flat)["variants"]) {
        cases.push_back(v["case"]);
        if (v["case"] == "none") {
            EXPECT_EQ(v["type"], (*plain)["arg-type"]);  // an empty branch is q_empty
        }
    }
    EXPECT_EQ(cases, (std::vector<std::string>{"one", "two", "none"}));  // 'cond' is off

    const JsonValue* ev = find_entry("EVENT_A");
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ((*ev)["meta-type"], "event");
    EXPECT_EQ((*ev)["arg-type"], (*plain)["arg-type"]);
}

TEST(QapiIntrospect, ConditionsApply)
{
    EXPECT_NE(find_entry("cond-cmd"), nullptr);
    EXPECT_EQ(find_entry("never-cmd"), nullptr);
    EXPECT_NE(find_entry("EVENT_COND"), nullptr);

    const JsonValue* b = find_entry("EVENT_B");
    const JsonValue* args = find_entry((*b)["arg-type"]);
    const JsonValue* enum_one = find_entry((*args)["members"][2]["type"]);
    ASSERT_NE(enum_one, nullptr);
    EXPECT_EQ((*enum_one)["meta-type"], "enum");
    EXPECT_EQ((*enum_one)["values"],
              parse(R"(["value1", "value2", "3value", "default", "if-value", "old-value"])"));
    EXPECT_EQ((*enum_one)["members"][5], parse(R"({"name": "old-value", "features": ["deprecated"]})"));

    const JsonValue* cond = find_entry("cond-cmd");
    const JsonValue* cond_arg = find_entry((*cond)["arg-type"]);
    const JsonValue* cond_struct = find_entry((*cond_arg)["members"][0]["type"]);
    ASSERT_NE(cond_struct, nullptr);
    // 'sometimes' is on (TEST_IF_MEMBER), 'never' is off.
    ASSERT_EQ((*cond_struct)["members"].size(), 2u);
    EXPECT_EQ((*cond_struct)["members"][1]["name"], "sometimes");
}

}  // namespace
