// The seam between the model test and a real storage: a Backend creates
// storages for several "hosts" on ONE shared journal (a directory, a
// table+bucket), crashes a host, gives the operator's access to the journal
// (prune, copy: the code the `prevayler` command runs), and opens the
// journal once more for the final check. One Backend per journal: a seed
// starts with one, and each copy moves the run to a fresh one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "ops/journal_access.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::model {

// Per-open settings, drawn from the seed.
struct Knobs {
  std::uint32_t keep_snapshots = 0;          // retention of this instance, 0..3
  std::uint32_t keep_monthly_snapshots = 0;  // retention by age, 0..2
  std::size_t writes_in_flight_max = 1;      // journal writes in flight
  std::size_t compress_records_over = 0;     // bytes; 0 never compresses
  bool compress_snapshots = true;
  // Records of at least this many bytes are written direct (O_DIRECT) by
  // the file storage; 0 never. Ignored by the AWS storage.
  std::uint64_t direct_write_bytes_min = 0;
};

// The direct-write thresholds an instance or a promoted follower draws:
// never, every record, batches of a few events.
inline constexpr std::uint64_t direct_write_thresholds_bytes[] = {0, 1, 300};

// The snapshots a journal holds, each with the time retention by age dates
// it by, and its segments.
struct JournalFiles {
  std::map<std::uint64_t, std::int64_t> snapshots;  // id -> ms since the epoch
  std::set<std::uint64_t> segments;
};

// Injected faults by kind ("file.pwrite_enospc", "aws.throttle", ...), and
// I/O paths taken that a run must cover ("file.direct_writes").
using FaultTally = std::map<std::string, std::uint64_t>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // A storage for a new instance on `host`, with this seed's faults. A
  // crashed host gets a fresh, working I/O path (the process restarted).
  virtual std::unique_ptr<Storage> open(int host, const Knobs& knobs) = 0;
  // The host's process vanishes: every later I/O of every storage opened
  // on it fails at once (and, where the backend models it, unsynced data
  // is lost). Requests already on the wire may or may not land.
  virtual void crash(int host) = 0;
  // The journal as the `prevayler` command sees it (ops::JournalStore: its
  // copy source and destination, its prune), from an operator's machine of
  // its own: no host's crash cuts it, the seed's faults still hit it.
  virtual std::unique_ptr<ops::JournalStore> operator_store() = 0;
  // A storage without faults and without retention, for the final check
  // (and for the reference recovery of a journal a copy moved away from).
  virtual std::unique_ptr<Storage> open_for_check() = 0;
  // A storage for a follower on a host of its own (never crashed, the
  // seed's faults still hit it), whose follower looks at the journal only
  // when the driver asks (catch_up), so a seed replays the same I/O. Null
  // when the storage cannot be followed.
  virtual std::unique_ptr<Storage> follower_storage() { return nullptr; }
  virtual FaultTally faults() const = 0;
  // Where the journal is, for a failure message (kept when a seed fails).
  virtual std::string describe() const = 0;
  // Keep the journal after the run (a failing seed), for inspection.
  virtual void keep() {}
  // Moves the journal's clock on (the one retention by age dates snapshots
  // by), where the backend has one it controls.
  virtual void advance_clock_ms(std::int64_t) {}
  // What the journal holds, where the backend can list and date it (the
  // directory; not the AWS storage's one snapshot object).
  virtual std::optional<JournalFiles> files() { return std::nullopt; }
};

using BackendFactory = std::function<std::unique_ptr<Backend>(std::uint64_t seed)>;
// A fresh, empty journal for a copy: of the seed's storage kind, or, with
// `other_kind`, of the other one (file <-> DynamoDB+S3).
using CopyDestinationFactory =
    std::function<std::unique_ptr<Backend>(std::uint64_t seed, bool other_kind)>;

}  // namespace prevayler::model
