// Writes group commits at the end of the journal segment this instance
// owns: synchronously (append) or pipelined (start, then wait in order).
// Every item goes through JournalPut, so it is durable exactly once or the
// writer reports why not.
//
// Positions. The writer holds the segment it owns and the next order in it;
// each write takes the next orders, one per item, in start order. A
// pipelined write started alone in flight is sent by its wait(), which
// comes next; one started behind others is sent on a pool thread, its
// items in order, or by its wait() when no pool thread has taken it yet.
// Several writes may be on their way at once (at most writes_in_flight_max).
//
// Failure protocol (the engine owns it; include/prevayler/storage.hpp and
// docs/protocol.md). A pending write's wait() reports that write only:
//   returns             every item of it is durable;
//   SupersededError     another writer's item is at one of its orders;
//   StorageFailedError  an item's outcome is unknown;
//   StorageError        certainly not every item was stored.
// What the writer guarantees on top: once a write has failed, no item of a
// write is sent any more until resume_after_failure() (the send gate closes
// before the failed write's wait() can report it), so the writes the engine
// fails never reach the journal, except one already being sent when the
// failure happened. resume_after_failure() moves the next order back to the
// first order the failed write did not store, so the next write follows the
// last acknowledged one and fills the gap; when an item of a later write
// already landed behind that gap it throws StorageFailedError instead:
// filling the gap would make that item replayable.
//
// Threads: start(), append(), seal_segment(), own() and
// resume_after_failure() from one thread at a time (the engine's writer);
// waits from one other thread, in start order. REQUIRES: nothing pending
// for seal_segment(), own() and resume_after_failure().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/journal_put.hpp"
#include "core/record_codec.hpp"
#include "core/task_pool.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

class JournalWriter {
 public:
  JournalWriter(const JournalPut& put, std::size_t writes_in_flight_max);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes from order 1 of `segment` on (after the seal that took it).
  void own(std::uint64_t segment);
  std::uint64_t segment() const;
  // Nothing written yet in the owned segment.
  bool segment_empty() const;
  // Where the next write's first item goes (segment, order), for what is
  // bound to its position (encryption). Call from the thread that then
  // starts or appends that write: nothing else moves it meanwhile.
  RecordPosition next_position() const;
  // The last order this writer has acknowledged (its write durable, every
  // write before it too), or {segment, 0} right after owning a segment:
  // what a follower's position reaches once it applied that write.
  // Thread-safe.
  JournalPosition acknowledged() const;

  // The items of one group commit, durable on return. A failure part-way
  // leaves an incomplete fragment sequence that replay ignores; the next
  // write follows it. Throws like put_or_conflict, SupersededError for a
  // conflict.
  void append(const std::vector<std::string>& items);

  // Seals the owned segment (a seal record pointing at the next one) and
  // owns the next: entries written from now on follow the next snapshot.
  void seal_segment(std::uint64_t writer_id);

  std::unique_ptr<PendingAppend> start(std::vector<std::string> items);
  void resume_after_failure();

  // Waits for the pool's writes (their waits may still run) and stops it.
  void close();

 private:
  struct Write;
  class Pending;
  class Inside;
  void send(Write& write);
  void finish(Write& write);
  void assert_nothing_pending() const;
  void put_durably(std::uint64_t order, const std::string& content);

  const JournalPut& put_;
  const std::size_t writes_in_flight_max_;
  // Only the writer's thread moves the position; the mutex orders it with
  // the waits' updates of the failure record.
  mutable std::mutex mutex_;
  std::uint64_t segment_ = 0;
  std::uint64_t next_order_ = 1;
  JournalPosition acknowledged_;               // see acknowledged()
  std::size_t writes_in_flight_ = 0;           // started, not yet waited: for the invariants only
  std::optional<std::uint64_t> gap_order_;     // first order the failed write did not store
  bool landed_behind_gap_ = false;             // a later write stored an item after the gap
  std::atomic<bool> inside_{false};            // a start, append or seal is running
  std::atomic<bool> send_gate_closed_{false};  // a write failed: send nothing more
  std::unique_ptr<TaskPool> pool_;             // last: its threads use the members above
};

}  // namespace prevayler::detail
