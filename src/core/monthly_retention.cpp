#include "core/monthly_retention.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/assert.hpp"

namespace prevayler::detail {

std::int64_t month_index_of(std::int64_t time_ms) {
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(time_ms)));
  const std::chrono::year_month_day date(day);
  return static_cast<std::int64_t>(static_cast<int>(date.year())) * 12 +
         static_cast<std::int64_t>(static_cast<unsigned>(date.month())) - 1;
}

std::vector<std::uint64_t> snapshots_to_keep(const std::vector<DatedSnapshot>& snapshots,
                                             std::uint32_t keep_newest, std::uint32_t keep_months) {
  PREVAYLER_ASSERT(!snapshots.empty());
  PREVAYLER_ASSERT(std::is_sorted(snapshots.begin(), snapshots.end(),
                                  [](const auto& a, const auto& b) { return a.id < b.id; }));
  std::vector<std::uint64_t> kept;
  const std::size_t newest = std::max<std::size_t>(1, keep_newest);
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    if (i + newest >= snapshots.size() || !snapshots[i].time_ms) kept.push_back(snapshots[i].id);
  }
  if (keep_months > 0) {
    // The newest dated snapshot sets the window, not the wall clock: a
    // journal that stopped taking snapshots keeps its last months.
    std::optional<std::int64_t> last_month;
    std::map<std::int64_t, std::uint64_t> newest_of_month;  // month -> id
    for (const DatedSnapshot& s : snapshots) {
      if (!s.time_ms) continue;
      const std::int64_t month = month_index_of(*s.time_ms);
      newest_of_month[month] = std::max(newest_of_month[month], s.id);
      last_month = last_month ? std::max(*last_month, month) : month;
    }
    for (const auto& [month, id] : newest_of_month) {
      if (last_month && month > *last_month - static_cast<std::int64_t>(keep_months)) {
        kept.push_back(id);
      }
    }
  }
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  return kept;
}

}  // namespace prevayler::detail
