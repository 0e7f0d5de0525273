// The state of the file storage's tests: every event, a 64-bit number,
// appended to a list.
#pragma once

#include <cereal/types/vector.hpp>
#include <cstdint>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace prevayler::testing {

struct Numbers {
  std::vector<std::int64_t> values;
  template <class A>
  void serialize(A& a) {
    a(values);
  }
};

inline Numbers append_value(const Numbers& n, const std::int64_t& v, Timestamp) {
  Numbers next = n;
  next.values.push_back(v);
  return next;
}

}  // namespace prevayler::testing
