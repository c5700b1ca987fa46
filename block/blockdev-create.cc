// blockdev-create's work per driver. Each one notes where QEMU's job would first wait
// (the file's first truncate, a format's first backend on its node): errors found before
// that reach the client before the command's reply, the rest after it.
#include "block/blockdev-create.h"

#include "block/blockdev-options.h"
#include "block/drivers.h"
#include "block/file-posix.h"
#include "block/vdi/vdi.h"
#include "block/vmdk/vmdk-state.h"
#include "block/vpc/vpc-state.h"

namespace qemu::block {

namespace {

constexpr uint64_t kDefaultExtentSizeHint = 1024 * 1024;

Prealloc prealloc_of(const std::optional<qapi::PreallocMode>& mode)
{
    if (!mode) {
        return Prealloc::Off;
    }
    return parse_prealloc(qapi::PreallocMode_str(*mode)).value_or(Prealloc::Off);
}

// The job's frame around a driver's work: one unit of progress, done when the work ends
// however it ends.
CreateWork create_job(std::function<Result<void>(bool& yielded)> work)
{
    return [work = std::move(work)](Job& job) {
        job.progress_set_remaining(1);
        bool yielded = false;
        Result<void> result = work(yielded);
        job.progress_update(1);
        return JobRunResult{std::move(result), yielded};
    };
}

// blk_new_with_bs for a format's create: it writes and sizes the node, and lets others do
// anything meanwhile. A format named inline reads its image as it opens, where QEMU's job
// first waits; a protocol opens without a request.
Result<std::unique_ptr<BlockBackend>> writer_on(
    BlockDevices& devices, const BlockOptions& ref, bool& yielded, uint64_t extra_perm = 0)
{
    if (auto driver = ref.find("file.driver"); driver != ref.end()) {
        const BlockDriver* opened = find_driver(driver->second);
        yielded = yielded || (opened && opened->protocol_name.empty());
    }
    auto node = TRY(devices.open_ref(ref, "file"));
    return BlockBackend::attach(std::move(node), perm::kWrite | perm::kResize | extra_perm, perm::kAll);
}

CreateWork file_work(BlockDevices& devices, const qapi::BlockdevCreateOptionsFile& o)
{
    file_posix::FileCreateParams params{
        .filename = o.filename,
        .size = o.size,
        .prealloc = prealloc_of(o.preallocation),
        .nocow = o.nocow.value_or(false),
        .extent_size_hint = o.extent_size_hint.value_or(kDefaultExtentSizeHint),
    };
    OpenContext context = devices.graph().context();
    return [context, params](Job& job) {
        job.progress_set_remaining(1);
        auto fd = file_posix::file_create_open(context, params);
        if (!fd) {
            job.progress_update(1);
            return JobRunResult{.result = std::unexpected(std::move(fd).error())};
        }
        // The sizing (a preallocation may write the whole file) runs on a worker, as in
        // QEMU's thread pool; the descriptor goes back on the main thread afterwards.
        auto held = std::make_shared<QemuFd>(std::move(*fd));
        return JobRunResult{
            .result = {},
            .yielded = true,
            .background = [fd = held->get(), params] { return file_posix::file_create_size(fd, params); },
            .holds = held,
            .background_progress = 1,
        };
    };
}

Result<CreateWork> vdi_work(BlockDevices& devices, const qapi::BlockdevCreateOptionsVdi& o)
{
    BlockOptions ref;
    TRY_VOID(flatten_blockdev_ref(o.file, "file", "options.file", ref));
    Prealloc prealloc = prealloc_of(o.preallocation);
    uint64_t size = o.size;
    return create_job([&devices, ref, prealloc, size](bool& yielded) -> Result<void> {
        if (prealloc != Prealloc::Off && prealloc != Prealloc::Metadata) {
            return make_error("Preallocation mode not supported for vdi");
        }
        if (size > vdi::kMaxDiskSize) {
            return vdi::size_unsupported(size);
        }
        auto blk = TRY(writer_on(devices, ref, yielded));
        yielded = true;
        return vdi::write_image(blk->root(), size, prealloc == Prealloc::Metadata);
    });
}

Result<CreateWork> vpc_work(BlockDevices& devices, const qapi::BlockdevCreateOptionsVpc& o)
{
    BlockOptions ref;
    TRY_VOID(flatten_blockdev_ref(o.file, "file", "options.file", ref));
    uint64_t size = o.size;
    bool fixed = o.subformat == qapi::BlockdevVpcSubformat::fixed;
    bool force_size = o.force_size.value_or(false);
    return create_job([&devices, ref, size, fixed, force_size](bool& yielded) -> Result<void> {
        auto blk = TRY(writer_on(devices, ref, yielded));
        yielded = true;
        return vpc::create_on(blk->root(), size, fixed, force_size);
    });
}

Result<CreateWork> vmdk_work(BlockDevices& devices, const qapi::BlockdevCreateOptionsVmdk& o)
{
    // Extent i is "extents.i" (0: "file"), all decoded now.
    std::vector<BlockOptions> refs(1);
    TRY_VOID(flatten_blockdev_ref(o.file, "file", "options.file", refs[0]));
    if (o.extents) {
        for (size_t i = 0; i < o.extents->size(); ++i) {
            BlockOptions ref;
            TRY_VOID(flatten_blockdev_ref((*o.extents)[i], "file", "options.extents[" + std::to_string(i) + "]", ref));
            refs.push_back(std::move(ref));
        }
    }
    vmdk::QmpCreateSettings settings{
        .size = o.size,
        .subformat = o.subformat ? std::string(qapi::BlockdevVmdkSubformat_str(*o.subformat)) : "monolithicSparse",
        .adapter_type = o.adapter_type ? std::string(qapi::BlockdevVmdkAdapterType_str(*o.adapter_type)) : "ide",
        .backing_file = o.backing_file,
        .hw_version = o.hwversion,
        .tools_version = o.toolsversion,
        .zeroed_grain = o.zeroed_grain.value_or(false),
        .extent_count = refs.size() - 1,
    };
    OpenContext context = devices.graph().context();
    return create_job([&devices, refs, settings, context](bool& yielded) {
        return vmdk::create_on(
            context, settings,
            [&](int index) {
                return writer_on(devices, refs.at(static_cast<size_t>(index)), yielded, perm::kConsistentRead);
            },
            yielded);
    });
}

}  // namespace

Result<CreateWork> prepare_blockdev_create(BlockDevices& devices, const qapi::BlockdevCreateOptions& options)
{
    switch (options.driver) {
    case qapi::BlockdevDriver::file:
        return file_work(devices, *options.u.file);
    case qapi::BlockdevDriver::vdi:
        return vdi_work(devices, *options.u.vdi);
    case qapi::BlockdevDriver::vpc:
        return vpc_work(devices, *options.u.vpc);
    case qapi::BlockdevDriver::vmdk:
        return vmdk_work(devices, *options.u.vmdk);
    default:
        // Every other driver here exists, and none of them creates images.
        return make_error("Driver does not support blockdev-create");
    }
}

}  // namespace qemu::block
