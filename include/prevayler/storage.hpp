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

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace prevayler {

// Where an entry lives in the journal, for error messages.
struct JournalPosition {
  std::uint64_t segment = 0;  // partkey: the snapshot the segment follows
  std::uint64_t record = 0;   // order within the segment, from 1
  std::uint32_t entry = 0;    // index within the record's group commit, from 0
  std::string to_string() const;
};

// The entries of one group commit, in order, in one contiguous buffer so a
// batch of thousands of events costs a few allocations.
class EntryBatch {
 public:
  void add(std::string_view entry) { add(entry, {}); }
  // Adds one entry made of `head` followed by `tail`.
  void add(std::string_view head, std::string_view tail) {
    bytes_.append(head);
    bytes_.append(tail);
    ends_.push_back(bytes_.size());
  }
  std::size_t size() const noexcept { return ends_.size(); }
  bool empty() const noexcept { return ends_.empty(); }
  std::size_t bytes() const noexcept { return bytes_.size(); }
  std::string_view operator[](std::size_t i) const noexcept {
    const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
  }

 private:
  std::string bytes_;
  std::vector<std::size_t> ends_;
};

// Receives what recover() finds, in order.
class RecoveryHandler {
 public:
  virtual ~RecoveryHandler() = default;
  // The latest snapshot, at most once and before any entry (since the last
  // restart()). Not called when there is no snapshot (recovery then starts
  // from the initial state).
  virtual void snapshot(std::uint64_t snapshot_id, std::istream& state) = 0;
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
  // Blocks until the batch is durable; throws like Storage::append().
  virtual void wait() = 0;
};

// Contract for implementations. The core calls recover() once, then
// append(), start_append() and begin_snapshot() from a single writer thread
// (never concurrently with each other), and close() last. The waits of
// pending appends run on another thread, in the order the appends were
// started. SnapshotWriter::stream() and commit() run on another thread,
// concurrently with appends.
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
  // throws StorageFailedError and refuses further appends.
  virtual void append(const EntryBatch& batch) = 0;

  // Pipelining, for storages where one write takes a network round trip:
  // at most this many start_append()s may be pending (started, and their
  // wait() not yet returned) at once. 1 (the default) means appends are
  // synchronous and start_append() is never called.
  virtual std::size_t writes_in_flight_max() const { return 1; }

  // Starts appending `batch` after every batch started or appended before
  // it; the core calls wait() on each pending append in start order, and
  // acknowledges a batch only when its wait() and every earlier one
  // returned. When one fails, every append started after it must fail too
  // (its events were computed from states that will never exist), also one
  // started after the failed wait() returned: the core's writer may start
  // it before the core has seen the failure. The storage keeps failing
  // them until resume_after_failure(); it is then either usable with none
  // of them journaled (StorageError) or refuses further appends
  // (StorageFailedError). begin_snapshot() is only called with nothing
  // pending. The default appends synchronously.
  virtual std::unique_ptr<PendingAppend> start_append(EntryBatch batch);

  // Called after a pending append failed, once the core has waited for
  // every append started after it and before it starts the next one: the
  // next start_append() follows the last batch that was acknowledged.
  virtual void resume_after_failure() {}

  // Starts a new segment: entries appended after this call belong to it
  // and are replayed after the snapshot the returned writer produces.
  virtual std::unique_ptr<SnapshotWriter> begin_snapshot() = 0;

  // Releases the storage (files, lock, connections). Idempotent.
  virtual void close() = 0;

  // Largest entry (one encoded event with its header) append() accepts.
  virtual std::size_t entry_bytes_max() const = 0;

  // Human-readable location, for messages ("file storage at ./bank-data").
  virtual std::string describe() const = 0;
};

}  // namespace prevayler
