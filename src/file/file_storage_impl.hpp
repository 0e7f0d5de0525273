// Internal entry point of the file storage that takes the filesystem seam,
// for fault-injection tests and the simulated filesystem.
#pragma once

#include <memory>

#include "core/monthly_retention.hpp"
#include "file/file_system.hpp"
#include "prevayler/file_storage.hpp"

namespace prevayler::detail {

// `lock_directory` false skips the flock, so a test can play two hosts on a
// shared filesystem (where flock may not hold) in one process.
std::unique_ptr<Storage> make_file_storage(FileStorageOptions options,
                                           std::shared_ptr<FileSystem> fs,
                                           bool lock_directory = true);

// prune_file_storage() through the seam.
std::size_t prune_file_storage(FileSystem& fs, const std::string& directory,
                               RetentionPolicy policy);

}  // namespace prevayler::detail
