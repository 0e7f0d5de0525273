// Read-only access to a journal for operators (the `prevayler` command) and
// for programs that read a journal without owning it (read_journal), plus
// the writer that lays a journal down in an empty destination (`copy`).
//
// One implementation per storage, built on that storage's own units
// (src/file: naming, record frame, start records, replay; src/aws: the
// DynamoDB and S3 clients, fragment reassembly), so the formats have one
// reader each. Nothing here takes ownership of a journal or writes to a
// source: a JournalSource may read beside a live instance, and what it
// reads then is a prefix of what the next recovery reads.
//
// Positions are the storages' own (JournalPosition: segment, record within
// the segment from 1, entry within the record from 0); a copy keeps them.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/monthly_retention.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::ops {

struct SnapshotInfo {
  std::uint64_t id = 0;
  std::string location;  // a file path, or s3://bucket/key
  std::uint64_t bytes = 0;
  std::uint32_t format_version = 0;  // from its header; 0 when the header is unreadable
  bool compressed = false;
  std::optional<std::int64_t> modified_ms;  // Unix epoch, when the storage knows it
};

// How a segment ends (docs/format.md "Where a segment ends", docs/protocol.md).
enum class SegmentEnd {
  start_record,  // file: the next segment's start record decides its end
  seal,          // DynamoDB: a seal item sends replay on to the next segment
  tail,          // the last segment: open, it ends at its last intact record
};

const char* to_string(SegmentEnd end);

struct SegmentInfo {
  std::uint64_t id = 0;
  std::string location;     // a file path, or "table T, partkey K"
  std::uint64_t bytes = 0;  // file size, or the bytes of its items' contents
  SegmentEnd end = SegmentEnd::tail;
};

// Receives what a read delivers, in journal order.
class JournalVisitor {
 public:
  virtual ~JournalVisitor() = default;
  // Every entry, with its position. `entry` is valid during the call.
  virtual void entry(const JournalPosition& position, std::string_view entry) = 0;
  // A torn tail or an ignored incomplete write: never acknowledged, so a
  // warning, not a problem.
  virtual void warning(const std::string& message) { (void)message; }
};

// One thing verify found wrong. `location` names the file and byte offset,
// the table, partkey and order, or the bucket and key.
struct Problem {
  std::string location;
  std::string message;
};

class JournalSource {
 public:
  virtual ~JournalSource() = default;
  // "directory D" or "DynamoDB table T and s3://B/K".
  virtual std::string describe() const = 0;
  // The kept snapshots, oldest first (the AWS storage keeps one).
  virtual std::vector<SnapshotInfo> snapshots() = 0;
  // The kept segments, oldest first. Throws StorageError when the journal
  // cannot be listed (no such directory or table).
  virtual std::vector<SegmentInfo> segments() = 0;
  // The stored bytes of snapshot `id`, header to end magic, its CRC checked.
  // Throws CorruptionError naming the file or object.
  virtual std::string snapshot_bytes(std::uint64_t id) = 0;
  // Delivers snapshot `id`'s state, with its schema version, to `handler`,
  // as a recovery does. Throws PointInTimeError when it is no longer kept,
  // CorruptionError naming the file or object when it is damaged.
  virtual void read_snapshot(std::uint64_t id, RecoveryHandler& handler) = 0;
  // Reads the segments from `first_segment` on as a recovery reads them:
  // ends decided, torn tails and incomplete writes skipped with a warning.
  // Throws CorruptionError / FormatVersionError naming the location.
  virtual void read(std::uint64_t first_segment, JournalVisitor& visitor) = 0;
  // Checks everything kept (frames and CRCs, seals and start records,
  // orders without gaps, fragments, snapshot checksums and bodies, every
  // record decodable), reporting each problem it finds; `visitor` gets the
  // entries of the journal that decode, to check them further.
  virtual std::vector<Problem> verify(JournalVisitor& visitor) = 0;
};

// Lays a journal down in an empty destination, positions preserved. Calls:
// check_empty(), then put_snapshot() any number of times, then for each
// segment in ascending order begin_segment(), its records (add_record),
// end_segment(); finish() last. A destination numbers the records of a
// segment from 1 as they come, so a source's positions are kept when its
// record numbers have no gaps (a fragmented DynamoDB group commit takes
// several orders, so the records after it move).
class JournalDestination {
 public:
  virtual ~JournalDestination() = default;
  virtual std::string describe() const = 0;
  // Throws StorageError when the destination holds anything.
  virtual void check_empty() = 0;
  // `bytes`: a snapshot as stored (header, body, trailer).
  virtual void put_snapshot(std::uint64_t id, std::string_view bytes) = 0;
  virtual void begin_segment(std::uint64_t id) = 0;
  // One group commit: `entries` as journaled; `record`: its number in the
  // source (see above).
  virtual void add_record(std::uint64_t record, const EntryBatch& entries) = 0;
  // `last`: no segment follows (the tail stays open).
  virtual void end_segment(bool last) = 0;
  // Makes everything durable.
  virtual void finish() = 0;
};

// Where one journal is (a directory, or a table, bucket and key), for the
// operator's storage-level operations: what `prevayler` runs for inspect,
// verify, dump, copy and prune, and what the model test runs as it does.
// make_file_journal_store (file_journal.hpp), make_aws_journal_store
// (aws_journal.hpp).
class JournalStore {
 public:
  virtual ~JournalStore() = default;
  virtual std::string describe() const = 0;
  // Reads it without taking ownership (safe beside a live instance).
  virtual std::unique_ptr<JournalSource> source() = 0;
  // Writes a copy into it, when it is empty.
  virtual std::unique_ptr<JournalDestination> destination() = 0;
  // Deletes what recovery no longer reads, with the storage's own retention
  // (safe while instances run; docs/protocol.md I4, I9): the file storage
  // keeps the newest `keep_snapshots` snapshots and the monthly restore
  // points of `keep_monthly_snapshots` (one of them at least 1), with the
  // journal from the oldest kept; the AWS storage its one snapshot, and
  // with keep_monthly_snapshots >= 2 it deletes nothing (it cannot date
  // the snapshots before that one). Returns the files or items deleted.
  virtual std::uint64_t prune(detail::RetentionPolicy policy) = 0;
};

// ---- For the implementations (file_journal, aws_journal) ----

// Reads a snapshot's state to its end, so that its CRC and, compressed, its
// zstd frame are checked, and drops it.
class DrainingHandler : public RecoveryHandler {
 public:
  void snapshot(std::uint64_t snapshot_id, std::istream& state) override;
  void restart() override {}
  void entry(const JournalPosition&, std::string_view) override {}
};

// A destination re-encodes records as the storages do by default.
inline constexpr std::size_t copy_compress_records_over_bytes = 4096;
inline constexpr int copy_record_compression_level = 1;

// The writer id a destination stamps on the records it writes.
std::uint64_t random_writer_id();

}  // namespace prevayler::ops
