// A journal position's text form, "SEGMENT[:RECORD[:ENTRY]]", as point in
// time (PointInTime::parse) and the operator's bounds (`prevayler dump
// --from/--until`) read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Parts left out are `missing`: 0 for a lower bound, the largest value for
// an upper one (so "3" then includes all of segment 3). An entry beyond
// 32 bits is the largest entry. Empty when `text` is not of that form.
std::optional<JournalPosition> parse_position(std::string_view text, std::uint64_t missing);

}  // namespace prevayler::detail
