// After a pipelined journal write is acknowledged, whether the writer holds
// the next group commit back for the producers of that write to come back.
//
// Why. In a closed loop (each producer waits for its event to be durable
// before it sends the next) with one write in flight, the producers split
// into two cohorts that take turns: while one cohort's write travels, the
// other's events gather, and the moment the write is acknowledged they go
// out, before the acknowledged producers are back. Each write carries half
// the producers (measured on moto, 64 producers: 32 events per write,
// every write). Where a write's time is the service's time per request
// (moto's ~4 ms of Python, a DynamoDB round trip) events per request is
// the throughput: waiting, after an acknowledgement of k events, until k
// more events have arrived makes one write of what would be two, for a
// wait much shorter than a write (the producers only have to wake up).
//
// The rule: after a write of k events is acknowledged, the next group
// commit waits while fewer than k events have arrived since, for at most
// linger_write_time_percent of that write's time and never longer than
// linger_time_max: producers that do not come back (an open loop) cost at
// most that per write. A lone producer (k = 1) sends the next event itself
// and never waits. The engine applies it whenever a pipeline slot is free,
// with other writes in flight too: there the first producer back would
// otherwise leave alone, and the cohorts would stay split.
//
// Two cohorts become one. With writes in flight the producers can still
// split into cohorts that each fill their own write, and writes are
// acknowledged in order, so each cohort also waits for the other's tail
// (bench/closed_loop_ceiling.py: two cohorts of 64 producers reach 16% less
// than one through the capacity model's latency). When a write is
// acknowledged while the producers of the one before are not all back,
// the wait covers both: what is still owed plus this write's events. Two
// writes acknowledged together (the later one was done first and waited
// for the earlier) then leave in one, and stay one.
//
// Deterministic: time is the caller's, so a test feeds events and times
// and checks the decisions. Thread-safety: none; the engine calls it under
// its event lock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace prevayler::detail {

class GroupCommitLinger {
 public:
  using Clock = std::chrono::steady_clock;

  // The longest a group commit waits for returning producers.
  static constexpr std::chrono::microseconds linger_time_max{2000};
  // And at most this share of the acknowledged write's time, so that a
  // fast storage waits as little as its writes take.
  static constexpr int linger_write_time_percent = 50;

  // A write of `events` events, started `write_time` before `now`, was
  // acknowledged at `now`.
  void acknowledged(std::uint64_t events, Clock::duration write_time, Clock::time_point now) {
    // Still waiting for the producers of the write acknowledged before:
    // they and this write's are one cohort from now on.
    owed_events_ = waiting(now) ? owed_events_ - arrived_events_ + events : events;
    arrived_events_ = 0;
    const Clock::duration share =
        std::max(Clock::duration::zero(), write_time) * linger_write_time_percent / 100;
    deadline_ = now + std::min<Clock::duration>(linger_time_max, share);
  }

  // An event arrived (accepted by the engine).
  void arrived() noexcept {
    if (arrived_events_ < owed_events_) ++arrived_events_;
  }

  // Whether the next group commit should still wait at `now`.
  bool waiting(Clock::time_point now) const noexcept {
    return arrived_events_ < owed_events_ && now < deadline_;
  }

  // Until when waiting() may hold (meaningful while it does).
  Clock::time_point deadline() const noexcept { return deadline_; }

 private:
  std::uint64_t owed_events_ = 0;     // events of the cohort last acknowledged
  std::uint64_t arrived_events_ = 0;  // events accepted since, up to owed_events_
  Clock::time_point deadline_{};
};

}  // namespace prevayler::detail
