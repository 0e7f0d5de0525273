// Storage wrappers for tests: a forwarding base (override one method), a
// counting/slow wrapper, and a fault-injecting wrapper.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "prevayler/error.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::testing {

class ForwardingStorage : public Storage {
 public:
  explicit ForwardingStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}
  void recover(RecoveryHandler& handler) override { inner_->recover(handler); }
  void append(const EntryBatch& batch) override { inner_->append(batch); }
  std::size_t writes_in_flight_max() const override { return inner_->writes_in_flight_max(); }
  // Forwarded, or a wrapped DynamoDB storage's throttle advice
  // (ThrottleBatchingPolicy) would never reach the engine under test. A
  // subclass that sets its own writes_in_flight_max() sets this too.
  std::size_t writes_in_flight_advised() const override {
    return inner_->writes_in_flight_advised();
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    return inner_->start_append(std::move(batch));
  }
  void resume_after_failure() override { inner_->resume_after_failure(); }
  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return inner_->begin_snapshot(); }
  std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(std::uint32_t version) override {
    return version == 1 ? begin_snapshot() : inner_->begin_versioned_snapshot(version);
  }
  void close() override { inner_->close(); }
  std::size_t entry_bytes_max() const override { return inner_->entry_bytes_max(); }
  std::string describe() const override { return inner_->describe(); }
  StorageCounters counters() const override { return inner_->counters(); }
  JournalPosition position() const override { return inner_->position(); }
  std::unique_ptr<JournalFollower> follow() override { return inner_->follow(); }

 protected:
  std::unique_ptr<Storage> inner_;
};

// Counts appends and their events; optionally sleeps in each append, like
// a slow disk, so that group commit has something to batch.
struct AppendCounters {
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> events{0};
};

class CountingStorage : public ForwardingStorage {
 public:
  CountingStorage(std::unique_ptr<Storage> inner, std::shared_ptr<AppendCounters> counters,
                  std::chrono::milliseconds delay = {})
      : ForwardingStorage(std::move(inner)), counters_(std::move(counters)), delay_(delay) {}
  void append(const EntryBatch& batch) override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    inner_->append(batch);
    counters_->appends += 1;
    counters_->events += batch.size();
  }
  // Pipelined: counted when started (a failed one is counted too).
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    counters_->appends += 1;
    counters_->events += batch.size();
    return inner_->start_append(std::move(batch));
  }

 private:
  std::shared_ptr<AppendCounters> counters_;
  std::chrono::milliseconds delay_;
};

// Fails appends on demand: `fail_next` appends throw StorageError before
// reaching the inner storage; `fatal` makes them (and the failing snapshot
// commits) throw StorageFailedError.
struct FaultPlan {
  std::atomic<int> fail_next{0};
  std::atomic<bool> fatal{false};
  std::atomic<bool> fail_snapshots{false};  // begin_snapshot() throws
  std::atomic<bool> fail_snapshot_commits{
      false};  // the storage's snapshot is streamed, not committed
};

// A snapshot writer whose commit() fails after the storage began the
// snapshot (a sealed segment, a new one started): the upload that failed.
class FailingCommitSnapshotWriter : public SnapshotWriter {
 public:
  explicit FailingCommitSnapshotWriter(std::unique_ptr<SnapshotWriter> inner, bool fatal = false)
      : inner_(std::move(inner)), fatal_(fatal) {}
  std::uint64_t snapshot_id() const override { return inner_->snapshot_id(); }
  std::ostream& stream() override { return inner_->stream(); }
  void commit() override {
    if (fatal_) throw StorageFailedError("injected fatal snapshot commit failure");
    throw StorageError("injected snapshot commit failure");
  }

 private:
  std::unique_ptr<SnapshotWriter> inner_;
  const bool fatal_;
};

class FaultyStorage : public ForwardingStorage {
 public:
  FaultyStorage(std::unique_ptr<Storage> inner, std::shared_ptr<FaultPlan> plan)
      : ForwardingStorage(std::move(inner)), plan_(std::move(plan)) {}
  void append(const EntryBatch& batch) override {
    if (plan_->fail_next.load() > 0) {
      plan_->fail_next -= 1;
      if (plan_->fatal) throw StorageFailedError("injected fatal journal failure");
      throw StorageError("injected journal write failure");
    }
    inner_->append(batch);
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    if (plan_->fail_next.load() > 0) {
      plan_->fail_next -= 1;
      if (plan_->fatal) throw StorageFailedError("injected fatal journal failure");
      throw StorageError("injected journal write failure");
    }
    return inner_->start_append(std::move(batch));
  }
  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    if (plan_->fail_snapshots) throw StorageError("injected snapshot failure");
    if (plan_->fail_snapshot_commits) {
      return std::make_unique<FailingCommitSnapshotWriter>(inner_->begin_snapshot(),
                                                           plan_->fatal.load());
    }
    return inner_->begin_snapshot();
  }

 private:
  std::shared_ptr<FaultPlan> plan_;
};

// Holds journal writes until the test lets them through, so a test can look
// at the instance WHILE a write is in flight (not durable yet) instead of
// guessing with sleeps. Writes reach the gate in journal order; the n-th
// write to arrive passes with the n-th outcome the test released.
class WriteGate {
 public:
  enum class Outcome { stored, failed };

  // A test that waits longer than this for a write to arrive has hung (the
  // engine never started the write): fail it instead of blocking ctest.
  static constexpr std::chrono::seconds arrival_wait_max{30};

  // Storage side: a write was started (pipelined storages start several).
  void note_started() {
    std::lock_guard lock(mutex_);
    ++started_;
    changed_.notify_all();
  }
  // Storage side: blocks the write until it is let through.
  Outcome pass() {
    std::unique_lock lock(mutex_);
    const std::size_t index = arrived_++;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_ || index < outcomes_.size(); });
    return index < outcomes_.size() ? outcomes_[index] : Outcome::stored;
  }

  // Test side: lets the next held (or future) write through.
  void let_through(Outcome outcome = Outcome::stored) {
    std::lock_guard lock(mutex_);
    outcomes_.push_back(outcome);
    changed_.notify_all();
  }
  // Test side: every write from now on passes, stored (also at teardown, so
  // a failing test does not leave the engine blocked in close()).
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Test side: true once `count` writes reached the gate (are in flight).
  bool wait_arrived(std::size_t count) { return wait_for(arrived_, count); }
  bool wait_started(std::size_t count) { return wait_for(started_, count); }
  std::size_t arrived() const {
    std::lock_guard lock(mutex_);
    return arrived_;
  }
  std::size_t started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  bool wait_for(const std::size_t& counter, std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, arrival_wait_max, [&] { return counter >= count; });
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t started_ = 0;
  std::size_t arrived_ = 0;
  std::vector<Outcome> outcomes_;
  bool open_ = false;
};

// A storage whose journal writes wait at a WriteGate. With writes_in_flight_max 1 it
// appends synchronously (append() blocks at the gate, like a slow disk);
// with writes_in_flight_max > 1 it pipelines: start_append() returns at once and the
// write is held in its wait() (like a network round trip), so several
// writes are in flight together. A write let through as failed throws
// StorageError and, pipelined, fails every write started after it until
// resume_after_failure(), as the Storage contract asks.
class GatedStorage : public ForwardingStorage {
 public:
  GatedStorage(std::unique_ptr<Storage> inner, std::shared_ptr<WriteGate> gate,
               std::size_t writes_in_flight_max = 1)
      : ForwardingStorage(std::move(inner)),
        gate_(std::move(gate)),
        writes_in_flight_max_(writes_in_flight_max) {}

  std::size_t writes_in_flight_max() const override { return writes_in_flight_max_; }
  std::size_t writes_in_flight_advised() const override { return writes_in_flight_max_; }
  void append(const EntryBatch& batch) override {
    gate_->note_started();
    if (gate_->pass() == WriteGate::Outcome::failed) {
      throw StorageError("gated journal write failed (injected by the test)");
    }
    inner_->append(batch);
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    gate_->note_started();
    return std::make_unique<Pending>(*this, std::move(batch));
  }
  void resume_after_failure() override { broken_ = false; }

 private:
  // Waits run on one thread, in start order: the inner appends keep the
  // journal order.
  class Pending : public PendingAppend {
   public:
    Pending(GatedStorage& storage, EntryBatch batch)
        : storage_(storage), batch_(std::move(batch)) {}
    void wait() override {
      const WriteGate::Outcome outcome = storage_.gate_->pass();
      if (storage_.broken_) throw StorageError("an earlier gated journal write failed");
      if (outcome == WriteGate::Outcome::failed) {
        storage_.broken_ = true;
        throw StorageError("gated journal write failed (injected by the test)");
      }
      storage_.inner_->append(batch_);
    }

   private:
    GatedStorage& storage_;
    EntryBatch batch_;
  };

  std::shared_ptr<WriteGate> gate_;
  const std::size_t writes_in_flight_max_;
  std::atomic<bool> broken_{false};
};

// Opens the gate when the test's scope ends (declare it after the
// instance, so it runs first): a failed assertion never leaves a write held.
class GateOpener {
 public:
  explicit GateOpener(std::shared_ptr<WriteGate> gate) : gate_(std::move(gate)) {}
  ~GateOpener() { gate_->open(); }
  GateOpener(const GateOpener&) = delete;
  GateOpener& operator=(const GateOpener&) = delete;

 private:
  std::shared_ptr<WriteGate> gate_;
};

// Watches the snapshots a storage commits: counts them, lets a test wait
// for a count, and, while held, makes each commit wait until the test
// releases it (a slow snapshot upload), so the test can act WHILE a
// snapshot is being written instead of guessing with sleeps.
class SnapshotWatch {
 public:
  // A test that waits longer than this has hung: fail it instead.
  static constexpr std::chrono::seconds wait_max{30};

  // Test side.
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  // True once `count` snapshots were committed (durable).
  bool wait_committed(std::size_t count) { return wait_for(committed_, count); }
  // True once `count` commits reached the watch (held ones wait there).
  bool wait_arrived(std::size_t count) { return wait_for(arrived_, count); }
  std::size_t committed() const {
    std::lock_guard lock(mutex_);
    return committed_;
  }
  std::size_t begun() const {
    std::lock_guard lock(mutex_);
    return begun_;
  }

  // Storage side.
  void note_begun() {
    std::lock_guard lock(mutex_);
    ++begun_;
  }
  void pass() {
    std::unique_lock lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !held_; });
  }
  void note_committed() {
    std::lock_guard lock(mutex_);
    ++committed_;
    changed_.notify_all();
  }

 private:
  bool wait_for(const std::size_t& counter, std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_max, [&] { return counter >= count; });
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  std::size_t begun_ = 0;
  std::size_t arrived_ = 0;
  std::size_t committed_ = 0;
};

// A storage whose snapshots go through a SnapshotWatch.
class WatchedStorage : public ForwardingStorage {
 public:
  WatchedStorage(std::unique_ptr<Storage> inner, std::shared_ptr<SnapshotWatch> watch)
      : ForwardingStorage(std::move(inner)), watch_(std::move(watch)) {}
  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    auto inner = inner_->begin_snapshot();
    watch_->note_begun();
    return std::make_unique<Writer>(std::move(inner), watch_);
  }

 private:
  class Writer : public SnapshotWriter {
   public:
    Writer(std::unique_ptr<SnapshotWriter> inner, std::shared_ptr<SnapshotWatch> watch)
        : inner_(std::move(inner)), watch_(std::move(watch)) {}
    std::uint64_t snapshot_id() const override { return inner_->snapshot_id(); }
    std::ostream& stream() override { return inner_->stream(); }
    void commit() override {
      watch_->pass();
      inner_->commit();
      watch_->note_committed();
    }

   private:
    std::unique_ptr<SnapshotWriter> inner_;
    std::shared_ptr<SnapshotWatch> watch_;
  };

  std::shared_ptr<SnapshotWatch> watch_;
};

// Releases held snapshots when the test's scope ends (declare it after the
// instance, so it runs first): a failed assertion never leaves one held.
class SnapshotReleaser {
 public:
  explicit SnapshotReleaser(std::shared_ptr<SnapshotWatch> watch) : watch_(std::move(watch)) {}
  ~SnapshotReleaser() { watch_->release(); }
  SnapshotReleaser(const SnapshotReleaser&) = delete;
  SnapshotReleaser& operator=(const SnapshotReleaser&) = delete;

 private:
  std::shared_ptr<SnapshotWatch> watch_;
};

}  // namespace prevayler::testing
