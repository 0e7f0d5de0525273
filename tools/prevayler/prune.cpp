// `prevayler prune`: deletes what recovery no longer reads, with the
// storages' own retention (safe while instances run; docs/protocol.md).
// The deleting is ops::JournalStore::prune, which the model test runs too.
#include <iostream>

#include "tool.hpp"

namespace prevayler::tool {

int run_prune(const StorageFlags& flags, detail::RetentionPolicy policy) {
  const std::uint64_t deleted = open_store(flags)->prune(policy);
  if (flags.aws && policy.keep_monthly_snapshots >= 2) {
    std::cout << "DynamoDB table " << flags.table << ": deleted nothing: --keep-months "
              << policy.keep_monthly_snapshots
              << " keeps the journal of months before the snapshot s3://" << flags.bucket << "/"
              << flags.snapshot_path
              << ", whose snapshots this command cannot date (docs/operations.md)" << std::endl;
  } else if (flags.aws) {
    std::cout << "DynamoDB table " << flags.table << ": deleted " << deleted
              << " journal items older than the snapshot s3://" << flags.bucket << "/"
              << flags.snapshot_path << std::endl;
  } else {
    std::cout << flags.dir << ": deleted " << deleted << " files" << std::endl;
  }
  return exit_ok;
}

}  // namespace prevayler::tool
