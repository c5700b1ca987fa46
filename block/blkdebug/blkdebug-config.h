// Where blkdebug's rules come from: its config file ([inject-error] and [set-state]
// sections, QEMU's -readconfig syntax) and the options form (inject-error.N.event=...,
// set-state.N.new_state=...), with QEMU's error texts. Sections are checked as QEMU's
// QemuOpts check them (known keys, typed values), then turned into rules the way
// blkdebug's add_rule does.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "block/blkdebug/blkdebug-rules.h"
#include "block/block.h"

namespace qemu::block {

enum class RuleSectionKind { InjectError, SetState };

// One section's keys and values, each key once (the last given wins), in given order.
struct RuleSection {
    RuleSectionKind kind = RuleSectionKind::InjectError;
    std::vector<std::pair<std::string, std::string>> values;
};

// The text of a config file, section by section.
Result<std::vector<RuleSection>> parse_blkdebug_config(std::string_view text);
// Takes "inject-error.*" and "set-state.*" out of a node's options.
Result<std::vector<RuleSection>> take_rule_options(BlockOptions& options);
// add_rule over every inject-error section, then every set-state one.
Result<std::vector<BlkdebugRule>> build_blkdebug_rules(const std::vector<RuleSection>& sections);

}  // namespace qemu::block
