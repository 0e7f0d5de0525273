// The engine's units of work, shared by its source files (engine.cpp, the
// writer and acknowledger; engine_snapshot.cpp, the snapshot cuts). All of
// them are guarded by the event lock unless a comment says otherwise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "core/engine.hpp"

namespace prevayler::detail {

// Microseconds since `start`, for the latency histograms.
inline std::uint64_t microseconds_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count());
}

// A group commit in the making, then in flight. Its callers wait on `done`.
struct Engine::Batch {
  EntryBatch entries;  // handed to the storage when the write starts
  std::size_t events = 0;
  std::size_t bytes = 0;
  AnyState last_state;
  // The timestamp of its last event, for the automatic snapshots' time
  // trigger (no clock read per write).
  Timestamp last_timestamp{};
  // When its journal write started, for Metrics::journal_write_latency_us.
  std::chrono::steady_clock::time_point write_started;
  bool done = false;
  std::exception_ptr error;
  // Only this batch's callers wait here: waking every waiting producer at
  // each write (a herd of 64 threads on 2 cores) would cost more than the
  // write.
  std::condition_variable done_cv;
  // Events that left the state unchanged (Options::skip_unchanged) and
  // wait for this batch: not journaled, acknowledged with it, because the
  // state they returned is durable only once this batch is.
  std::size_t unchanged_events = 0;
  // handle_async()'s events: each one's state and how to report it.
  std::vector<std::pair<AnyState, Engine::Completion>> completions;
};

// A pipelined write: started, not yet acknowledged. `error` is set when
// start_append() itself threw, or when its caller's wait() did; the failure
// still counts in journal order. `waited_by_caller`: a lone write
// (Engine::handle()) whose caller waits for it and acknowledges it; the
// acknowledger leaves it alone until the caller pops it or hands it back.
struct Engine::InFlight {
  std::shared_ptr<Batch> batch;
  std::unique_ptr<PendingAppend> pending;
  std::exception_ptr error;
  bool waited_by_caller = false;
};

// A point in the journal where a snapshot starts a new segment. The writer
// thread reaches it after every earlier batch has been written (or failed),
// so `state` is exactly the durable state at the cut.
struct Engine::SnapshotCut {
  bool done = false;
  std::exception_ptr error;
  std::unique_ptr<SnapshotWriter> writer;
  AnyState state;
};

}  // namespace prevayler::detail
