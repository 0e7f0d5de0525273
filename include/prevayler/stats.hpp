// Counters of one Prevayler instance, from Prevayler::stats().
#pragma once

#include <cstddef>
#include <cstdint>

namespace prevayler {

// A consistent copy of the instance's counters at one moment (taken under
// the event lock), for tests, benchmarks and monitoring. Counters start at
// 0 when the instance opens.
struct Stats {
  // Events made durable by this instance (handle() and handle_async()).
  std::uint64_t events_journaled = 0;
  // Journal writes (group commits) made durable: events_journaled /
  // journal_writes is the mean group commit size.
  std::uint64_t journal_writes = 0;
  // Events the recovery at open replayed after its snapshot.
  std::uint64_t events_replayed = 0;
  // The snapshot the recovery at open started from; 0: none (the initial
  // state).
  std::uint64_t snapshot_id = 0;
  // Journal writes the instance allows in flight now: between 1 and
  // WriterLimits::writes_in_flight_max (capped by what the storage
  // pipelines), adapted to the measured throughput, and lowered while the
  // storage advises fewer (Storage::writes_in_flight_advised(): DynamoDB
  // while it throttles). Always 1 with a storage that writes one at a time
  // (the file storage).
  std::size_t writes_in_flight_allowed = 1;
};

}  // namespace prevayler
