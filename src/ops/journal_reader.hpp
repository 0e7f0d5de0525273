// The storage-independent half of read_journal_entries
// (include/prevayler/journal_reader.hpp): each storage's overload opens its
// JournalSource and calls this.
#pragma once

#include <functional>
#include <string>

#include "ops/journal_access.hpp"
#include "prevayler/journal_reader.hpp"

namespace prevayler::ops {

// Reads every entry `source` keeps, oldest segment first. `warn` may be
// empty (warnings then go to stderr).
void read_all_entries(JournalSource& source, const JournalEntryCallback& callback,
                      const std::function<void(const std::string&)>& warn);

}  // namespace prevayler::ops
