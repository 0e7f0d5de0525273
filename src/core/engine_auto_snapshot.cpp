// Automatic snapshots (Prevayler::Options::snapshot_every_*): one thread per
// instance, started only when the policy has a trigger, takes the snapshot
// snapshot() would take once the journal since the last cut reaches a
// trigger. It writes one snapshot at a time, on its own thread, so writers
// never wait for it; a trigger reached while it writes is served by the
// next one, counted from that one's cut.
#include <pthread.h>

#include <algorithm>
#include <string>

#include "core/engine.hpp"
#include "core/engine_parts.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

namespace {

// The time trigger reads a clock the application may step (the system
// clock, or a test's): the thread looks again at least this often, so a
// step is noticed within this bound, whatever the remaining time said.
constexpr std::uint64_t snapshot_clock_check_ms_max = 1000;

}  // namespace

bool Engine::automatic_snapshot_due(Timestamp now) const {
  if (policy_.every_events != 0 && events_since_snapshot_ >= policy_.every_events) return true;
  if (policy_.every_journal_bytes != 0 && bytes_since_snapshot_ >= policy_.every_journal_bytes) {
    return true;
  }
  // A snapshot of a state no event changed would only cost: time alone
  // triggers nothing.
  return policy_.every_ms != 0 && events_since_snapshot_ > 0 &&
         now - snapshot_cut_time_ >= std::chrono::milliseconds(policy_.every_ms);
}

void Engine::restart_snapshot_triggers() {
  events_since_snapshot_ = 0;
  bytes_since_snapshot_ = 0;
  if (policy_.every_ms != 0) snapshot_cut_time_ = snapshot_clock(snapshot_cut_time_);
}

void Engine::count_for_snapshot_triggers(std::uint64_t events, std::uint64_t bytes,
                                         Timestamp last) {
  const bool was_quiet = events_since_snapshot_ == 0;
  events_since_snapshot_ += events;
  bytes_since_snapshot_ += bytes;
  if (!policy_.any()) return;
  // The first event after a cut starts the time trigger's wait.
  if (automatic_snapshot_due(last) || (was_quiet && policy_.every_ms != 0)) {
    snapshot_due_.notify_one();
  }
}

Timestamp Engine::snapshot_clock(Timestamp fallback) const {
  if (policy_.every_ms == 0) return fallback;
  try {
    return hooks_.timestamp();
  } catch (...) {
    // The timestamp function's throw is handle()'s caller's to see; here
    // the trigger just waits for the next reading.
    return fallback;
  }
}

void Engine::run_snapshotter() {
  // Named for operators (top -H, gdb); 15 characters at most on Linux.
  pthread_setname_np(pthread_self(), "prevayler-snap");
  std::unique_lock lock(mutex_);
  // Ends with the instance: close() and a stop both wake it.
  while (!closing_ && !closed_ && !fatal_) {
    const Timestamp now = snapshot_clock(snapshot_cut_time_);
    if (automatic_snapshot_due(now)) {
      lock.unlock();
      write_automatic_snapshot();
      lock.lock();
      continue;
    }
    if (policy_.every_ms != 0 && events_since_snapshot_ > 0) {
      const auto elapsed_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - snapshot_cut_time_).count();
      const std::uint64_t remaining_ms =
          elapsed_ms <= 0 ? policy_.every_ms
                          : policy_.every_ms - static_cast<std::uint64_t>(elapsed_ms);
      snapshot_due_.wait_for(
          lock, std::chrono::milliseconds(std::min(remaining_ms, snapshot_clock_check_ms_max)));
    } else {
      // Woken by a journal write that reaches a trigger (or starts the
      // time trigger's wait), or by close().
      snapshot_due_.wait(lock);
    }
  }
}

void Engine::write_automatic_snapshot() {
  std::string failure;
  try {
    write_snapshot(true);
    return;
  } catch (const StorageFailedError& e) {
    // One failure protocol (storage.hpp): the storage refuses to go on, so
    // does the instance (write_snapshot() stopped it, or the cut found it
    // stopped); later calls see why.
    stop(std::current_exception());
    failure = std::string(e.what()) + "; this instance stopped";
  } catch (const std::exception& e) {
    failure = std::string(e.what()) +
              "; the instance goes on, and the next one is taken at the policy's next trigger";
  } catch (...) {
    failure = "unknown error; the instance goes on";
  }
  hooks_.warn("automatic snapshot not written: " + failure);
}

}  // namespace prevayler::detail
