// The smallest state that shows which events survived, and in what order:
// every event, a string, appended to a list. Shared by the storage tests
// that care about bytes (large events, compression), not about business.
#pragma once

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <memory>
#include <string>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace prevayler::testing {

struct StringLog {
  std::vector<std::string> items;
  template <class A>
  void serialize(A& a) {
    a(items);
  }
};

inline StringLog append_string(const StringLog& log, const std::string& e, Timestamp) {
  StringLog next = log;
  next.items.push_back(e);
  return next;
}

// Opens `storage` with append_string and the default options.
inline std::unique_ptr<Prevayler<StringLog, std::string>> open_string_log(
    std::unique_ptr<Storage> storage) {
  typename Prevayler<StringLog, std::string>::Options o;
  o.business = append_string;
  o.storage = std::move(storage);
  return std::make_unique<Prevayler<StringLog, std::string>>(std::move(o));
}

}  // namespace prevayler::testing
