// The seam between the model test and a real storage: a Backend creates
// storages for several "hosts" on ONE shared journal (a directory, a
// table+bucket), crashes a host, runs the operator prune, and opens the
// journal once more for the final check. One Backend per seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "prevayler/storage.hpp"

namespace prevayler::model {

// Per-open settings, drawn from the seed.
struct Knobs {
  std::uint32_t keep_snapshots = 0;       // retention of this instance, 0..3
  std::size_t writes_in_flight_max = 1;   // journal writes in flight
  std::size_t compress_records_over = 0;  // bytes; 0 never compresses
  bool compress_snapshots = true;
};

// Injected faults by kind ("file.pwrite_enospc", "aws.throttle", ...).
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
  // The operator prune, keeping `keep` (>= 1) snapshots. Returns what it
  // deleted (files or items).
  virtual std::uint64_t prune(std::uint32_t keep) = 0;
  // A storage without faults and without retention, for the final check.
  virtual std::unique_ptr<Storage> open_for_check() = 0;
  virtual FaultTally faults() const = 0;
  // Where the journal is, for a failure message (kept when a seed fails).
  virtual std::string describe() const = 0;
  // Keep the journal after the run (a failing seed), for inspection.
  virtual void keep() {}
};

using BackendFactory = std::function<std::unique_ptr<Backend>(std::uint64_t seed)>;

}  // namespace prevayler::model
