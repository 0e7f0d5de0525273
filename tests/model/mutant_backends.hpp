// Broken storages, to prove the checker catches what it claims to: each
// wraps a real backend and breaks one promise.
//   DroppingBackend: every `period`-th journal write claims success without
//     writing (an acknowledged event lost: I1).
//   LyingFailureStorage: every `period`-th journal write is written, then
//     reported as certainly failed (a StorageError): I5.
//   FenceBlindBackend: an instance ignores the fence: a write refused with
//     SupersededError claims success (the old owner keeps acknowledging
//     after a takeover: I2, and its events are lost: I1).
#pragma once

#include <atomic>
#include <memory>

#include "model/backend.hpp"
#include "support/storage_wrappers.hpp"

namespace prevayler::model {

class CompletedAppend : public PendingAppend {
 public:
  void wait() override {}
};

class DroppingStorage : public testing::ForwardingStorage {
 public:
  DroppingStorage(std::unique_ptr<Storage> inner, std::shared_ptr<std::atomic<int>> writes,
                  int period)
      : ForwardingStorage(std::move(inner)), writes_(std::move(writes)), period_(period) {}
  void append(const EntryBatch& batch) override {
    if (drop()) return;
    inner_->append(batch);
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    if (drop()) return std::make_unique<CompletedAppend>();
    return inner_->start_append(std::move(batch));
  }

 private:
  bool drop() { return (writes_->fetch_add(1) + 1) % period_ == 0; }
  std::shared_ptr<std::atomic<int>> writes_;
  int period_;
};

class FailedAppend : public PendingAppend {
 public:
  void wait() override { throw StorageError("mutant: written, yet reported as failed"); }
};

class LyingFailureStorage : public testing::ForwardingStorage {
 public:
  LyingFailureStorage(std::unique_ptr<Storage> inner, std::shared_ptr<std::atomic<int>> writes,
                      int period)
      : ForwardingStorage(std::move(inner)), writes_(std::move(writes)), period_(period) {}
  void append(const EntryBatch& batch) override {
    inner_->append(batch);
    if (lie()) throw StorageError("mutant: written, yet reported as failed");
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    if (!lie()) return inner_->start_append(std::move(batch));
    inner_->start_append(std::move(batch))->wait();
    return std::make_unique<FailedAppend>();
  }

 private:
  bool lie() { return (writes_->fetch_add(1) + 1) % period_ == 0; }
  std::shared_ptr<std::atomic<int>> writes_;
  int period_;
};

class FenceBlindStorage : public testing::ForwardingStorage {
 public:
  using ForwardingStorage::ForwardingStorage;
  void append(const EntryBatch& batch) override {
    try {
      inner_->append(batch);
    } catch (const SupersededError&) {
      fenced_ = true;
    } catch (const StorageFailedError&) {
      // The storage stopped because of the fence: still "success".
      if (!fenced_) throw;
    }
  }
  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    // Synchronous, so the SupersededError is seen here.
    append(batch);
    return std::make_unique<CompletedAppend>();
  }

 private:
  bool fenced_ = false;
};

// Forwards everything to `inner`, wrapping the storages it opens.
class MutantBackend : public Backend {
 public:
  MutantBackend(std::unique_ptr<Backend> inner,
                std::function<std::unique_ptr<Storage>(std::unique_ptr<Storage>)> wrap)
      : inner_(std::move(inner)), wrap_(std::move(wrap)) {}
  std::string name() const override { return "mutant-" + inner_->name(); }
  std::unique_ptr<Storage> open(int host, const Knobs& knobs) override {
    return wrap_(inner_->open(host, knobs));
  }
  void crash(int host) override { inner_->crash(host); }
  std::uint64_t prune(std::uint32_t keep) override { return inner_->prune(keep); }
  std::unique_ptr<Storage> open_for_check() override { return inner_->open_for_check(); }
  FaultTally faults() const override { return inner_->faults(); }
  std::string describe() const override { return inner_->describe(); }
  void keep() override { inner_->keep(); }

 private:
  std::unique_ptr<Backend> inner_;
  std::function<std::unique_ptr<Storage>(std::unique_ptr<Storage>)> wrap_;
};

}  // namespace prevayler::model
