// `prevayler prune`: deletes what recovery no longer reads, with the
// storages' own retention (safe while instances run; docs/protocol.md).
#include <iostream>

#include "prevayler/file_storage.hpp"
#include "tool.hpp"
#ifdef PREVAYLER_WITH_AWS
#include "prevayler/aws_storage.hpp"
#endif

namespace prevayler::tool {

int run_prune(const StorageFlags& flags, std::uint32_t keep_snapshots) {
#ifdef PREVAYLER_WITH_AWS
  if (flags.aws) {
    const std::uint64_t deleted = prune_aws_journal(aws_options(flags));
    std::cout << "DynamoDB table " << flags.table << ": deleted " << deleted
              << " journal items older than the snapshot s3://" << flags.bucket << "/"
              << flags.snapshot_path << std::endl;
    return exit_ok;
  }
#endif
  const std::size_t deleted = prune_file_storage(flags.dir, keep_snapshots);
  std::cout << flags.dir << ": deleted " << deleted << " files" << std::endl;
  return exit_ok;
}

}  // namespace prevayler::tool
