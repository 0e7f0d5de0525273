// The storage seam: the small byte-level interface the core drives. The file
// storage, the DynamoDB+S3 storage, the in-memory storage and test wrappers
// all implement it. Storages never interpret entries; the core never sees
// how a storage frames them.
//
// Journal model, shared by every backend (the seed's layout): the journal is
// a sequence of segments numbered by the snapshot after which their events
// were created (the seed's `partkey`); within a segment, records are numbered
// from 1 (`order`), one record per group commit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "prevayler/metrics.hpp"

namespace prevayler {

// Where an entry lives in the journal, for error messages.
struct JournalPosition {
  std::uint64_t segment = 0;  // partkey: the snapshot the segment follows
  std::uint64_t record = 0;   // order within the segment, from 1
  std::uint32_t entry = 0;    // index within the record's group commit, from 0
  std::string to_string() const;
};

// The entries of one group commit, in order. Each entry is contiguous; the
// entries are packed into a few chunks that are never moved once written,
// so a batch of thousands of small events costs a few allocations and a
// batch of large ones at most one copy of each (no reallocation copying the
// whole batch again as it grows, under the caller's lock), none when the
// caller hands its buffer over.
class EntryBatch {
 public:
  void add(std::string_view entry) { add(entry, {}); }
  // Adds one entry made of `head` followed by `tail`.
  void add(std::string_view head, std::string_view tail) {
    const std::size_t size = head.size() + tail.size();
    std::string& chunk = chunk_with_room(size);
    const std::size_t begin = chunk.size();
    chunk.append(head);
    chunk.append(tail);
    ends_.push_back(Place{chunks_.size() - 1, begin, chunk.size()});
    bytes_ += size;
  }
  // Adds one entry made of `head` followed by owned[offset..]: the head is
  // written into the room before `offset`, and a large `owned` becomes one
  // of the batch's chunks instead of being copied (a caller under a lock
  // then holds it for no copy of a large event). REQUIRES: head.size() <=
  // offset <= owned.size().
  void add(std::string_view head, std::string&& owned, std::size_t offset) {
    const std::string_view tail = std::string_view(owned).substr(offset);
    if (tail.size() < entry_chunk_bytes_min) return add(head, tail);
    const std::size_t begin = offset - head.size();
    std::copy(head.begin(), head.end(), owned.begin() + static_cast<std::ptrdiff_t>(begin));
    bytes_ += owned.size() - begin;
    chunks_.push_back(std::move(owned));
    ends_.push_back(Place{chunks_.size() - 1, begin, chunks_.back().size()});
  }
  std::size_t size() const noexcept { return ends_.size(); }
  bool empty() const noexcept { return ends_.empty(); }
  std::size_t bytes() const noexcept { return bytes_; }
  std::string_view operator[](std::size_t i) const noexcept {
    const Place place = ends_[i];
    return std::string_view(chunks_[place.chunk]).substr(place.begin, place.end - place.begin);
  }

 private:
  // A new chunk holds at least this (so small entries share few chunks),
  // grows with the batch up to entry_chunk_bytes_max, and is as large as an
  // entry that needs more.
  static constexpr std::size_t entry_chunk_bytes_min = std::size_t{4} << 10;
  static constexpr std::size_t entry_chunk_bytes_max = std::size_t{4} << 20;
  struct Place {
    std::size_t chunk;  // index in chunks_
    std::size_t begin;  // the entry's first byte in that chunk
    std::size_t end;    // past its last byte
  };

  std::string& chunk_with_room(std::size_t size) {
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < size) {
      chunks_.emplace_back();
      chunks_.back().reserve(
          std::max(size, std::min(std::max(bytes_, entry_chunk_bytes_min), entry_chunk_bytes_max)));
    }
    return chunks_.back();
  }

  std::vector<std::string> chunks_;
  std::vector<Place> ends_;  // one per entry
  std::size_t bytes_ = 0;
};

// Receives what recover() finds, in order.
class RecoveryHandler {
 public:
  virtual ~RecoveryHandler() = default;
  // The latest snapshot, at most once and before any entry (since the last
  // restart()). Not called when there is no snapshot (recovery then starts
  // from the initial state).
  virtual void snapshot(std::uint64_t snapshot_id, std::istream& state) = 0;
  // snapshot() with the state schema version the snapshot records (1 for
  // one that records none). Storages call this one; the default ignores the
  // version, for handlers that only copy or verify bytes.
  virtual void versioned_snapshot(std::uint64_t snapshot_id, std::istream& state,
                                  std::uint32_t state_schema_version) {
    (void)state_schema_version;
    snapshot(snapshot_id, state);
  }
  // Recovery starts over: everything delivered so far is discarded and the
  // handler is back at the initial state. A storage calls it when what it
  // was reading changed under it (retention deleted a segment it was about
  // to replay, the snapshot was replaced while it downloaded it, a
  // transient fault it retries from the start); a newer snapshot and its
  // entries follow.
  virtual void restart() = 0;
  // Every journaled entry after that snapshot, in journal order.
  virtual void entry(const JournalPosition& position, std::string_view bytes) = 0;
};

// A snapshot being written. Obtained from Storage::begin_snapshot(); the
// state as of that call is serialised into stream(), then commit() makes it
// durable. Destroying it without commit() discards it; the previous
// snapshot stays in force.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  virtual std::uint64_t snapshot_id() const = 0;
  virtual std::ostream& stream() = 0;
  // Durable on return; throws StorageError on failure.
  virtual void commit() = 0;
};

// An append in flight, from Storage::start_append().
class PendingAppend {
 public:
  virtual ~PendingAppend() = default;
  // Blocks until this append's outcome is known, and reports this append
  // only (see "Pipelined appends" below): returns when the batch is
  // durable; throws StorageError when it is certainly not journaled, and
  // StorageFailedError when its outcome is unknown or the storage stopped.
  virtual void wait() = 0;
};

class Storage;

// A read-only view of a journal that another process writes: a follower
// (docs/followers.md). Obtained from Storage::follow() instead of
// recover(). It takes no lock, no fence and writes nothing: the writer
// never notices it. It delivers only durable records, whole, as a
// contiguous prefix of the journal, so its state is one a recovery at that
// moment or later would also produce.
//
// Thread-safety: start(), poll() and promote() one at a time (the core
// serialises them); wait_for_change() may run concurrently with poll();
// position() is safe from any thread.
class JournalFollower {
 public:
  virtual ~JournalFollower() = default;
  // Streams the latest snapshot and every durable entry after it to
  // `handler`, as recover() does (with restart() when retention deleted a
  // file it was reading). Throws like recover(), never LockedError.
  virtual void start(RecoveryHandler& handler) = 0;
  // Delivers the records that became durable since the last call, in
  // order, each with its JournalPosition; when retention deleted what it was
  // about to read, handler.restart(), the newest snapshot and the entries
  // after it instead. Returns the number of records delivered; does not
  // block beyond the reads.
  virtual std::uint64_t poll(RecoveryHandler& handler) = 0;
  // Returns after at most `timeout_ms`: true sooner when the journal may
  // have changed (the file storage: inotify, where it works), false at the
  // timeout.
  virtual bool wait_for_change(std::uint64_t timeout_ms) = 0;
  // Makes a wait_for_change() in progress return at once (close,
  // promotion). Thread-safe.
  virtual void wake() = 0;
  // How long the follower thread waits at most between two looks.
  virtual std::uint64_t poll_interval_ms() const = 0;
  // The last record delivered: its segment and its number in it (0: none
  // of the segment yet); `entry` is unused.
  virtual JournalPosition position() const = 0;
  // Turns this follower into the writer: returns a storage whose recover()
  // takes ownership exactly as an open does (lock, fence, seal) and
  // delivers only the entries after position(), or, when it cannot resume
  // there (retention deleted the segment), restart() and a whole recovery.
  // The follower is spent afterwards. Throws LockedError when a live writer
  // holds the lock (naming it).
  virtual std::unique_ptr<Storage> promote() = 0;
};

// Contract for implementations. The core calls recover() once, then
// append(), start_append(), resume_after_failure() and begin_snapshot()
// one at a time (never concurrently with each other), and close() last.
// The waits of pending appends run one at a time too, in the order the
// appends were started, possibly concurrently with those calls.
// SnapshotWriter::stream() and commit() run concurrently with appends.
//
// Pipelined appends: the failure protocol. The core owns it; a storage only
// reports outcomes truthfully and keeps one promise.
//  1. Each wait() reports its own append (PendingAppend::wait()).
//  2. After the first wait() that throws, the core starts nothing more,
//     waits for every append already started, and fails them all: their
//     events were computed from states that will never exist. If one of
//     those wait()s returns (its batch is in the journal, after a failed
//     one) or throws StorageFailedError, the core stops the instance:
//     every later call fails with StorageFailedError.
//  3. Otherwise, with nothing pending, the core calls resume_after_failure()
//     once, then appends again.
// The promise: no batch started from the failed one up to
// resume_after_failure() is ever replayed, and the next append follows the
// last batch whose wait() returned. The simple way to keep it is to send
// nothing once a write has failed, until resume_after_failure(); a storage
// that cannot keep it (a write already on its way landed after the failed
// one) throws StorageFailedError from resume_after_failure(). A
// start_append() that throws counts as a failed wait() in start order.
// Why the core owns the protocol: only it knows which appends were computed
// from the failed states (it may start one while a failure is being
// reported); a storage knows its own writes, so it is asked nothing else.
class Storage {
 public:
  virtual ~Storage() = default;

  // Opens the storage, takes ownership of the journal, and streams the
  // latest snapshot and every entry after it to `handler` (never all in
  // memory at once). Throws StorageError subclasses: LockedError,
  // CorruptionError (naming the file/object and offset), FormatVersionError.
  virtual void recover(RecoveryHandler& handler) = 0;

  // Appends the batch as one group commit. Durable when it returns. On a
  // throw, nothing of the batch counts as journaled: the storage either
  // removed what it wrote (then throws StorageError and stays usable), or
  // throws StorageFailedError, and the core calls nothing more but close().
  virtual void append(const EntryBatch& batch) = 0;

  // Pipelining, for storages where one write takes a network round trip:
  // at most this many start_append()s may be pending (started, and their
  // wait() not yet returned) at once. 1 (the default) means appends are
  // synchronous and start_append() is never called.
  virtual std::size_t writes_in_flight_max() const { return 1; }

  // How many of those the storage advises now, 1..writes_in_flight_max():
  // fewer while the service throttles (the DynamoDB storage,
  // docs/aws.md "Batching under throttling"), so that group commits grow
  // instead of meeting more throttles. The core allows the lower of this
  // and what its own tuning measured. Called under the core's event lock,
  // often: keep it cheap. The default: writes_in_flight_max().
  virtual std::size_t writes_in_flight_advised() const { return writes_in_flight_max(); }

  // Starts appending `batch` after every batch started or appended before
  // it. The core acknowledges a batch only when its wait() and every
  // earlier one returned; on failures, see the protocol above.
  // begin_snapshot() is only called with nothing pending. The default
  // appends synchronously.
  virtual std::unique_ptr<PendingAppend> start_append(EntryBatch batch);

  // Step 3 of the protocol above: called once after a failed wait(), with
  // nothing pending. Keeps the promise (the next start_append() follows the
  // last acknowledged batch, and none of the failed ones is ever
  // replayed), or throws StorageFailedError when it cannot.
  virtual void resume_after_failure() {}

  // Starts a new segment: entries appended after this call belong to it
  // and are replayed after the snapshot the returned writer produces.
  // Throws like append(): StorageError (no new segment, still usable) or
  // StorageFailedError (e.g. its seal met a new owner's), after which the
  // core calls nothing more but close().
  virtual std::unique_ptr<SnapshotWriter> begin_snapshot() = 0;

  // begin_snapshot() for a state of the application's schema version
  // `state_schema_version`, which the snapshot records and recovery hands
  // to RecoveryHandler::versioned_snapshot(). The core calls this one. The
  // default, for storages that record no version, calls begin_snapshot()
  // for version 1 and throws ConfigError for any other.
  virtual std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(
      std::uint32_t state_schema_version);

  // Releases the storage (files, lock, connections). Idempotent.
  virtual void close() = 0;

  // Largest entry (one encoded event with its header) append() accepts.
  virtual std::size_t entry_bytes_max() const = 0;

  // Human-readable location, for messages ("file storage at ./bank-data").
  virtual std::string describe() const = 0;

  // The position of the last durable record this instance appended (or,
  // after recover(), where the journal continues: the new segment and 0).
  // A follower that reached it shows every event acknowledged before the
  // call. Thread-safe. Default: {0, 0} (a storage that cannot be followed).
  virtual JournalPosition position() const { return {}; }

  // Opens the journal as a follower instead of recover(): see
  // JournalFollower. Default: throws ConfigError (this storage cannot be
  // followed).
  virtual std::unique_ptr<JournalFollower> follow();

  // What the storage counts inside itself (retries by reason, throttling,
  // backoff), for Prevayler::metrics(). Thread-safe; called outside the
  // event lock.
  // Default: empty (a storage that does not retry).
  virtual StorageCounters counters() const { return {}; }

  // A storage that only shows a journal (as of a point in time,
  // prevayler/point_in_time.hpp) returns true: the engine then writes no
  // snapshot at open, starts no automatic snapshots, and refuses handle(),
  // handle_async() and snapshot() with ReadOnlyError before the business
  // function runs, so append() and begin_snapshot() are never called.
  virtual bool read_only() const { return false; }
};

}  // namespace prevayler
