// Chooses how many journal writes the engine allows in flight
// (writes_in_flight_allowed), between 1 and writes_in_flight_max (what the
// storage and WriterLimits allow), by hill climbing on acknowledged events
// per second. More writes in flight pay off when a write's time is network
// latency (each write waits, the service has room); they cost when it is
// the service's CPU (smaller batches, more requests for the same events),
// and only a measurement tells which.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace prevayler::detail {

class WritesInFlightTuner {
 public:
  using Clock = std::chrono::steady_clock;

  // Each measurement window lasts at least this long and this many writes.
  static constexpr std::chrono::milliseconds window_time{100};
  static constexpr std::uint64_t window_writes = 16;
  // A window whose rate is below this fraction of the previous one is worse
  // by more than noise: the last step went the wrong way.
  static constexpr double rate_worse_ratio = 0.95;

  explicit WritesInFlightTuner(std::size_t writes_in_flight_max, std::size_t start = 1)
      : writes_in_flight_max_(std::max<std::size_t>(1, writes_in_flight_max)),
        writes_in_flight_allowed_(std::clamp<std::size_t>(start, 1, writes_in_flight_max_)) {}

  std::size_t writes_in_flight_allowed() const noexcept { return writes_in_flight_allowed_; }

  // A write of `events` events was acknowledged at `now`.
  void acknowledged(std::uint64_t events, Clock::time_point now) {
    if (writes_in_flight_max_ == 1) return;
    if (writes_ == 0 && events_ == 0) window_start_ = now;
    events_ += events;
    ++writes_;
    const auto elapsed = now - window_start_;
    if (writes_ < window_writes || elapsed < window_time) return;
    const double rate =
        static_cast<double>(events_) / std::chrono::duration<double>(elapsed).count();
    if (last_rate_ > 0 && rate < last_rate_ * rate_worse_ratio) direction_ = -direction_;
    step();
    last_rate_ = rate;
    events_ = writes_ = 0;
    window_start_ = now;
  }

 private:
  void step() {
    if (direction_ > 0 && writes_in_flight_allowed_ == writes_in_flight_max_) direction_ = -1;
    if (direction_ < 0 && writes_in_flight_allowed_ == 1) direction_ = 1;
    writes_in_flight_allowed_ =
        direction_ > 0 ? writes_in_flight_allowed_ + 1 : writes_in_flight_allowed_ - 1;
  }

  std::size_t writes_in_flight_max_;
  std::size_t writes_in_flight_allowed_;
  int direction_ = 1;
  double last_rate_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t writes_ = 0;
  Clock::time_point window_start_{};
};

}  // namespace prevayler::detail
