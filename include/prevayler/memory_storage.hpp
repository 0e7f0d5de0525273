// An in-memory storage: the journal and snapshots live in a MemoryStore that
// outlives the Prevayler instances using it, so tests (and programs that
// want prevalence without durability) can "restart" by opening a new
// instance on the same store. Nothing survives the process.
//
//   auto store = std::make_shared<prevayler::MemoryStore>();
//   options.storage = prevayler::make_memory_storage(store);
#pragma once

#include <memory>

#include "prevayler/storage.hpp"

namespace prevayler {

namespace detail {
struct MemoryStoreContents;
}

// The "disk" of the in-memory storage: opaque, shared by the storages made
// on it (one open at a time, like a locked directory). Thread-safe.
class MemoryStore {
 public:
  MemoryStore();
  ~MemoryStore();
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

 private:
  friend std::unique_ptr<Storage> make_memory_storage(std::shared_ptr<MemoryStore> store);
  const std::unique_ptr<detail::MemoryStoreContents> contents_;
};

// A storage on `store`. Throws ConfigError when `store` is null;
// recover() throws LockedError while another storage on it is open.
std::unique_ptr<Storage> make_memory_storage(std::shared_ptr<MemoryStore> store);

}  // namespace prevayler
