// The qemu-img subcommands: each takes the argv that starts with its own name and returns
// the exit status QEMU 7.2 gives for the same outcome.
#pragma once

namespace qemu::img {

int img_amend(int argc, char** argv);
int img_bench(int argc, char** argv);
int img_create(int argc, char** argv);
int img_measure(int argc, char** argv);
int img_info(int argc, char** argv);
int img_check(int argc, char** argv);
int img_map(int argc, char** argv);
int img_convert(int argc, char** argv);
int img_dd(int argc, char** argv);
int img_compare(int argc, char** argv);
int img_resize(int argc, char** argv);
int img_snapshot(int argc, char** argv);

// --help / -h inside a subcommand prints the global help, as QEMU's help() does.
int print_help();

enum LongOption {
    kOptObject = 256,
    kOptImageOpts,
    kOptOutput,
    kOptBackingChain,
    kOptSize,
    kOptStartOffset,
    kOptMaxLength,
    kOptPreallocation,
    kOptShrink,
    kOptTargetImageOpts,
    kOptSalvage,
    kOptTargetIsZero,
    kOptBitmaps,
    kOptSkipBrokenBitmaps,
    kOptForce,
    kOptFlushInterval,
    kOptPattern,
    kOptNoDrain,
};

}  // namespace qemu::img
