// The storage seam's shared parts (include/prevayler/storage.hpp): what a
// storage that does not pipeline gets by default.
#include <string>

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

}  // namespace prevayler
