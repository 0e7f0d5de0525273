// The Values state (values.hpp) on a clock the test sets: each event's
// journaled timestamp is known, for the point-in-time tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "prevayler/point_in_time.hpp"
#include "support/values.hpp"

namespace prevayler::testing {

using ValuesPrevayler = Prevayler<Values, int>;

// Milliseconds since the epoch that the next event gets.
struct TestClock {
  std::shared_ptr<std::int64_t> now_ms = std::make_shared<std::int64_t>(0);
  Timestamp at(std::int64_t ms) const { return Timestamp(std::chrono::milliseconds(ms)); }
};

inline ValuesPrevayler::Options clocked_values_options(std::unique_ptr<Storage> storage,
                                                       const TestClock& clock) {
  ValuesPrevayler::Options o = values_options(std::move(storage));
  o.timestamp = [now = clock.now_ms] { return Timestamp(std::chrono::milliseconds(*now)); };
  return o;
}

// Opens `storage` read-only or not: what `state()` shows is the test's subject.
inline std::vector<int> values_of(std::unique_ptr<Storage> storage) {
  ValuesPrevayler p(clocked_values_options(std::move(storage), TestClock{}));
  return p.state()->v;
}

// Events an hour old, on the system clock, so that the snapshots' times
// (when a snapshot has no event after it) compare with them.
inline const std::int64_t clocked_base_ms =
    system_clock_timestamp().time_since_epoch().count() - std::int64_t{3'600'000};

// `ms` after clocked_base_ms, as ISO 8601.
inline std::string iso(std::int64_t ms) {
  return to_iso8601(Timestamp(std::chrono::milliseconds(clocked_base_ms + ms)));
}

// The first `n` of `all`.
inline std::vector<int> prefix(const std::vector<int>& all, std::size_t n) {
  return std::vector<int>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace prevayler::testing
