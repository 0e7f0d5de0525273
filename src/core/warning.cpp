#include "core/warning.hpp"

#include <iostream>
#include <utility>

namespace prevayler::detail {

void print_warning(const std::string& message) {
  std::cerr << "prevayler: warning: " << message << std::endl;
}

WarningFunction warning_or_default(WarningFunction warn) {
  if (warn) return warn;
  return print_warning;
}

}  // namespace prevayler::detail
