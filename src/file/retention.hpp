// Retention: deletes the snapshots older than the newest `keep` and the
// journal segments only they need.
//
// Invariants kept at every step, so that a failure or a crash between two
// deletions leaves a directory every reader accepts, and the next run (it
// lists the directory afresh) finishes the job:
//  - only files below the boundary (the `keep`-th newest snapshot, durable:
//    the directory is synced before the first deletion) go, so recovery,
//    which starts at the newest snapshot, never needs them;
//  - segments go in ascending id order, each deletion synced before the
//    next: a missing segment P+1 implies a missing segment P, for an
//    observer and after a power loss. The fence check relies on it
//    (file/segment_files.hpp);
//  - snapshots go after the segments, also oldest first.
// A recovery reading the files being deleted restarts from the newer
// snapshot (file/replay.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "file/file_system.hpp"

namespace prevayler::detail {

// Returns the number of files deleted; throws ConfigError for keep 0 and
// StorageError naming the file that could not be deleted.
std::size_t prune_directory(FileSystem& fs, const std::string& directory, std::uint32_t keep);

}  // namespace prevayler::detail
