// Replay of the journal segments after the snapshot recovery starts from,
// and the decision of where each segment ends (docs/format.md, "Where a
// segment ends").
//
// Ends are decided from the newest start record backwards: a start record
// decides the end of the segment before it (and, type 6, of earlier
// segments its writer found undecided); a newer decision wins over an
// older one; and a start record that lies beyond its own segment's decided
// end does not count (its writer was slow: a newer opener had already
// decided that segment ended before it, without it). A segment no start
// record decides (the tail; or one whose successor's creator was killed
// before writing its start record) ends at its last intact record, a torn
// final record ignored with a warning; unless, not being the first one
// replayed, it has no start record that counts: then it holds nothing (its
// creator appends only after that record, computed on an end of the
// previous segment this recovery does not share). The fence's start record
// then decides all of those for every later recovery.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/encryption.hpp"
#include "file/file_system.hpp"
#include "file/start_record.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

struct ReplayOutcome {
  // The start record of the segment after the last one replayed: where the
  // last one ends, and the ends no start record had decided.
  StartRecord next_start;
};

// Whether the replay is a recovery's, which acts on the ends it decides,
// or a reader's, which only looks.
enum class ReplayMode {
  // A recovery: every end it decides is recorded in the fence's start
  // record, so what it read of those segments is made durable (fdatasync)
  // first: another process may have written it and not synced.
  recovery,
  // An operator's read (src/ops: inspect, verify, dump, copy's source,
  // read_journal): it decides nothing for anyone, so it never syncs or
  // writes; it may run beside a live instance, on a read-only mount.
  read_only,
};

// Where a promoted follower resumes in the first segment replayed: what it
// applied already is not delivered again.
struct ReplayResume {
  std::uint64_t offset = 0;   // the offset after the last record applied
  std::uint64_t records = 0;  // the batch records applied in the segment
  // The file it applied them from, held open (so its inode number is not
  // reused), when known: another file under that name now (retention
  // deleted it, and a superseded writer re-created the name for a moment)
  // is FileVanished, never read as the same segment.
  const File* applied_from = nullptr;
};

// Replays `segments` (consecutive ids, the first one right after the
// snapshot, or the one a promoted follower stands in with `resume`) into
// `handler`. Throws FileVanished when a file is gone (retention on another
// host), CorruptionError on damage, and, in ReplayMode::recovery,
// StorageError when a sync fails. Encrypted records are opened with
// `decryption` (DecryptionError when they cannot be). The files are read
// on a reader thread of its own (core/pipelined_replay.hpp); `handler` and
// `warn` are called on the calling thread, in journal order, and an error
// is thrown after every entry before it was handled. Nothing else may use
// `fs` meanwhile but through a thread-safe FileSystem.
ReplayOutcome replay_segments(FileSystem& fs, const std::map<std::uint64_t, std::string>& segments,
                              RecoveryHandler& handler,
                              const std::function<void(const std::string&)>& warn, ReplayMode mode,
                              const Decryption& decryption = {},
                              const std::optional<ReplayResume>& resume = std::nullopt);

// The ends start records decide, for a follower (file/file_follower.cpp).
struct SegmentDecisions {
  std::map<std::uint64_t, std::uint64_t> ends;  // decided by start records
  std::set<std::uint64_t> started;              // segments whose own start record counts
};

// Decides the ends of all `segments` but the last, newest decision first
// (the rules above).
SegmentDecisions decide_segment_ends(FileSystem& fs,
                                     const std::map<std::uint64_t, std::string>& segments);

// A follower's step: delivers the batch records of segment `id` between
// offsets `from` (the segment's start: its header is checked) and `end`,
// both record boundaries a writer made durable, numbering them after
// `records`, which it advances. Damage before `end` is corruption. Returns
// the offset reached (`end`). `held`: the file read from so far, kept open
// by the caller (opened on the first read); another file under `path` now
// throws FileVanished, as a deleted one does. Throws FileVanished,
// CorruptionError.
std::uint64_t replay_segment_range(FileSystem& fs, std::uint64_t id, const std::string& path,
                                   std::uint64_t from, std::uint64_t end, std::uint64_t& records,
                                   File& held, RecoveryHandler& handler,
                                   const Decryption& decryption = {});

}  // namespace prevayler::detail
