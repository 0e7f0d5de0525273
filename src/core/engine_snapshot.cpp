// Snapshots: a cut queued behind the pending batches starts a new segment
// (begin_snapshot(), on the writer thread, with nothing in flight), and the
// caller serialises the durable state at the cut outside the event lock.
#include <string>

#include "core/assert.hpp"
#include "core/engine.hpp"
#include "core/engine_parts.hpp"
#include "core/progress_reporter.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

void Engine::cut_snapshot(std::unique_lock<std::mutex>& lock,
                          const std::shared_ptr<SnapshotCut>& cut) {
  if (fatal_) {
    cut->error = fatal_;
  } else {
    cut->state = durable_.load(std::memory_order_acquire);
    PREVAYLER_ASSERT(!writing_ && in_flight_.empty());
    // Written or not, the automatic snapshots count from this attempt: a
    // failing storage is retried at the policy's pace, not in a loop.
    restart_snapshot_triggers();
    writing_ = true;
    lock.unlock();
    bool stopped = false;
    try {
      cut->writer = storage_->begin_versioned_snapshot(hooks_.schema.state);
    } catch (const StorageFailedError&) {
      cut->error = std::current_exception();
      stopped = true;
    } catch (...) {
      cut->error = std::current_exception();
    }
    lock.lock();
    writing_ = false;
    // One failure protocol (storage.hpp): a StorageFailedError from any
    // storage call stops the instance, so a storage never has to remember
    // that it refused (e.g. its seal met a new owner's).
    if (stopped && !fatal_) fatal_ = cut->error;
  }
  cut->done = true;
  work_done_.notify_all();
}

bool Engine::write_snapshot(bool automatic) {
  std::lock_guard one_at_a_time(snapshot_mutex_);
  const auto started = std::chrono::steady_clock::now();
  bool attempted = false;
  bool written = false;
  // Counts the outcome when this call returns or throws; snapshots are rare,
  // so taking the event lock for it costs nothing on the hot path.
  struct Outcome {
    Engine& engine;
    std::chrono::steady_clock::time_point started;
    const bool automatic;
    const bool& attempted;
    const bool& written;
    ~Outcome() {
      if (!attempted) return;
      std::lock_guard lock(engine.mutex_);
      if (written) {
        ++engine.metrics_.snapshots_written;
        if (automatic) ++engine.metrics_.automatic_snapshots_written;
        engine.metrics_.snapshot_duration_us.record(microseconds_since(started));
      } else {
        ++engine.metrics_.snapshots_failed;
        if (automatic) ++engine.metrics_.automatic_snapshots_failed;
      }
    }
  } outcome{*this, started, automatic, attempted, written};
  auto cut = std::make_shared<SnapshotCut>();
  {
    std::unique_lock lock(mutex_);
    if (automatic) {
      // Abandoned cleanly: nothing was cut, nothing is counted. Checked
      // under the lock close() sets closing_ under, so a cut queued here is
      // one the writer reaches before it exits.
      if (closing_ || closed_ || fatal_) return false;
      if (!automatic_snapshot_due(snapshot_clock(snapshot_cut_time_))) return false;
    }
    attempted = true;
    throw_if_unusable();
    seal_open_batch();
    queue_.push_back(cut);
    work_ready_.notify_one();
    work_done_.wait(lock, [&] { return cut->done; });
  }
  if (cut->error) std::rethrow_exception(cut->error);
  try {
    serialise_snapshot(*cut);
    cut->writer->commit();
  } catch (const StorageFailedError&) {
    // One failure protocol (storage.hpp), for snapshot() as for the
    // automatic ones: the storage refuses to go on, so does the instance.
    stop(std::current_exception());
    throw;
  }
  written = true;
  return true;
}

void Engine::stop(std::exception_ptr error) {
  {
    std::lock_guard lock(mutex_);
    if (!fatal_) fatal_ = std::move(error);
  }
  // Whoever waits for room or work sees the stop, as after a failed write.
  space_free_.notify_all();
  work_ready_.notify_all();
  snapshot_due_.notify_all();
}

// Serialises outside the event lock: the state is immutable, so writers go
// on while a large state is written.
void Engine::serialise_snapshot(SnapshotCut& cut) {
  try {
    std::ostream& out = cut.writer->stream();
    if (hooks_.progress) {
      // Counting costs a copy per chunk: only when someone watches.
      ProgressReporter reporter(hooks_.progress, Progress::What::snapshot_write, 1);
      CountingOutBuffer counting(*out.rdbuf(), reporter);
      std::ostream counted(&counting);
      hooks_.encode_state(cut.state.get(), counted);
      // The storage checks its own stream at commit(): pass a failure on.
      if (!counted.flush() || !counting.flush_to_target()) out.setstate(std::ios::badbit);
      reporter.finish(counting.bytes());
    } else {
      hooks_.encode_state(cut.state.get(), out);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw CodecError("cannot encode snapshot " + std::to_string(cut.writer->snapshot_id()) +
                     " for " + storage_->describe() + ": " + e.what());
  }
}

}  // namespace prevayler::detail
