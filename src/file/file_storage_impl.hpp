// Internal entry point of the file storage that takes the filesystem seam,
// for fault-injection tests.
#pragma once

#include <memory>

#include "file/file_io.hpp"
#include "prevayler/file_storage.hpp"

namespace prevayler::detail {

// `lock_directory` false skips the flock, so a test can play two hosts on a
// shared filesystem (where flock may not hold) in one process.
std::unique_ptr<Storage> make_file_storage(FileStorageOptions options, std::shared_ptr<FileIo> io,
                                           bool lock_directory = true);

}  // namespace prevayler::detail
