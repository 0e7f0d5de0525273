// The embedded default storage: a directory of numbered snapshot files and
// journal segment files (format: docs/format.md).
//
//   prevayler-data/
//     LOCK                              held (flock) by the owning process
//     SYNCED                            where the journal is durable, for followers
//     journal-00000000000000000000.log  segment 0: events before snapshot 1
//     journal-00000000000000000001.log  segment 1: events after snapshot 1
//     snapshot-00000000000000000001.snap
//
// A group commit is one write (pwritev: large entries are not copied into
// the record first) plus one fdatasync(). Snapshots are written
// under a temporary name, synced, renamed, and the directory synced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "prevayler/storage.hpp"
#include "prevayler/storage_options.hpp"

namespace prevayler {

struct FileStorageOptions {
  std::filesystem::path directory = "prevayler-data";
  // Create the directory (and its parents) when missing. When false, a
  // missing directory is a StorageError.
  bool create_directory = true;
  // false skips fdatasync: fast, and NOT durable across power loss or a
  // kernel crash (a process crash still loses nothing). For tests only.
  bool sync = true;
  // A follower (prevayler::Follower) looks for new records when inotify
  // reports a change in the directory, and at least this often (the only
  // trigger where inotify does not work, e.g. network filesystems).
  std::uint64_t follow_poll_interval_ms = 100;
  // The journal segment being written grows in preallocated chunks of
  // zeros, written ahead of the records, so that a group commit's
  // fdatasync flushes the record alone, not also the file's new size and
  // extents. A chunk is as large as the segment already is (from 64 KiB),
  // at most this; 0 turns preallocation off (each append grows the file).
  // The unused zeros are cut off when the instance starts the next segment
  // or closes; after a crash they stay and read as the journal's end
  // (docs/format.md, "Preallocated space").
  std::uint64_t segment_preallocation_bytes = std::uint64_t{64} << 20;
  // A journal record of at least this many bytes (a batch of large events)
  // is written with O_DIRECT, from an aligned copy of the record, instead of
  // being copied into the page cache: on machines where new page-cache
  // pages are slow to fill, that copy costs more than the disk's write
  // (docs/benchmarks.md, "Large records written direct"). Durability still
  // comes from fdatasync; the format is the same (the padding to the next
  // block reads as preallocated space). Where the filesystem has no direct
  // I/O, the storage warns once and writes through the page cache. 0 turns
  // direct writes off.
  std::uint64_t direct_write_bytes_min = std::uint64_t{1} << 20;
  // Retention (keep_snapshots: the snapshot files older than the newest N
  // and the journal segments only those need are deleted once a new
  // snapshot is durable, and at open, finishing a run that failed;
  // keep_monthly_snapshots also keeps the newest snapshot file of each of
  // the last N months, by its modification time, and the journal after it),
  // compression and warnings (recovery: a torn record cut off the
  // journal's end).
  StorageOptions common;
};

// Opens nothing yet: the directory is locked and read by recover().
std::unique_ptr<Storage> make_file_storage(FileStorageOptions options);

// Operator pruning: deletes the snapshots older than the newest
// `keep_snapshots` (at least 1, or 0 with keep_monthly_snapshots: the newest
// only) that are not the newest of one of the last `keep_monthly_snapshots`
// calendar months (StorageOptions), and the journal segments below the
// oldest snapshot kept.
// Safe while instances run, on this host or another: the current owner
// keeps its fence (docs/protocol.md), and a recovery whose files it deletes
// starts over from the newer snapshot. A run that fails midway leaves a
// readable directory; the next run finishes it. Returns the number of
// files deleted.
std::size_t prune_file_storage(const std::filesystem::path& directory,
                               std::uint32_t keep_snapshots = 1,
                               std::uint32_t keep_monthly_snapshots = 0);

}  // namespace prevayler
