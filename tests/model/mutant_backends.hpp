// Broken storages, to prove the checker catches what it claims to: each
// wraps a real backend and breaks one promise.
//   DroppingBackend: every `period`-th journal write claims success without
//     writing (an acknowledged event lost: I1).
//   LyingFailureStorage: every `period`-th journal write is written, then
//     reported as certainly failed (a StorageError): I5.
//   FenceBlindBackend: an instance ignores the fence: a write refused with
//     SupersededError claims success (the old owner keeps acknowledging
//     after a takeover: I2, and its events are lost: I1).
//   LastSegmentDroppingDestination: a copy that leaves out the source's
//     last segment (the journal after the newest snapshot's segment is
//     lost at the destination: I1, and the copy check).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

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

// Holds back each segment until it ends, and drops the last one.
class LastSegmentDroppingDestination : public ops::JournalDestination {
 public:
  explicit LastSegmentDroppingDestination(std::unique_ptr<ops::JournalDestination> inner)
      : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  void check_empty() override { inner_->check_empty(); }
  void put_snapshot(std::uint64_t id, std::string_view bytes) override {
    inner_->put_snapshot(id, bytes);
  }
  void begin_segment(std::uint64_t id) override {
    held_.push_back([this, id] { inner_->begin_segment(id); });
  }
  void add_record(std::uint64_t record, const EntryBatch& entries) override {
    held_.push_back([this, record, entries] { inner_->add_record(record, entries); });
  }
  void end_segment(bool last) override {
    if (!last) {
      for (auto& call : held_) call();
      inner_->end_segment(false);
    }
    held_.clear();
  }
  void finish() override { inner_->finish(); }

 private:
  std::unique_ptr<ops::JournalDestination> inner_;
  std::vector<std::function<void()>> held_;
};

// A journal whose destination (for a copy into it) is wrapped.
class WrappedDestinationStore : public ops::JournalStore {
 public:
  using Wrap = std::function<std::unique_ptr<ops::JournalDestination>(
      std::unique_ptr<ops::JournalDestination>)>;
  WrappedDestinationStore(std::unique_ptr<ops::JournalStore> inner, Wrap wrap)
      : inner_(std::move(inner)), wrap_(std::move(wrap)) {}
  std::string describe() const override { return inner_->describe(); }
  std::unique_ptr<ops::JournalSource> source() override { return inner_->source(); }
  std::unique_ptr<ops::JournalDestination> destination() override {
    return wrap_(inner_->destination());
  }
  std::uint64_t prune(detail::RetentionPolicy policy) override { return inner_->prune(policy); }

 private:
  std::unique_ptr<ops::JournalStore> inner_;
  Wrap wrap_;
};

// Forwards everything to `inner`, wrapping the storages it opens and, when
// `wrap_destination` is set, the destination of a copy into it.
class MutantBackend : public Backend {
 public:
  MutantBackend(std::unique_ptr<Backend> inner,
                std::function<std::unique_ptr<Storage>(std::unique_ptr<Storage>)> wrap,
                WrappedDestinationStore::Wrap wrap_destination = nullptr)
      : inner_(std::move(inner)),
        wrap_(std::move(wrap)),
        wrap_destination_(std::move(wrap_destination)) {}
  std::string name() const override { return "mutant-" + inner_->name(); }
  std::unique_ptr<Storage> open(int host, const Knobs& knobs) override {
    return wrap_(inner_->open(host, knobs));
  }
  void crash(int host) override { inner_->crash(host); }
  std::unique_ptr<ops::JournalStore> operator_store() override {
    if (!wrap_destination_) return inner_->operator_store();
    return std::make_unique<WrappedDestinationStore>(inner_->operator_store(), wrap_destination_);
  }
  std::unique_ptr<Storage> open_for_check() override { return inner_->open_for_check(); }
  FaultTally faults() const override { return inner_->faults(); }
  std::string describe() const override { return inner_->describe(); }
  void keep() override { inner_->keep(); }

 private:
  std::unique_ptr<Backend> inner_;
  std::function<std::unique_ptr<Storage>(std::unique_ptr<Storage>)> wrap_;
  WrappedDestinationStore::Wrap wrap_destination_;
};

}  // namespace prevayler::model
