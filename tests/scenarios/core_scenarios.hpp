// The core scenarios run on every storage. Each test executable defines
// scenario_storage_kinds() with the storages it can open.
#pragma once

#include <vector>

#include "support/storage_factory.hpp"

namespace prevayler::testing {

std::vector<StorageKind> scenario_storage_kinds();

}  // namespace prevayler::testing
