// Retention: deletes the snapshots neither among the newest `keep_snapshots`
// nor a monthly restore point (keep_monthly_snapshots: the newest snapshot
// of each of the last N calendar months, dated by the file's modification
// time; core/monthly_retention.hpp), and the journal segments below the
// oldest snapshot kept.
//
// Invariants kept at every step, so that a failure or a crash between two
// deletions leaves a directory every reader accepts, and the next run (it
// lists the directory afresh) finishes the job:
//  - segments go only below the boundary (the oldest snapshot kept,
//    durable: the directory is synced before the first deletion), so
//    recovery, which starts at the newest snapshot, never needs them, and
//    every snapshot kept has the whole journal after it;
//  - segments go in ascending id order, each deletion synced before the
//    next: a missing segment P+1 implies a missing segment P, for an
//    observer and after a power loss. The fence check relies on it
//    (file/segment_files.hpp);
//  - snapshots go after the segments, also oldest first, and never the
//    newest one (nor any kept): those between kept ones only shortened a
//    replay that now starts at the newest.
// A recovery reading the files being deleted restarts from the newer
// snapshot (file/replay.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/monthly_retention.hpp"
#include "file/file_system.hpp"

namespace prevayler::detail {

// Returns the number of files deleted; throws ConfigError for a policy that
// keeps everything (both 0) and StorageError naming the file that could not
// be deleted.
std::size_t prune_directory(FileSystem& fs, const std::string& directory, RetentionPolicy policy);

}  // namespace prevayler::detail
