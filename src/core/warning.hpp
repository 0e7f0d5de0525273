// Where warnings go when the user set no `warn` function (Prevayler::Options,
// StorageOptions): one line on stderr. One place, so every part of the
// library reports the same way.
#pragma once

#include <functional>
#include <string>

namespace prevayler::detail {

using WarningFunction = std::function<void(const std::string&)>;

// Prints "prevayler: warning: <message>" on stderr.
void print_warning(const std::string& message);

// `warn`, or print_warning when `warn` is empty.
WarningFunction warning_or_default(WarningFunction warn);

}  // namespace prevayler::detail
