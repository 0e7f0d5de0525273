// Metrics of one Prevayler instance, from Prevayler::metrics(): counters,
// gauges and latency histograms, and what the storage counts itself.
// docs/metrics.md lists each one with its unit; prometheus.hpp renders them.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "prevayler/stats.hpp"

namespace prevayler {

// A histogram with fixed log-scale buckets: bucket i counts the values in
// (2^(i-1), 2^i] (bucket 0: values 0 and 1), the last one everything above
// 2^(bucket_count - 2). Fixed buckets make record() a few instructions, no
// allocation: the engine records under the lock it already holds.
struct Histogram {
  static constexpr std::size_t bucket_count = 32;

  // Per-bucket counts, not cumulative (the Prometheus rendering sums them).
  std::array<std::uint64_t, bucket_count> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum = 0;

  // The inclusive upper bound of bucket i; the last bucket has none (+Inf).
  static constexpr std::uint64_t upper_bound(std::size_t i) { return std::uint64_t{1} << i; }

  static constexpr std::size_t bucket_of(std::uint64_t value) {
    const std::size_t i = value <= 1 ? 0 : static_cast<std::size_t>(std::bit_width(value - 1));
    return i < bucket_count - 1 ? i : bucket_count - 1;
  }

  void record(std::uint64_t value) {
    ++buckets[bucket_of(value)];
    ++count;
    sum += value;
  }
};

// What a storage counts inside itself (Storage::counters()): the AWS
// storage's retries, by service and reason, the requests that failed after
// their retries, and the time it waited between attempts. Empty for
// storages that do not retry (the file and memory storages).
struct StorageCounters {
  // One count for one reason, of one service.
  struct ReasonCount {
    std::string reason;  // "throttled", "server_error", "transport", "damaged_response"
    std::uint64_t count = 0;
    std::string service;  // "dynamodb", "s3"; empty for a storage with one service
  };
  struct ServiceMilliseconds {
    std::string service;
    std::uint64_t ms = 0;
  };
  // Failed attempts that were retried, one entry per (service, reason).
  std::vector<ReasonCount> retries_by_reason;
  // Requests that failed with a retryable error after their retries ran
  // out (attempts, retry quota or time budget), by (service, reason of the
  // last failure).
  std::vector<ReasonCount> retries_exhausted_by_reason;
  // Attempts the service answered by throttling, retried or not (the
  // "throttled" entries of both lists, summed over the services).
  std::uint64_t throttled = 0;
  // Milliseconds waited between attempts (the backoffs), by service.
  std::vector<ServiceMilliseconds> backoff_ms_by_service;
};

// A consistent copy of the instance's metrics, taken under the event lock
// (the storage's counters just after). Counters and histograms start empty
// when the instance opens.
struct Metrics {
  // The counters Prevayler::stats() returns (events journaled, journal
  // writes, what recovery replayed): one set, shared by both calls.
  Stats stats;
  // Bytes of journal entries made durable (entry heads and event bytes,
  // before the storage's framing and compression).
  std::uint64_t bytes_written = 0;
  // Journal writes that failed (their events were never visible).
  std::uint64_t failed_writes = 0;
  // Events not journaled because they left the state unchanged
  // (Options::skip_unchanged), counted once acknowledged; not in
  // stats.events_journaled.
  std::uint64_t events_unchanged = 0;
  // Snapshots made durable by snapshot() (and at open), and those that
  // failed.
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshots_failed = 0;
  // Of those, the automatic ones (Options::snapshot_every_*). A failed one
  // was also reported to Options::warn.
  std::uint64_t automatic_snapshots_written = 0;
  std::uint64_t automatic_snapshots_failed = 0;
  StorageCounters storage;

  // Gauges, at the moment of the copy.
  // Bytes of accepted events not yet durable.
  std::uint64_t pending_bytes = 0;
  // Journal writes started and not yet acknowledged.
  std::uint64_t writes_in_flight = 0;
  // Events and bytes of journal entries made durable since the last
  // snapshot's cut (at open: those the recovery replayed): what the next
  // recovery would replay, and what the automatic snapshots' triggers
  // count.
  std::uint64_t events_since_snapshot = 0;
  std::uint64_t journal_bytes_since_snapshot = 0;

  // Microseconds from handle()'s call to its return, for events that were
  // journaled or waited for an earlier write (an unchanged event whose state
  // was durable already is not timed; nor is handle_async(): its caller
  // decides when to wait).
  Histogram handle_latency_us;
  // Microseconds one journal write took in the storage (append, or start
  // to acknowledgement when pipelined).
  Histogram journal_write_latency_us;
  // Events in each journal write (the group commit size).
  Histogram events_per_write;
  // Microseconds to write one snapshot (cut to durable).
  Histogram snapshot_duration_us;
  // Microseconds the recovery at open took (one value).
  Histogram recovery_duration_us;
};

}  // namespace prevayler
