// A storage that pipelines appends to an inner synchronous storage the way
// a network storage does: start_append() returns at once, and a background
// thread performs the appends in start order, each after a latency counted
// from its start, so the latencies of writes in flight overlap. Tests the
// engine's pipeline (ordering, failures, draining) without a network.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "support/storage_wrappers.hpp"

namespace prevayler::testing {

struct PipelinePlan {
  // The next `fail_next` writes to complete fail (not stored); the storage
  // then fails every write still in flight, as the Storage contract asks.
  std::atomic<int> fail_next{0};
  // Breaks the contract: after a failure, the next write in flight is
  // stored and reported as stored anyway.
  std::atomic<bool> land_after_failure{false};
  // Injects the failure only into a write with another one in flight behind.
  std::atomic<bool> fail_only_with_writes_behind{false};
  // Sleeps in a failed write's wait() after the storage counted it waited:
  // widens the window in which the core's writer, not yet aware of the
  // failure, starts another write computed from the failed states.
  std::chrono::microseconds pause_after_failed_wait{0};
  // Set before the storage is opened, read-only after. Called in every
  // start_append() (once the write is queued), and in a failed write's
  // wait() after the storage counted it waited and before it throws: a
  // test blocks there on a WriteGate to hold the core in the window above
  // deterministically, instead of pausing for a guessed time.
  std::function<void()> on_start;
  std::function<void()> on_failed_wait;
  // Also set before opening: called on the storage's thread when a write's
  // latency is over, before it completes (with the storage's lock
  // released, so writes can still start): a test holds a write in flight
  // there until the writes it needs behind it have started.
  std::function<void()> on_complete;
  std::chrono::microseconds latency_min{200};
  std::chrono::microseconds latency_max{1500};
  // Observations.
  std::atomic<std::size_t> max_in_flight{0};
  std::atomic<std::uint64_t> writes{0};
};

class PipelinedStorage : public ForwardingStorage {
 public:
  PipelinedStorage(std::unique_ptr<Storage> inner, std::size_t writes_in_flight_max,
                   std::shared_ptr<PipelinePlan> plan = std::make_shared<PipelinePlan>());
  ~PipelinedStorage() override;
  const PipelinePlan& plan() const { return *plan_; }

  std::size_t writes_in_flight_max() const override { return writes_in_flight_max_; }
  std::size_t writes_in_flight_advised() const override { return writes_in_flight_max_; }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override;
  void resume_after_failure() override;
  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return begin_versioned_snapshot(1); }
  std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(
      std::uint32_t state_schema_version) override;
  void close() override;

 private:
  struct Write;
  class PendingWrite;
  void run();
  void waited();

  const std::size_t writes_in_flight_max_;
  const std::shared_ptr<PipelinePlan> plan_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<Write>> queue_;
  std::size_t unwaited_ = 0;  // started, wait() not returned
  bool broken_ = false;       // a write failed: fail every one until resume_after_failure()
  bool stopping_ = false;
  std::uint64_t seed_ = 1;
  std::thread thread_;
};

}  // namespace prevayler::testing
