// The storages of the core library (file, memory) under the core scenarios.
#include <gtest/gtest.h>

#include "prevayler/file_storage.hpp"
#include "prevayler/memory_storage.hpp"
#include "scenarios/core_scenarios.hpp"
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

}  // namespace

std::vector<StorageKind> scenario_storage_kinds() {
  return {
      {"File", [] { return std::make_unique<FileLocation>(); }},
      {"Memory", [] { return std::make_unique<MemoryLocation>(); }},
  };
}

}  // namespace prevayler::testing
