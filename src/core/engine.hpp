// The type-erased machinery behind Prevayler<State, Event>: recovery, the
// event lock, group commit and snapshot cuts. Private to the library: the
// template reaches it through detail::EngineHandle
// (include/prevayler/detail/engine_handle.hpp), so users never see its
// threads, locks and queues.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "core/group_commit_linger.hpp"
#include "core/writes_in_flight_tuner.hpp"
#include "prevayler/detail/engine_handle.hpp"
#include "prevayler/metrics.hpp"
#include "prevayler/progress.hpp"
#include "prevayler/stats.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

class Engine {
 public:
  // Recovers from the storage, starts the writer thread, and, when
  // snapshot_on_open, writes a snapshot of the recovered state; then starts
  // the automatic snapshots' thread when the policy has a trigger.
  // `resume_state`: a promoted follower's state, which recovery starts
  // from instead of the initial state (its storage delivers only what
  // follows it); null for an open.
  Engine(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
         bool snapshot_on_open, SnapshotPolicy policy, AnyState resume_state = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  AnyState handle(const void* event, std::string encoded);
  // Called once the event is durable or failed: see EngineHandle.
  using Completion = EngineHandle::Completion;
  // Applies the event now (the business function's throw reaches the
  // caller) and returns without waiting for the journal write.
  void handle_async(const void* event, std::string encoded, Completion completion);
  AnyState state() const { return durable_.load(std::memory_order_acquire); }
  // The durable state through a per-thread cache: see EngineHandle.
  const void* current_state() const;
  void snapshot() {
    throw_if_read_only();
    write_snapshot(false);
  }
  void close();
  Timestamp timestamp() const { return hooks_.timestamp(); }
  Stats stats() const;
  Metrics metrics() const;
  JournalPosition position() const { return storage_->position(); }

 private:
  struct Batch;
  struct SnapshotCut;
  struct InFlight;
  using Work = std::variant<std::shared_ptr<Batch>, std::shared_ptr<SnapshotCut>>;
  class Replayer;

  void recover();
  void run_writer();
  void run_acknowledger();
  bool writer_has_work() const;
  void wake_writer();
  void wake_acknowledger();
  bool lingering(std::chrono::steady_clock::time_point now) const;
  // The tuner's choice, lowered to the storage's advice
  // (Storage::writes_in_flight_advised(): e.g. while DynamoDB throttles).
  std::size_t writes_in_flight_allowed() const;
  void write_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch);
  void start_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch,
                   bool waited_by_caller = false);
  // A lone pipelined write started by its caller: waits for it and
  // acknowledges it on the caller's thread.
  void acknowledge_own_write(std::unique_lock<std::mutex>& lock,
                             const std::shared_ptr<Batch>& batch);
  void settle(const std::shared_ptr<Batch>& batch, std::exception_ptr error);
  void fail_pipeline(std::unique_lock<std::mutex>& lock, const std::string& reason);
  void settle_or_fail_pipeline(std::unique_lock<std::mutex>& lock,
                               const std::shared_ptr<Batch>& batch,
                               const std::exception_ptr& error);
  void cut_snapshot(std::unique_lock<std::mutex>& lock, const std::shared_ptr<SnapshotCut>& cut);
  std::shared_ptr<Batch> accept_unchanged(AnyState& next);
  void seal_open_batch();
  // Applies the event; returns the batch whose acknowledgement is the
  // event's, or null when the event left the state unchanged and that state
  // is durable already (`next` is then final).
  std::shared_ptr<Batch> accept(std::unique_lock<std::mutex>& lock, const void* event,
                                std::string& encoded, AnyState& next);
  void throw_if_unusable() const;
  void throw_if_read_only() const;
  // snapshot(), or an automatic one: that one is abandoned (false) when the
  // instance is closing or stopped, or when another snapshot's cut already
  // served its trigger.
  bool write_snapshot(bool automatic);
  void serialise_snapshot(SnapshotCut& cut);
  // Stops the instance with a StorageFailedError (unless it stopped
  // already) and wakes whoever waits. Takes the event lock.
  void stop(std::exception_ptr error);

  // Automatic snapshots (engine_auto_snapshot.cpp), under the event lock.
  // The journal since the last cut reached a trigger of the policy, `now`
  // read from the timestamp function.
  bool automatic_snapshot_due(Timestamp now) const;
  // A cut: the triggers count from here.
  void restart_snapshot_triggers();
  // After a journal write was acknowledged: wakes the thread when it has
  // something to do.
  void count_for_snapshot_triggers(std::uint64_t events, std::uint64_t bytes, Timestamp last);
  // The timestamp function for the time trigger: a throw keeps `fallback`.
  Timestamp snapshot_clock(Timestamp fallback) const;
  void run_snapshotter();
  void write_automatic_snapshot();

  const EngineHooks hooks_;
  const std::unique_ptr<Storage> storage_;
  // Storage::read_only(): changes are refused before they start.
  const bool read_only_;
  const EngineLimits limits_;
  const SnapshotPolicy policy_;
  AnyState resume_state_;  // until recover() has used it

  // Most journal writes in flight at once: 1 for synchronous storages (the
  // file storage), more for pipelined ones (DynamoDB), capped by
  // EngineLimits::writes_in_flight_max.
  std::size_t writes_in_flight_max_ = 1;

  mutable std::mutex mutex_;  // the event lock; guards everything below
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::condition_variable space_free_;
  std::condition_variable acks_ready_;
  AnyState head_;  // state after every accepted event, durable or not
  std::shared_ptr<Batch> open_batch_;
  // The newest batch with events not yet settled (open, queued, being
  // written or in flight): an unchanged event waits for it.
  std::shared_ptr<Batch> last_batch_;
  std::deque<Work> queue_;
  std::deque<InFlight> in_flight_;  // pipelined writes, oldest first
  // How many of them now (writes_in_flight_allowed), up to writes_in_flight_max_,
  // as measured; the storage's advice can lower it.
  WritesInFlightTuner tuner_{1};
  // Whether the next pipelined group commit waits for the producers of the
  // last acknowledged write to come back (a closed loop's other half).
  GroupCommitLinger linger_;
  std::size_t pending_bytes_ = 0;
  bool writing_ = false;  // a thread is inside append()/start_append()/begin_snapshot()
  bool failing_ = false;  // a pipelined write failed; the rest are being drained
  bool writer_exited_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::exception_ptr fatal_;  // a StorageFailedError: the instance stopped
  // Counters and histograms; stats() is metrics_.stats (one set).
  Metrics metrics_;
  // The journal since the last snapshot's cut, for the automatic
  // snapshots' triggers (and the gauges of the same name in Metrics).
  std::uint64_t events_since_snapshot_ = 0;
  std::uint64_t bytes_since_snapshot_ = 0;
  Timestamp snapshot_cut_time_{};  // the timestamp function at the cut
  // The automatic snapshots' thread waits here for a trigger or close.
  std::condition_variable snapshot_due_;

  // Published only once durable. Readers never take the event lock.
  std::atomic<AnyState> durable_;
  // Bumped after every publication of durable_, for current_state()'s cache.
  std::atomic<std::uint64_t> durable_version_{0};
  const std::uint64_t id_;  // distinguishes engines in per-thread caches

  std::mutex snapshot_mutex_;  // one snapshot at a time; close waits for it
  std::mutex close_mutex_;
  std::thread writer_;
  // Waits for pipelined writes, in order (writes_in_flight_max_ > 1).
  std::thread acknowledger_;
  // Takes the automatic snapshots (policy_.any()).
  std::thread snapshotter_;
};

}  // namespace prevayler::detail
