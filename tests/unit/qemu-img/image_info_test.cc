// qemu-img info's printing of one image: the expected texts are what Debian's qemu-img 7.2
// printed for a vmdk overlay made with `qemu-img create -f vmdk -b base.vmdk -F vmdk`, so
// member order (a QDict's hash order), the format-specific dump and the backing lines are
// checked byte for byte without needing the vmdk driver.
#include <gtest/gtest.h>

#include "block/node-filename.h"
#include "tools/qemu-img/img-image-info.h"

using qemu::JsonValue;
using qemu::img::ImageInfo;

namespace {

ImageInfo overlay_info()
{
    // The driver hands its data in QAPI member order.
    JsonValue extent = {{"filename", "ov.vmdk"}, {"format", ""}, {"virtual-size", 67108864}, {"cluster-size", 65536}};
    JsonValue data = {{"create-type", "monolithicSparse"}, {"cid", 2025588207}, {"parent-cid", 1830358906},
        {"extents", JsonValue::array({extent})}};
    return ImageInfo{.filename = "ov.vmdk",
        .format = "vmdk",
        .virtual_size = 67108864,
        .actual_size = 12288,
        .cluster_size = 65536,
        .dirty_flag = false,
        .format_specific = JsonValue{{"type", "vmdk"}, {"data", data}},
        .backing_filename = "base.vmdk",
        .full_backing_filename = "base.vmdk",
        .backing_filename_format = "vmdk"};
}

TEST(ImageInfo, HumanTextMatchesQemu)
{
    EXPECT_EQ(qemu::img::image_info_human(overlay_info()),
        "image: ov.vmdk\n"
        "file format: vmdk\n"
        "virtual size: 64 MiB (67108864 bytes)\n"
        "disk size: 12 KiB\n"
        "cluster_size: 65536\n"
        "backing file: base.vmdk\n"
        "backing file format: vmdk\n"
        "Format specific information:\n"
        "    cid: 2025588207\n"
        "    parent cid: 1830358906\n"
        "    create type: monolithicSparse\n"
        "    extents:\n"
        "        [0]:\n"
        "            virtual size: 67108864\n"
        "            filename: ov.vmdk\n"
        "            cluster size: 65536\n"
        "            format: \n");
}

TEST(ImageInfo, ActualPathIsShownWhenItDiffers)
{
    ImageInfo info = overlay_info();
    info.format_specific.reset();
    info.full_backing_filename = "/images/base.vmdk";
    EXPECT_NE(qemu::img::image_info_human(info).find("backing file: base.vmdk (actual path: /images/base.vmdk)\n"
                                                     "backing file format: vmdk\n"),
        std::string::npos);
    info.full_backing_filename.reset();
    EXPECT_NE(qemu::img::image_info_human(info).find("backing file: base.vmdk (cannot determine actual path)\n"),
        std::string::npos);
}

TEST(ImageInfo, JsonMembersAreInQdictOrder)
{
    EXPECT_EQ(qemu::img::json_pretty(qemu::img::image_info_json(overlay_info())),
        "{\n"
        "    \"backing-filename-format\": \"vmdk\",\n"
        "    \"virtual-size\": 67108864,\n"
        "    \"filename\": \"ov.vmdk\",\n"
        "    \"cluster-size\": 65536,\n"
        "    \"format\": \"vmdk\",\n"
        "    \"actual-size\": 12288,\n"
        "    \"format-specific\": {\n"
        "        \"type\": \"vmdk\",\n"
        "        \"data\": {\n"
        "            \"cid\": 2025588207,\n"
        "            \"parent-cid\": 1830358906,\n"
        "            \"create-type\": \"monolithicSparse\",\n"
        "            \"extents\": [\n"
        "                {\n"
        "                    \"virtual-size\": 67108864,\n"
        "                    \"filename\": \"ov.vmdk\",\n"
        "                    \"cluster-size\": 65536,\n"
        "                    \"format\": \"\"\n"
        "                }\n"
        "            ]\n"
        "        }\n"
        "    },\n"
        "    \"full-backing-filename\": \"base.vmdk\",\n"
        "    \"backing-filename\": \"base.vmdk\",\n"
        "    \"dirty-flag\": false\n"
        "}");
}

TEST(ImageInfo, ScalarsInListsAndBooleansDumpLikeQemu)
{
    JsonValue specific = {{"type", "vmdk"}, {"data", {{"list", JsonValue::array({1, "x"})}, {"compressed", true}}}};
    std::string text = qemu::block::dump_format_specific(specific);
    EXPECT_NE(text.find("    list:\n        [0]: 1\n        [1]: x\n"), std::string::npos);
    EXPECT_NE(text.find("    compressed: true\n"), std::string::npos);
}

}  // namespace
