#include "aws/throttle_batching_policy.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace prevayler::detail {

ThrottleBatchingPolicy::ThrottleBatchingPolicy(std::size_t writes_in_flight_max,
                                               std::size_t compress_records_over_bytes)
    : writes_in_flight_max_(std::max<std::size_t>(1, writes_in_flight_max)),
      compress_records_over_bytes_(compress_records_over_bytes),
      writes_in_flight_advised_(writes_in_flight_max_) {}

void ThrottleBatchingPolicy::observe(std::uint64_t throttled_total, Clock::time_point now) {
  PREVAYLER_ASSERT(throttled_total >= throttled_seen_, "the throttle count never decreases");
  const bool throttled_since = throttled_total > throttled_seen_;
  throttled_seen_ = throttled_total;
  if (throttled_since) {
    throttled_ = true;
    quiet_since_ = now;
    if (!cut_once_ || now - last_cut_ >= throttle_burst_time) {
      writes_in_flight_advised_ = std::max<std::size_t>(1, writes_in_flight_advised_ / 2);
      last_cut_ = now;
      cut_once_ = true;
    }
    return;
  }
  // One step back per quiet period: the partition's limit is found again
  // slowly, the way it was left quickly.
  // The last quiet period, with every write back, ends the throttled state.
  if (throttled_ && now - quiet_since_ >= throttle_quiet_time) {
    if (writes_in_flight_advised_ < writes_in_flight_max_) {
      ++writes_in_flight_advised_;
    } else {
      throttled_ = false;
    }
    quiet_since_ = now;
  }
  PREVAYLER_ASSERT(writes_in_flight_advised_ >= 1 &&
                   writes_in_flight_advised_ <= writes_in_flight_max_);
}

std::size_t ThrottleBatchingPolicy::compress_records_over_bytes() const noexcept {
  if (!throttled() || compress_records_over_bytes_ == 0) return compress_records_over_bytes_;
  return std::min(compress_records_over_bytes_, throttled_compress_records_over_bytes);
}

}  // namespace prevayler::detail
