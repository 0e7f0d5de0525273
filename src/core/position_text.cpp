#include "core/position_text.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace prevayler::detail {

std::optional<JournalPosition> parse_position(std::string_view text, std::uint64_t missing) {
  constexpr std::size_t parts_max = 3;
  std::uint64_t parts[parts_max] = {missing, missing, missing};
  // Each pass reads one part: bounded by parts_max.
  for (std::size_t count = 0;; ++count) {
    if (count == parts_max) return std::nullopt;  // a fourth part
    const auto colon = text.find(':');
    const std::string_view part = text.substr(0, colon);
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), parts[count]);
    if (ec != std::errc() || end != part.data() + part.size() || part.empty()) return std::nullopt;
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  JournalPosition p;
  p.segment = parts[0];
  p.record = parts[1];
  p.entry = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(parts[2], std::numeric_limits<std::uint32_t>::max()));
  return p;
}

}  // namespace prevayler::detail
