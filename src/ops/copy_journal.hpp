// The storage-level half of `prevayler copy`: the newest snapshot and the
// journal a recovery reads after it (`all`: every snapshot and segment
// kept) from a JournalSource into an empty JournalDestination, positions
// preserved. The command (tools/prevayler/copy.cpp) adds the flags, the
// progress line and the summary; the model test (tests/model/) runs this
// same function between its storages.
#pragma once

#include <cstdint>
#include <string>

#include "ops/journal_access.hpp"

namespace prevayler::ops {

struct CopyJournalOptions {
  bool all = false;  // every snapshot and segment kept, not only what a recovery reads
};

// What a copy reports while it runs (the command's progress line).
class CopyObserver {
 public:
  virtual ~CopyObserver() = default;
  // Once, before the first entry: the bytes of the segments to copy.
  virtual void started(std::uint64_t total_bytes) { (void)total_bytes; }
  virtual void copied(std::uint64_t entries, std::uint64_t bytes) {
    (void)entries;
    (void)bytes;
  }
  // What a recovery would skip (a torn tail, an incomplete write): not copied.
  virtual void warning(const std::string& message) { (void)message; }
};

struct CopyJournalResult {
  std::uint64_t snapshots = 0;
  std::uint64_t segments = 0;
  std::uint64_t events = 0;
};

// Lists the source first (a missing source fails before the destination is
// touched), then refuses a non-empty destination (StorageError, nothing
// written), then copies. Throws CorruptionError when the segment recovery
// starts at is missing from the source. Stop the instances first: a copy
// is a point in time (docs/operations.md).
CopyJournalResult copy_journal(JournalSource& from, JournalDestination& to,
                               const CopyJournalOptions& options, CopyObserver& observer);

}  // namespace prevayler::ops
