// The embedded default storage: a directory of numbered snapshot files and
// journal segment files (format: docs/format.md).
//
//   prevayler-data/
//     LOCK                              held (flock) by the owning process
//     journal-00000000000000000000.log  segment 0: events before snapshot 1
//     journal-00000000000000000001.log  segment 1: events after snapshot 1
//     snapshot-00000000000000000001.snap
//
// A group commit is one write() plus one fdatasync(). Snapshots are written
// under a temporary name, synced, renamed, and the directory synced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "prevayler/storage.hpp"

namespace prevayler {

struct FileStorageOptions {
  std::filesystem::path directory = "prevayler-data";
  // Create the directory (and its parents) when missing. When false, a
  // missing directory is a StorageError.
  bool create_directory = true;
  // false skips fdatasync: fast, and NOT durable across power loss or a
  // kernel crash (a process crash still loses nothing). For tests only.
  bool sync = true;
  // Retention: 0 keeps every snapshot and the whole journal. N > 0 deletes,
  // once a new snapshot is durable (and at open, finishing a run that
  // failed), the snapshots older than the newest N and the journal
  // segments only those need.
  std::uint32_t keep_snapshots = 0;
  // Snapshots are compressed with zstd (format version 2, docs/format.md)
  // as they are written, in bounded memory. Uncompressed snapshots, old or
  // new, are read either way.
  bool compress_snapshots = true;
  // zstd level: 1 (fastest) to 19 (smallest, slow); -7..-1 are faster still.
  int snapshot_compression_level = 1;
  // A group commit whose journal record would have at least this many bytes
  // of entries is zstd-compressed, when that makes it smaller (record type
  // 5, docs/format.md; builds older than it cannot read such a journal).
  // 0 never compresses. Compressed records are read either way.
  std::size_t compress_journal_records_over = 4096;
  // zstd level of journal records, as snapshot_compression_level.
  int journal_compression_level = 1;
  // Receives recovery warnings (a torn record cut off the journal's end).
  // Default: print to stderr.
  std::function<void(const std::string&)> warn;
};

// Opens nothing yet: the directory is locked and read by recover().
std::unique_ptr<Storage> make_file_storage(FileStorageOptions options);

// Operator pruning: deletes the snapshots older than the newest
// `keep_snapshots` (at least 1) and the journal segments only they need.
// Safe while instances run, on this host or another: the current owner
// keeps its fence (docs/protocol.md), and a recovery whose files it deletes
// starts over from the newer snapshot. A run that fails midway leaves a
// readable directory; the next run finishes it. Returns the number of
// files deleted.
std::size_t prune_file_storage(const std::filesystem::path& directory,
                               std::uint32_t keep_snapshots = 1);

}  // namespace prevayler
