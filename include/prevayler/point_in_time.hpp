// Recovery as of a point in time: a read-only instance showing the state
// after the last event at or before a journal position or a timestamp,
// for audits and debugging, rebuilt from the snapshots and segments still
// kept (nothing is locked, fenced or written: it may run beside the live
// writer).
//
//   prevayler::FileStorageOptions storage;
//   storage.directory = "bank-data";
//   Prevayler<bank::Ledger, bank::Event>::Options options;
//   options.business = bank::apply;
//   options.storage = prevayler::make_file_storage_as_of(
//       storage, prevayler::PointInTime::parse("2026-12-01T12:00:00Z"));
//   Prevayler<bank::Ledger, bank::Event> audit(std::move(options));
//   audit.state();      // as of 12:00:00 UTC; audit.handle(...) throws ReadOnlyError
//
// The instance recovers as any does (snapshot, then the business function
// over each event, state hashes and schema versions checked), writes no
// snapshot at open, takes no automatic snapshots, and refuses handle(),
// handle_async() and snapshot() with ReadOnlyError. The AWS storage's
// counterpart is make_aws_storage_as_of (prevayler/aws_storage.hpp).
// docs/operations.md has what each storage keeps and so can show.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "prevayler/file_storage.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler {

// Where to stop: exactly one of the two is set.
struct PointInTime {
  // The state after the entry at this position, and every entry before it.
  // PointInTime::parse("7:120") is after all of record 120 of segment 7 (a
  // Prevayler's position() reads "segment 7, 120 records"). Throws
  // PointInTimeError when the journal has not reached it yet.
  std::optional<JournalPosition> position;
  // The state after every event up to the first one journaled after this
  // time (timestamps from the default system clock never go backwards, so
  // that is every event at or before it).
  std::optional<Timestamp> time;

  // "SEGMENT:RECORDS" (also "SEGMENT" for a whole segment, and
  // "SEGMENT:RECORD:ENTRY"), or an ISO 8601 UTC time such as
  // "2026-12-01T12:00:00Z" or "2026-12-01T12:00:00.250Z". Throws
  // ConfigError naming the text when it is neither.
  static PointInTime parse(std::string_view text);
  // As parse() reads it: "7:120:last" style positions print as "7:120".
  std::string to_string() const;
};

// ISO 8601 UTC with milliseconds, "2026-12-01T12:00:00.250Z".
std::string to_iso8601(Timestamp time);
// Reads "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt when `text` is not one.
std::optional<Timestamp> parse_iso8601(std::string_view text);

// A read-only storage showing the file storage at `storage.directory` as of
// `point` (only `directory` and `common.warn` are used). Its recover()
// throws PointInTimeError when what the point needs was removed, and
// StorageError when the directory does not exist.
std::unique_ptr<Storage> make_file_storage_as_of(const FileStorageOptions& storage,
                                                 const PointInTime& point);

}  // namespace prevayler
