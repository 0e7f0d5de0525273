// An in-memory storage: the journal and snapshots live in a MemoryStore that
// outlives the Prevayler instances using it, so tests (and programs that
// want prevalence without durability) can "restart" by opening a new
// instance on the same store. Nothing survives the process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prevayler/storage.hpp"

namespace prevayler {

// The "disk" of the in-memory storage. Thread-safe.
class MemoryStore {
 public:
  struct Segment {
    std::vector<std::string> records;  // each one group commit, entries framed
  };
  std::mutex mutex;
  std::map<std::uint64_t, Segment> segments;       // by segment id
  std::map<std::uint64_t, std::string> snapshots;  // by snapshot id
  bool in_use = false;                             // the lock
  std::uint64_t appends = 0;                       // journal writes, for tests
};

std::unique_ptr<Storage> make_memory_storage(std::shared_ptr<MemoryStore> store);

}  // namespace prevayler
