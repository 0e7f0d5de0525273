// The state of the retention tests: every event, an int, appended to a
// list; opened on any storage.
#pragma once

#include <cereal/types/vector.hpp>
#include <memory>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace prevayler::testing {

struct Values {
  std::vector<int> v;
  template <class A>
  void serialize(A& a) {
    a(v);
  }
};

// Options on `storage` with a business function that appends each event.
inline Prevayler<Values, int>::Options values_options(std::unique_ptr<Storage> storage) {
  Prevayler<Values, int>::Options o;
  o.business = [](const Values& s, const int& e, Timestamp) {
    Values n = s;
    n.v.push_back(e);
    return n;
  };
  o.storage = std::move(storage);
  return o;
}

inline std::unique_ptr<Prevayler<Values, int>> open_values(std::unique_ptr<Storage> storage) {
  return std::make_unique<Prevayler<Values, int>>(values_options(std::move(storage)));
}

}  // namespace prevayler::testing
