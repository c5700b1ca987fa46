// blockdev-create: what QEMU's create job does for each driver that can create (its
// bdrv_co_create). The file protocol creates a file by name (or /dev/fdset/N); the formats
// vdi, vpc and vmdk write an image onto nodes given as BlockdevRefs, existing ones or
// opened for the purpose, so an image can be made on a descriptor the emulator was given.
#pragma once

#include <functional>

#include "block/block-devices.h"
#include "block/job.h"
#include "qapi/qapi-types.h"

namespace qemu::block {

using CreateWork = std::function<JobRunResult(Job&)>;

// What QEMU checks before it creates the job, with its texts: the BlockdevRefs decode
// (their errors are the command's, as the visitor's are) and the driver can create. The
// work then runs as the job's.
Result<CreateWork> prepare_blockdev_create(BlockDevices& devices, const qapi::BlockdevCreateOptions& options);

}  // namespace qemu::block
