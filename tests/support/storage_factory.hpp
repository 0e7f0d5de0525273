// Parameter of the core scenarios: how to open a storage on the same
// persistent location again and again (each open is a "restart").
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "prevayler/storage.hpp"

namespace prevayler::testing {

// One location per test; open() may be called many times (restarts).
class StorageLocation {
 public:
  virtual ~StorageLocation() = default;
  virtual std::unique_ptr<Storage> open() = 0;
};

struct StorageKind {
  std::string name;
  std::function<std::unique_ptr<StorageLocation>()> make_location;
};

inline std::ostream& operator<<(std::ostream& out, const StorageKind& kind) {
  return out << kind.name;
}

}  // namespace prevayler::testing
