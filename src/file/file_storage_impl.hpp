// Internal entry point of the file storage that takes the filesystem seam,
// for fault-injection tests and the simulated filesystem.
#pragma once

#include <cstdint>
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

// Where a promoted follower stands: its recovery resumes there instead of
// reading the snapshot (file/file_follower.cpp).
struct FileResumePoint {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;          // after the last record applied
  std::uint64_t records = 0;         // batch records applied in the segment
  std::shared_ptr<const File> file;  // what it read them from (ReplayResume::applied_from)
};

// A storage whose recover() takes ownership as an open does and delivers
// only what follows `resume` (or restarts the handler and recovers
// everything when retention deleted that segment).
std::unique_ptr<Storage> make_promoted_file_storage(FileStorageOptions options,
                                                    std::shared_ptr<FileSystem> fs,
                                                    bool lock_directory, FileResumePoint resume);

// A follower of the directory (file/file_follower.cpp).
std::unique_ptr<JournalFollower> make_file_follower(FileStorageOptions options,
                                                    std::shared_ptr<FileSystem> fs,
                                                    bool lock_directory);

// prune_file_storage() through the seam.
std::size_t prune_file_storage(FileSystem& fs, const std::string& directory,
                               RetentionPolicy policy);

}  // namespace prevayler::detail
