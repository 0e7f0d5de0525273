// Progress of long operations, for Prevayler::Options::progress.
#pragma once

#include <cstdint>
#include <optional>

namespace prevayler {

struct Progress {
  enum class What {
    recovery,        // done: events replayed after the snapshot
    snapshot_write,  // done: bytes of the snapshot written
    snapshot_read,   // done: bytes of the snapshot read (during recovery)
  };
  What what = What::recovery;
  std::uint64_t done = 0;
  // When known in advance; the journal's event count is not.
  std::optional<std::uint64_t> total;
  // The last call for this operation: `done` is final.
  bool finished = false;
};

// Between two calls for one operation at least this long passes (except the
// first and the final call), so the callback never runs per event.
inline constexpr std::uint64_t progress_interval_ms = 200;

}  // namespace prevayler
