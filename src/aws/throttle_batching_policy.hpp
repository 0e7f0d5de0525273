// The DynamoDB journal's batching policy under throttling: how many journal
// writes the engine may keep in flight, and from which size a group
// commit's record is compressed, given the throttled attempts the service
// answered so far.
//
// Why. A journal segment is one DynamoDB partition, limited in write units
// per second (1 KB each, rounded up per item). The engine's
// WritesInFlightTuner climbs on acknowledged events per second, which is
// right when a write's time is latency; when the partition is the limit,
// more writes in flight only meet more throttles (each one backs off, and
// a write whose attempts run out fails its events). Fewer writes in flight
// make each group commit bigger (the producers' events wait for a free
// slot), so the same events take fewer, larger items: fewer write units
// per event, and larger items compress better. So the policy cuts the
// writes in flight on throttling and compresses records from a lower size,
// and gives both back when the throttling stops.
//
// The rule (additive increase, multiplicative decrease, as TCP's
// congestion control): a throttle halves the advised writes in flight
// (at least 1), once per throttle_burst_time (the writes in flight meet
// the same empty bucket together: one cut per burst, not one per write);
// every throttle_quiet_time without a throttle adds one back, up to
// writes_in_flight_max, and one more quiet period ends the throttled
// state. While throttled, records compress from throttled_compress_records_over_bytes (or the
// configured threshold when lower); a configured 0 (never compress) stays 0.
//
// Deterministic: time and the throttle count are the caller's (observe()),
// so a test feeds observations and checks the decisions.
//
// Thread-safety: none; the storage serialises the calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace prevayler::detail {

class ThrottleBatchingPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  // Throttles within this long of the last cut belong to the same burst.
  static constexpr std::chrono::milliseconds throttle_burst_time{250};
  // This long without a throttle gives one write in flight back.
  static constexpr std::chrono::milliseconds throttle_quiet_time{1000};
  // While throttled, a batch record whose body has at least this many bytes
  // is compressed: three quarters of a write unit, so that any item whose
  // key attributes and framing could take it past 1 KB (a second unit) is
  // compressed; below that compression saves no unit (an item costs at
  // least one).
  static constexpr std::size_t throttled_compress_records_over_bytes = 768;
  static_assert(throttle_burst_time < throttle_quiet_time,
                "a burst's throttles must not count as quiet time");

  // `writes_in_flight_max`: the storage's (AwsStorageOptions); the advice
  // starts there. `compress_records_over_bytes`: the configured threshold
  // (StorageOptions::compress_journal_records_over; 0 never compresses).
  ThrottleBatchingPolicy(std::size_t writes_in_flight_max, std::size_t compress_records_over_bytes);

  // `throttled_total`: the throttled attempts counted so far (never
  // decreases), seen at `now` (never earlier than the previous call's).
  void observe(std::uint64_t throttled_total, Clock::time_point now);

  // Writes in flight the engine should allow now: 1..writes_in_flight_max.
  std::size_t writes_in_flight_advised() const noexcept { return writes_in_flight_advised_; }
  // The compression threshold for the next group commit (0: never).
  std::size_t compress_records_over_bytes() const noexcept;
  // From a throttle until a quiet period after the advice is back at
  // writes_in_flight_max.
  bool throttled() const noexcept { return throttled_; }

 private:
  const std::size_t writes_in_flight_max_;
  const std::size_t compress_records_over_bytes_;
  std::size_t writes_in_flight_advised_;
  bool throttled_ = false;
  std::uint64_t throttled_seen_ = 0;  // throttled_total at the previous observation
  bool cut_once_ = false;             // last_cut_ is set
  Clock::time_point last_cut_{};      // the last halving
  Clock::time_point quiet_since_{};   // the last throttle, or the last step back up
};

}  // namespace prevayler::detail
