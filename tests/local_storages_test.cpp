// The storages of the core library (file, memory) under the core scenarios.
#include <gtest/gtest.h>

#include "prevayler/file_storage.hpp"
#include "prevayler/memory_storage.hpp"
#include "scenarios/core_scenarios.hpp"
#include "support/pipelined_storage.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

class FileLocation : public StorageLocation {
 public:
  std::unique_ptr<Storage> open() override {
    FileStorageOptions options;
    options.directory = dir_.path() / "data";
    return make_file_storage(options);
  }

 private:
  TempDir dir_;
};

class MemoryLocation : public StorageLocation {
 public:
  std::unique_ptr<Storage> open() override { return make_memory_storage(store_); }

 private:
  std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
};

// The memory storage behind a pipeline of 4 writes in flight: every
// scenario also runs against the engine's pipelined path.
class PipelinedMemoryLocation : public StorageLocation {
 public:
  std::unique_ptr<Storage> open() override {
    return std::make_unique<PipelinedStorage>(make_memory_storage(store_), 4);
  }

 private:
  std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
};

}  // namespace

std::vector<StorageKind> scenario_storage_kinds() {
  return {
      {"File", [] { return std::make_unique<FileLocation>(); }},
      {"Memory", [] { return std::make_unique<MemoryLocation>(); }},
      {"PipelinedMemory", [] { return std::make_unique<PipelinedMemoryLocation>(); }},
  };
}

}  // namespace prevayler::testing
