// Chooses how many journal writes the engine keeps in flight, between 1 and
// what the storage allows, by hill climbing on acknowledged events per
// second. More writes in flight pay off when a write's time is network
// latency (each write waits, the service has room); they cost when it is
// the service's CPU (smaller batches, more requests for the same events),
// and only a measurement tells which. Not part of the public API.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace prevayler::detail {

class DepthTuner {
 public:
  using Clock = std::chrono::steady_clock;

  // Each measurement window lasts at least this long and this many writes.
  static constexpr std::chrono::milliseconds window_time{100};
  static constexpr std::uint64_t window_writes = 16;

  explicit DepthTuner(std::size_t depth_max, std::size_t start = 1)
      : max_(std::max<std::size_t>(1, depth_max)),
        depth_(std::clamp<std::size_t>(start, 1, max_)) {}

  std::size_t depth() const noexcept { return depth_; }

  // A write of `events` events was acknowledged at `now`.
  void acknowledged(std::uint64_t events, Clock::time_point now) {
    if (max_ == 1) return;
    if (writes_ == 0 && events_ == 0) window_start_ = now;
    events_ += events;
    ++writes_;
    const auto elapsed = now - window_start_;
    if (writes_ < window_writes || elapsed < window_time) return;
    const double rate =
        static_cast<double>(events_) / std::chrono::duration<double>(elapsed).count();
    // Worse by more than noise: the last step went the wrong way.
    if (last_rate_ > 0 && rate < last_rate_ * 0.95) direction_ = -direction_;
    step();
    last_rate_ = rate;
    events_ = writes_ = 0;
    window_start_ = now;
  }

 private:
  void step() {
    if (direction_ > 0 && depth_ == max_) direction_ = -1;
    if (direction_ < 0 && depth_ == 1) direction_ = 1;
    depth_ = direction_ > 0 ? depth_ + 1 : depth_ - 1;
  }

  std::size_t max_;
  std::size_t depth_;
  int direction_ = 1;
  double last_rate_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t writes_ = 0;
  Clock::time_point window_start_{};
};

}  // namespace prevayler::detail
