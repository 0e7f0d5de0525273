// The DynamoDB+S3 storage under the core scenarios, against moto_server.
#include "aws/aws_test_storage.hpp"
#include "scenarios/core_scenarios.hpp"

namespace prevayler::testing {
namespace {

class MotoLocation : public StorageLocation {
 public:
  std::unique_ptr<Storage> open() override { return journal_.open(); }

 private:
  MotoJournal journal_;
};

}  // namespace

std::vector<StorageKind> scenario_storage_kinds() {
  return {{"Aws", [] { return std::make_unique<MotoLocation>(); }}};
}

}  // namespace prevayler::testing
