// The AWS storage under the core scenarios.
#include "scenarios/core_scenarios.hpp"

namespace prevayler::testing {

std::vector<StorageKind> scenario_storage_kinds() { return {}; }

}  // namespace prevayler::testing
