// blkdebug: the config file and options forms give QEMU's rules and QEMU's error texts, the
// state machine activates and drops rules as QEMU 7.2 does, and a blkdebug node over a
// file fails exactly the requests its rules match while the rest reach the image.
#include <atomic>
#include <cerrno>
#include <functional>
#include <thread>
#include <string>

#include "block/blkdebug/blkdebug-config.h"
#include "block/blkdebug/blkdebug-rules.h"
#include "tests/unit/block/block_test_util.h"

using namespace qemu::block;
using block_test::BlockTest;
using block_test::rw;

namespace {

std::string config_error(std::string_view text)
{
    auto sections = parse_blkdebug_config(text);
    if (!sections) {
        return sections.error().desc;
    }
    auto rules = build_blkdebug_rules(*sections);
    return rules ? std::string("ok") : rules.error().desc;
}

std::vector<BlkdebugRule> rules_of(std::string_view text)
{
    auto sections = parse_blkdebug_config(text);
    EXPECT_TRUE(sections) << sections.error().desc;
    auto rules = build_blkdebug_rules(sections.value_or(std::vector<RuleSection>{}));
    EXPECT_TRUE(rules) << rules.error().desc;
    return rules.value_or(std::vector<BlkdebugRule>{});
}

TEST(BlkdebugConfig, ParsesSectionsWithQemusDefaults)
{
    auto rules = rules_of("# a comment\n\n[set-state]\nevent = \"l2_load\"\nnew_state = \"2\"\n"
                          "[inject-error]\n  event = \"read_aio\"\nerrno = \"28\"\nsector = \"8\"\nonce = \"on\"\n");
    ASSERT_EQ(rules.size(), 2u);
    // Every inject-error rule comes before every set-state rule, as QEMU adds them.
    EXPECT_EQ(rules[0].action, RuleAction::InjectError);
    EXPECT_EQ(rules[0].event, BlkdebugEvent::ReadAio);
    EXPECT_EQ(rules[0].error, ENOSPC);
    EXPECT_EQ(rules[0].offset, 8 * 512);
    EXPECT_TRUE(rules[0].once);
    EXPECT_FALSE(rules[0].immediately);
    EXPECT_EQ(rules[0].iotype_mask, kDefaultIoTypeMask);
    EXPECT_EQ(rules[1].action, RuleAction::SetState);
    EXPECT_EQ(rules[1].event, BlkdebugEvent::L2Load);
    EXPECT_EQ(rules[1].state, 0);
    EXPECT_EQ(rules[1].new_state, 2);
    auto defaults = rules_of("[inject-error]\nevent = \"none\"\n");
    ASSERT_EQ(defaults.size(), 1u);
    EXPECT_EQ(defaults[0].error, EIO);
    EXPECT_EQ(defaults[0].offset, -1);
}

TEST(BlkdebugConfig, RejectsBadFilesWithQemusTexts)
{
    EXPECT_EQ(config_error("[inject-error]\nevent = \"foo\"\n"), "invalid parameter value: foo");
    EXPECT_EQ(config_error("[inject-error]\nerrno = \"5\"\n"), "Missing event name for rule");
    EXPECT_EQ(
        config_error("[inject-error]\nevent = \"read_aio\"\nerrno = \"x\"\n"), "Parameter 'errno' expects a number");
    EXPECT_EQ(config_error("[inject-error]\nevent = \"read_aio\"\niotype = \"x\"\n"), "invalid parameter value: x");
    EXPECT_EQ(config_error("[inject-error]\nevent = \"read_aio\"\nbogus = \"x\"\n"), "Invalid parameter 'bogus'");
    EXPECT_EQ(config_error("[bogus]\nevent = \"read_aio\"\n"), "There is no option group 'bogus'");
    EXPECT_EQ(config_error("event = \"read_aio\"\n"), "no group defined");
    // Without quotes the value is empty, as sscanf leaves it.
    EXPECT_EQ(config_error("[inject-error]\nevent = read_aio\n"), "invalid parameter value: ");
    EXPECT_EQ(config_error("[inject-error]\nsector=\"1\"\n"), "Invalid parameter 'sector=\"1\"'");
    EXPECT_EQ(
        config_error("[inject-error]\nevent = \"none\"\nonce = \"x\"\n"), "Parameter 'once' expects 'on' or 'off'");
    EXPECT_EQ(
        config_error("[set-state]\nevent = \"none\"\nnew_state = \"x\"\n"), "Parameter 'new_state' expects a number");
    EXPECT_EQ(config_error("[inject-error]\n   \n"), "parse error");
    EXPECT_EQ(config_error("[inject-error \"a\"]\nevent = \"none\"\n[inject-error \"a\"]\nevent = \"none\"\n"),
        "Duplicate ID 'a' for inject-error");
    EXPECT_EQ(config_error("[inject-error \"id\"]\nevent = \"none\"\n"), "ok");
}

TEST(BlkdebugConfig, TakesNumberedAndPlainOptionSections)
{
    BlockOptions options{{"inject-error.0.event", "read_aio"}, {"inject-error.1.event", "write_aio"},
        {"inject-error.1.errno", "28"}, {"set-state.event", "flush_to_os"}, {"set-state.new_state", "3"},
        {"other", "x"}};
    auto sections = take_rule_options(options);
    ASSERT_TRUE(sections) << sections.error().desc;
    ASSERT_EQ(sections->size(), 3u);
    EXPECT_EQ(options.size(), 1u);
    auto rules = build_blkdebug_rules(*sections);
    ASSERT_TRUE(rules);
    EXPECT_EQ((*rules)[1].event, BlkdebugEvent::WriteAio);
    EXPECT_EQ((*rules)[1].error, ENOSPC);
    EXPECT_EQ((*rules)[2].new_state, 3);

    BlockOptions unknown{{"inject-error.0.bogus", "x"}};
    EXPECT_EQ(take_rule_options(unknown).error().desc, "[inject-error] section doesn't support the option 'bogus'");
    BlockOptions mixed{{"inject-error.event", "none"}, {"inject-error.bogus", "x"}};
    EXPECT_EQ(take_rule_options(mixed).error().desc, "Unknown option 'bogus' for [inject-error]");
    BlockOptions gap{{"inject-error.0.event", "none"}, {"inject-error.2.event", "none"}};
    EXPECT_EQ(take_rule_options(gap).error().desc, "Unused option '2.event' for [inject-error]");
}

BlkdebugRule inject(BlkdebugEvent event, int state = 0)
{
    return BlkdebugRule{.event = event, .action = RuleAction::InjectError, .state = state, .error = EIO};
}

TEST(BlkdebugRules, AnEventActivatesItsRulesUntilAnotherEventReplacesThem)
{
    BlkdebugRules rules({inject(BlkdebugEvent::ReadAio), inject(BlkdebugEvent::FlushToOs)});
    EXPECT_FALSE(rules.check(0, 512, BlkdebugIoType::Read));
    (void)rules.event(BlkdebugEvent::ReadAio);
    EXPECT_EQ(rules.check(0, 512, BlkdebugIoType::Read)->error, EIO);
    // Rules stay active: a write and a flush fail too.
    EXPECT_TRUE(rules.check(4096, 512, BlkdebugIoType::Write));
    EXPECT_TRUE(rules.check(0, 0, BlkdebugIoType::Flush));
    // An event without inject-error rules changes nothing; block status is not in the mask.
    (void)rules.event(BlkdebugEvent::L2Load);
    EXPECT_TRUE(rules.check(0, 512, BlkdebugIoType::Read));
    EXPECT_FALSE(rules.check(0, 512, BlkdebugIoType::BlockStatus));
}

TEST(BlkdebugRules, SectorOnceAndIotypeFilterWhatFails)
{
    BlkdebugRule sector = inject(BlkdebugEvent::None);
    sector.offset = 8 * 512;
    sector.once = true;
    sector.iotype_mask = uint64_t{1} << static_cast<unsigned>(BlkdebugIoType::Write);
    BlkdebugRules rules({sector});
    (void)rules.event(BlkdebugEvent::None);
    EXPECT_FALSE(rules.check(0, 4096, BlkdebugIoType::Write));
    EXPECT_FALSE(rules.check(4096, 512, BlkdebugIoType::Read));
    // A sector rule never matches a flush, which covers no bytes.
    EXPECT_FALSE(rules.check(0, 0, BlkdebugIoType::Flush));
    EXPECT_TRUE(rules.check(4096, 512, BlkdebugIoType::Write));
    // Once: gone after it injected, even when its event comes again.
    EXPECT_FALSE(rules.check(4096, 512, BlkdebugIoType::Write));
    (void)rules.event(BlkdebugEvent::None);
    EXPECT_FALSE(rules.check(4096, 512, BlkdebugIoType::Write));
}

TEST(BlkdebugRules, StatesGateRulesAndTheFirstWrittenSetStateWins)
{
    BlkdebugRule to2{.event = BlkdebugEvent::L2Load, .action = RuleAction::SetState, .state = 1, .new_state = 2};
    BlkdebugRule to5{.event = BlkdebugEvent::L2Load, .action = RuleAction::SetState, .state = 1, .new_state = 5};
    BlkdebugRule back{.event = BlkdebugEvent::L2Load, .action = RuleAction::SetState, .state = 2, .new_state = 1};
    BlkdebugRules rules({inject(BlkdebugEvent::ReadAio, 2), to2, to5, back});
    EXPECT_EQ(rules.state(), 1);
    (void)rules.event(BlkdebugEvent::ReadAio);
    EXPECT_FALSE(rules.check(0, 512, BlkdebugIoType::Read));
    // Rules see the state the event found, not the one it sets.
    (void)rules.event(BlkdebugEvent::L2Load);
    EXPECT_EQ(rules.state(), 2);
    (void)rules.event(BlkdebugEvent::ReadAio);
    EXPECT_TRUE(rules.check(0, 512, BlkdebugIoType::Read));
    (void)rules.event(BlkdebugEvent::L2Load);
    EXPECT_EQ(rules.state(), 1);
}

TEST(BlkdebugRules, BreakpointsSuspendOnceAndRemoveBreakReportsQemusEnoent)
{
    BlkdebugRules rules({});
    EXPECT_EQ(rules.add_breakpoint("nonsense", "A"), -ENOENT);
    EXPECT_EQ(rules.add_breakpoint("read_aio", "A"), 0);
    EXPECT_EQ(rules.resume("A"), -ENOENT);
    auto outcome = rules.event(BlkdebugEvent::ReadAio);
    ASSERT_EQ(outcome.suspended_tags, std::vector<std::string>{"A"});
    EXPECT_TRUE(rules.is_suspended("A"));
    EXPECT_TRUE(rules.event(BlkdebugEvent::ReadAio).suspended_tags.empty());
    std::vector<std::string> resumed;
    // The breakpoint went with the suspension, so QEMU 7.2 says ENOENT while it resumes.
    EXPECT_EQ(rules.remove_breakpoint("A", &resumed), -ENOENT);
    EXPECT_EQ(resumed, std::vector<std::string>{"A"});
    EXPECT_FALSE(rules.is_suspended("A"));
}

// A worker's request parks at its breakpoint until resume; one only recorded as suspended
// (a synchronous request) is left alone by resume_parked, which a drain uses.
TEST(BlkdebugRules, ParkedRequestWaitsUntilResumeAndResumeParkedSkipsTheRecordedOnes)
{
    BlkdebugRules rules({});
    ASSERT_EQ(rules.add_breakpoint("read_aio", "A"), 0);
    ASSERT_EQ(rules.add_breakpoint("write_aio", "B"), 0);
    ASSERT_EQ(rules.add_breakpoint("flush_to_os", "C"), 0);
    auto recorded = rules.event(BlkdebugEvent::WriteAio);
    ASSERT_EQ(recorded.suspended_ids.size(), 1u);

    std::atomic<bool> finished{false};
    std::thread worker([&] {
        auto outcome = rules.event(BlkdebugEvent::ReadAio);
        ASSERT_EQ(outcome.suspended_ids.size(), 1u);
        rules.wait_resumed(outcome.suspended_ids[0]);
        finished = true;
    });
    while (!rules.is_suspended("A")) {
        std::this_thread::yield();
    }
    EXPECT_FALSE(finished);
    EXPECT_EQ(rules.resume("A"), 0);
    worker.join();
    EXPECT_TRUE(finished);
    EXPECT_TRUE(rules.is_suspended("B"));

    // A parked request that nobody resumes: resume_parked lets it go and names it, and
    // leaves B, which is only recorded.
    std::thread parked([&] {
        auto outcome = rules.event(BlkdebugEvent::FlushToOs);
        rules.wait_resumed(outcome.suspended_ids[0]);
    });
    std::vector<std::string> resumed;
    while (resumed.empty()) {
        resumed = rules.resume_parked();
        std::this_thread::yield();
    }
    parked.join();
    EXPECT_EQ(resumed, std::vector<std::string>{"C"});
    EXPECT_TRUE(rules.is_suspended("B"));
}

// A drain that lets parked requests go may run between a worker's suspension and its wait:
// once marked parked, the request goes at the first resume_parked, and its wait returns.
TEST(BlkdebugRules, MarkedParkedGoesAtOnceEvenBeforeItWaits)
{
    BlkdebugRules rules({});
    ASSERT_EQ(rules.add_breakpoint("write_aio", "A"), 0);
    auto outcome = rules.event(BlkdebugEvent::WriteAio);
    ASSERT_EQ(outcome.suspended_ids.size(), 1u);
    EXPECT_TRUE(rules.resume_parked().empty());  // not waiting yet: left alone
    rules.mark_parked(outcome.suspended_ids);
    EXPECT_EQ(rules.resume_parked(), std::vector<std::string>{"A"});
    EXPECT_FALSE(rules.is_suspended("A"));
    rules.wait_resumed(outcome.suspended_ids[0]);  // returns at once
}

// qemu-io's lines stay in order across threads: "Suspended" is announced as the request is
// suspended (before is_suspended, which wait_break polls, sees it), and "Resuming" before
// the parked request can run on, whichever of resume, remove_break and resume_parked lets
// it go.
TEST(BlkdebugRules, AnnouncementsComeBeforeTheStateTheyDescribeChanges)
{
    BlkdebugRules rules({});
    std::vector<std::string> lines;
    ASSERT_EQ(rules.add_breakpoint("read_aio", "A"), 0);
    // Called under the rules' lock, so nothing (wait_break's is_suspended) sees A before.
    auto outcome = rules.event(BlkdebugEvent::ReadAio, [&](const std::string& tag) { lines.push_back(tag); });
    ASSERT_EQ(lines, std::vector<std::string>{"A"});
    ASSERT_EQ(outcome.suspended_ids.size(), 1u);

    // Each way of letting a parked request go; each returns how many it let go.
    using Resume = std::function<size_t(const BlkdebugRules::Announce&)>;
    const Resume resumes[] = {
        [&](const BlkdebugRules::Announce& a) -> size_t { return rules.resume("B", a) == 0 ? 1 : 0; },
        [&](const BlkdebugRules::Announce& a) -> size_t {
            std::vector<std::string> resumed;
            rules.remove_breakpoint("B", &resumed, a);
            return resumed.size();
        },
        [&](const BlkdebugRules::Announce& a) -> size_t { return rules.resume_parked(a).size(); },
    };
    for (const Resume& resume : resumes) {
        ASSERT_EQ(rules.add_breakpoint("write_aio", "B"), 0);
        std::atomic<bool> running_on{false};
        std::thread worker([&] {
            auto parked = rules.event(BlkdebugEvent::WriteAio);
            rules.wait_resumed(parked.suspended_ids[0]);
            running_on = true;
        });
        bool announced_first = false;
        auto announce = [&](const std::string& tag) { announced_first = tag == "B" && !running_on; };
        while (!rules.is_suspended("B")) {
            std::this_thread::yield();
        }
        // resume_parked takes only a request already waiting in wait_resumed: retry until
        // it went (the others let it go at the first call).
        while (resume(announce) == 0) {
            std::this_thread::yield();
        }
        worker.join();
        EXPECT_TRUE(announced_first);
        EXPECT_TRUE(running_on);
    }
    EXPECT_TRUE(rules.is_suspended("A"));
}

class BlkdebugNodeTest : public BlockTest { };

TEST_F(BlkdebugNodeTest, InjectsOnTheRequestsItsRulesMatchAndPassesTheRestThrough)
{
    std::string image = make_image("a.raw", 1 << 20, 0x5a);
    std::string config = path("rules.cfg");
    make_image("rules.cfg",
        std::vector<uint8_t>(
            std::string_view("[inject-error]\nevent = \"read_aio\"\nsector = \"16\"\nerrno = \"28\"\n").begin(),
            std::string_view("[inject-error]\nevent = \"read_aio\"\nsector = \"16\"\nerrno = \"28\"\n").end()));
    auto node = graph().open("blkdebug:" + config + ":" + image, {{"driver", "raw"}}, rw());
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_EQ((*node)->file()->filename(), "blkdebug:" + config + ":" + image);
    std::vector<uint8_t> buf(512);
    ASSERT_TRUE((*node)->pread(0, buf));
    EXPECT_EQ(buf[0], 0x5a);
    auto failed = (*node)->pread(16 * 512, buf);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().errno_value, ENOSPC);
    std::vector<uint8_t> data(512, 0x11);
    ASSERT_TRUE((*node)->pwrite(0, data));
    EXPECT_FALSE((*node)->pwrite(16 * 512, data));
    node->reset();
    EXPECT_EQ(file_bytes(image)[0], 0x11);
    EXPECT_EQ(file_bytes(image)[16 * 512], 0x5a);
}

TEST_F(BlkdebugNodeTest, OpenErrorsAreQemus)
{
    std::string image = make_image("a.raw", 4096);
    EXPECT_EQ(graph().open("blkdebug:" + image, {{"driver", "raw"}}, rw()).error().desc,
        "blkdebug requires both config file and image path");
    EXPECT_EQ(graph().open("blkdebug:" + path("none.cfg") + ":" + image, {{"driver", "raw"}}, rw()).error().desc,
        "Could not read blkdebug config file: No such file or directory");
    EXPECT_EQ(graph().open("blkdebug::" + image, {{"driver", "raw"}, {"file.align", "3"}}, rw()).error().desc,
        "Cannot meet constraints with align 3");
    EXPECT_EQ(
        graph()
            .open("blkdebug::" + image, {{"driver", "raw"}, {"file.max-transfer", "1000"}, {"file.align", "512"}}, rw())
            .error()
            .desc,
        "Cannot meet constraints with max-transfer 1000");
}

}  // namespace
