// Creating an image by name with create options (QEMU's bdrv_img_create and bdrv_create):
// qemu-img create, convert and dd, and the emulator's blockdev-snapshot-sync. The options
// are the format's list merged with its protocol's, and the "Formatting ..." line prints
// them as QEMU does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block/block.h"
#include "util/error.h"
#include "util/osdep.h"

namespace qemu::block {

// A create request as -o and the command line give it: the options of the format's list
// merged with the protocol's (BlockDriver::create_opts), validated for their types.
struct CreateRequest {
    std::string filename;
    std::string format;
    std::optional<uint64_t> size;
    BlockOptions opts;  // every key but size; a key given twice keeps its last value
};

// The format's create options followed by those of the filename's protocol it does not
// name itself, the list QEMU merges for bdrv_img_create (empty if either is unknown).
std::vector<CreateOptionDesc> merged_create_opts(std::string_view format, std::string_view filename);
// Parses an -o list into request; unknown keys fail with "Invalid parameter 'k'".
Result<void> parse_create_options(std::string_view list, CreateRequest& request);
// add_old_style_options: -b/-B and -F become the backing_file and backing_fmt create
// options, refused for a format that has none ("Backing file not supported for file
// format 'raw'").
Result<void> add_old_style_options(CreateRequest& request, const std::optional<std::string>& backing,
    const std::optional<std::string>& backing_format);
// The "Formatting ..." line without the trailing newline.
std::string formatting_line(const CreateRequest& request);
// bdrv_create: the format driver creates the image (through the protocol, opening through
// `context`), with QEMU's messages for what fails.
Result<void> create_image(const OpenContext& context, const CreateRequest& request);

// bdrv_img_create as the emulator uses it (blockdev-snapshot-sync): an image of `format`
// and `size` at `filename`, naming `backing_file` in `backing_format` without opening it.
// The "Formatting ..." line goes to `print`.
struct ImageCreateRequest {
    std::string filename;
    std::string format;
    std::string backing_file;
    std::string backing_format;
    uint64_t size = 0;
};
Result<void> img_create(const OpenContext& context, const ImageCreateRequest& request,
    const std::function<void(const std::string&)>& print);

}  // namespace qemu::block
