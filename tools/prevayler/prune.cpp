// `prevayler prune`: deletes what recovery no longer reads, with the
// storages' own retention (safe while instances run; docs/protocol.md).
// The deleting is ops::JournalStore::prune, which the model test runs too.
#include <iostream>

#include "tool.hpp"

namespace prevayler::tool {

int run_prune(const StorageFlags& flags, std::uint32_t keep_snapshots) {
  const std::uint64_t deleted = open_store(flags)->prune(keep_snapshots);
  if (flags.aws) {
    std::cout << "DynamoDB table " << flags.table << ": deleted " << deleted
              << " journal items older than the snapshot s3://" << flags.bucket << "/"
              << flags.snapshot_path << std::endl;
  } else {
    std::cout << flags.dir << ": deleted " << deleted << " files" << std::endl;
  }
  return exit_ok;
}

}  // namespace prevayler::tool
