// Storage wrappers for tests: a forwarding base (override one method), a
// counting/slow wrapper, and a fault-injecting wrapper.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "prevayler/error.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::testing {

class ForwardingStorage : public Storage {
 public:
  explicit ForwardingStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}
  void recover(RecoveryHandler& handler) override { inner_->recover(handler); }
  void append(const EntryBatch& batch) override { inner_->append(batch); }
  std::size_t appends_in_flight_max() const override { return inner_->appends_in_flight_max(); }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    return inner_->start_append(std::move(batch));
  }
  void resume_after_failure() override { inner_->resume_after_failure(); }
  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return inner_->begin_snapshot(); }
  void close() override { inner_->close(); }
  std::size_t entry_bytes_max() const override { return inner_->entry_bytes_max(); }
  std::string describe() const override { return inner_->describe(); }

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
// reaching the inner storage; `fatal` makes them throw StorageFailedError.
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
  explicit FailingCommitSnapshotWriter(std::unique_ptr<SnapshotWriter> inner)
      : inner_(std::move(inner)) {}
  std::uint64_t snapshot_id() const override { return inner_->snapshot_id(); }
  std::ostream& stream() override { return inner_->stream(); }
  void commit() override { throw StorageError("injected snapshot commit failure"); }

 private:
  std::unique_ptr<SnapshotWriter> inner_;
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
      return std::make_unique<FailingCommitSnapshotWriter>(inner_->begin_snapshot());
    }
    return inner_->begin_snapshot();
  }

 private:
  std::shared_ptr<FaultPlan> plan_;
};

}  // namespace prevayler::testing
