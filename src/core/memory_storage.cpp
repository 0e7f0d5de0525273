#include "prevayler/memory_storage.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler {
namespace detail {

struct MemoryStoreContents {
  struct Segment {
    std::vector<std::string> records;  // each one group commit, entries framed
  };
  std::mutex mutex;
  std::map<std::uint64_t, Segment> segments;  // by segment id
  struct Snapshot {
    std::uint32_t state_schema_version = 1;
    std::string bytes;
  };
  std::map<std::uint64_t, Snapshot> snapshots;  // by snapshot id
  bool in_use = false;                          // the lock
};

}  // namespace detail

MemoryStore::MemoryStore() : contents_(std::make_unique<detail::MemoryStoreContents>()) {}

MemoryStore::~MemoryStore() = default;

namespace {

// The store, kept alive by the storages and snapshot writers that use it.
using Contents = std::shared_ptr<detail::MemoryStoreContents>;

constexpr std::size_t memory_entry_bytes_max = std::size_t{1} << 30;

class MemorySnapshotWriter : public SnapshotWriter {
 public:
  MemorySnapshotWriter(Contents store, std::uint64_t id, std::uint32_t state_schema_version)
      : store_(std::move(store)), id_(id), state_schema_version_(state_schema_version) {}
  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return out_; }
  void commit() override {
    std::lock_guard lock(store_->mutex);
    store_->snapshots[id_] = {state_schema_version_, std::move(out_).str()};
  }

 private:
  Contents store_;
  std::uint64_t id_;
  std::uint32_t state_schema_version_;
  std::ostringstream out_;
};

class MemoryStorage : public Storage {
 public:
  explicit MemoryStorage(Contents store) : store_(std::move(store)) {}
  ~MemoryStorage() override { close(); }

  void recover(RecoveryHandler& handler) override {
    std::unique_lock lock(store_->mutex);
    if (store_->in_use)
      throw LockedError("memory storage: the store is in use by another instance");
    store_->in_use = true;
    open_ = true;
    std::uint64_t start = 0;
    if (!store_->snapshots.empty()) {
      const auto& [id, snapshot] = *store_->snapshots.rbegin();
      start = id;
      const std::uint32_t version = snapshot.state_schema_version;
      std::istringstream in(snapshot.bytes);
      lock.unlock();
      handler.versioned_snapshot(id, in, version);
      lock.lock();
    }
    segment_ = start;
    for (auto it = store_->segments.lower_bound(start); it != store_->segments.end(); ++it) {
      segment_ = it->first;
      for (std::size_t r = 0; r < it->second.records.size(); ++r) {
        const std::string record_bytes = it->second.records[r];
        const std::string where = "memory storage, segment " + std::to_string(it->first) +
                                  ", record " + std::to_string(r + 1);
        const auto record = detail::decode_record(record_bytes, where);
        lock.unlock();
        for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
          handler.entry(JournalPosition{it->first, r + 1, e}, record.entries[e]);
        }
        lock.lock();
      }
    }
    store_->segments[segment_];
    writer_id_ = std::random_device{}();
  }

  void append(const EntryBatch& batch) override {
    std::string record;
    detail::encode_batch_record(record, writer_id_, batch, 0, batch.size());
    std::lock_guard lock(store_->mutex);
    store_->segments[segment_].records.push_back(std::move(record));
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return begin_versioned_snapshot(1); }

  std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(
      std::uint32_t state_schema_version) override {
    std::lock_guard lock(store_->mutex);
    if (!store_->segments[segment_].records.empty()) {
      ++segment_;
      store_->segments[segment_];
    }
    return std::make_unique<MemorySnapshotWriter>(store_, segment_, state_schema_version);
  }

  void close() override {
    if (!open_) return;
    std::lock_guard lock(store_->mutex);
    store_->in_use = false;
    open_ = false;
  }

  std::size_t entry_bytes_max() const override { return memory_entry_bytes_max; }
  std::string describe() const override { return "memory storage"; }

 private:
  Contents store_;
  std::uint64_t segment_ = 0;
  std::uint64_t writer_id_ = 0;
  bool open_ = false;
};

}  // namespace

std::unique_ptr<Storage> make_memory_storage(std::shared_ptr<MemoryStore> store) {
  if (!store) throw ConfigError("make_memory_storage: the MemoryStore is null");
  // Shares ownership of the store, points at its contents.
  detail::MemoryStoreContents* contents = store->contents_.get();
  return std::make_unique<MemoryStorage>(Contents(std::move(store), contents));
}

}  // namespace prevayler
