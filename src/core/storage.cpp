// The storage seam's shared parts (include/prevayler/storage.hpp): what a
// storage that does not pipeline, or records no schema version, gets by
// default.
#include <string>

#include "prevayler/error.hpp"
#include "prevayler/storage.hpp"

namespace prevayler {

std::string JournalPosition::to_string() const {
  return "segment " + std::to_string(segment) + ", record " + std::to_string(record) + ", entry " +
         std::to_string(entry);
}

namespace {

// A synchronous append's result: already durable.
class CompletedAppend : public PendingAppend {
 public:
  void wait() override {}
};

}  // namespace

std::unique_ptr<PendingAppend> Storage::start_append(EntryBatch batch) {
  append(batch);
  return std::make_unique<CompletedAppend>();
}

std::unique_ptr<SnapshotWriter> Storage::begin_versioned_snapshot(
    std::uint32_t state_schema_version) {
  if (state_schema_version != 1) {
    throw ConfigError(describe() + " cannot record state schema version " +
                      std::to_string(state_schema_version) +
                      " in a snapshot: it does not implement "
                      "Storage::begin_versioned_snapshot(); use the file, AWS or memory "
                      "storage, or keep state_schema_version at 1");
  }
  return begin_snapshot();
}

std::unique_ptr<JournalFollower> Storage::follow() {
  throw ConfigError(describe() +
                    " cannot be followed: it does not implement Storage::follow(); use the "
                    "file storage or the DynamoDB+S3 storage (docs/followers.md)");
}

}  // namespace prevayler
