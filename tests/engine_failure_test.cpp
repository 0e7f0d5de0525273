// The engine's handling of a storage that stops (StorageFailedError) while
// the engine drains a failed pipeline: it must stop too, before it accepts
// another event.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"

namespace prevayler::testing {
namespace {

// A pipelined storage whose writes complete only when the test says how:
// each started write waits for its verdict (ok, failed, stopped).
class VerdictStorage : public Storage {
 public:
  enum class Verdict { pending, ok, failed, stopped };

  void recover(RecoveryHandler&) override {}
  void append(const EntryBatch&) override {}
  std::size_t writes_in_flight_max() const override { return 4; }
  std::unique_ptr<PendingAppend> start_append(EntryBatch) override {
    std::lock_guard lock(mutex_);
    ++start_calls_;
    if (refusing_) throw StorageFailedError("verdict storage: stopped");
    verdicts_.push_back(Verdict::pending);
    changed_.notify_all();
    return std::make_unique<Pending>(*this, verdicts_.size() - 1);
  }
  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    throw StorageError("verdict storage: no snapshots");
  }
  void close() override {}
  std::size_t entry_bytes_max() const override { return 1 << 20; }
  std::string describe() const override { return "verdict storage"; }

  void wait_for_starts(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return verdicts_.size() >= n; });
  }
  void decide(std::size_t write, Verdict verdict) {
    std::lock_guard lock(mutex_);
    verdicts_.at(write) = verdict;
    if (verdict == Verdict::stopped) refusing_ = true;
    changed_.notify_all();
  }
  // start_append() calls, the refused ones included.
  std::size_t start_calls() {
    std::lock_guard lock(mutex_);
    return start_calls_;
  }

 private:
  class Pending : public PendingAppend {
   public:
    Pending(VerdictStorage& storage, std::size_t index) : storage_(storage), index_(index) {}
    void wait() override {
      std::unique_lock lock(storage_.mutex_);
      storage_.changed_.wait(lock, [&] { return storage_.verdicts_[index_] != Verdict::pending; });
      switch (storage_.verdicts_[index_]) {
        case Verdict::failed:
          throw StorageError("verdict storage: write " + std::to_string(index_) + " failed");
        case Verdict::stopped:
          throw StorageFailedError("verdict storage: write " + std::to_string(index_) +
                                   " landed behind a failed one; stopped");
        default:
          return;
      }
    }

   private:
    VerdictStorage& storage_;
    std::size_t index_;
  };

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Verdict> verdicts_;
  bool refusing_ = false;
  std::size_t start_calls_ = 0;
};

TEST(EngineFailure, StorageThatStopsWhileThePipelineDrainsStopsTheInstance) {
  auto owned = std::make_unique<VerdictStorage>();
  VerdictStorage& storage = *owned;
  Prevayler<int, int>::Options o;
  o.business = [](const int& s, const int& e, Timestamp) { return s + e; };
  o.storage = std::move(owned);
  o.snapshot_on_open = false;
  Prevayler<int, int> p(std::move(o));
  auto first = p.handle_async(1);
  storage.wait_for_starts(1);
  auto second = p.handle_async(2);
  storage.wait_for_starts(2);
  storage.decide(1, VerdictStorage::Verdict::stopped);
  storage.decide(0, VerdictStorage::Verdict::failed);
  EXPECT_THROW(first.get(), StorageError);
  EXPECT_THROW(second.get(), StorageError);
  // The storage stopped: the instance must refuse the next event itself,
  // without computing it and handing it to the storage.
  EXPECT_THROW(p.handle(3), StorageFailedError);
  EXPECT_EQ(storage.start_calls(), 2u) << "an event was handed to a stopped storage";
  EXPECT_EQ(*p.state(), 0);
}

}  // namespace
}  // namespace prevayler::testing
