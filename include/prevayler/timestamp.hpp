// Timestamps of events: wall-clock milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace prevayler {

// A point on the system clock with millisecond resolution. It is journaled
// as a signed 64-bit count of milliseconds since 1970-01-01T00:00:00Z
// (`timestamp.time_since_epoch().count()`), so a replay sees exactly the
// value the live call saw.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// The source of timestamps. Called under the event lock, once per handle();
// with Options::snapshot_every_ms also by the automatic snapshots' thread
// (under the event lock too), the clock their time trigger reads.
using TimestampFunction = std::function<Timestamp()>;

// The default timestamp function: the system clock, truncated to ms.
inline Timestamp system_clock_timestamp() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace prevayler
