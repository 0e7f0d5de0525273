// Retention by age (StorageOptions::keep_monthly_snapshots): which snapshots
// a storage keeps as restore points, the newest of each calendar month, on
// top of the newest `keep_snapshots`. Pure: the storages list and date
// their snapshots (file: the file's modification time; DynamoDB+S3: what
// the instance recorded) and delete what this leaves out.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace prevayler::detail {

// What a storage keeps (StorageOptions::keep_snapshots and
// keep_monthly_snapshots); retention runs when either is set.
struct RetentionPolicy {
  std::uint32_t keep_snapshots = 0;
  std::uint32_t keep_monthly_snapshots = 0;
  bool any() const { return keep_snapshots > 0 || keep_monthly_snapshots > 0; }
};

// A snapshot and its time in milliseconds since the Unix epoch (UTC);
// nullopt when the storage cannot date it (it is then always kept).
struct DatedSnapshot {
  std::uint64_t id = 0;
  std::optional<std::int64_t> time_ms;
};

// The ids to keep, ascending: the newest `keep_newest` (at least the
// newest one), every undated one, and, for each of the `keep_months`
// calendar months (UTC) that end with the month of the newest dated
// snapshot, the newest snapshot (by id) dated in that month.
// REQUIRES: `snapshots` non-empty, ascending by id.
std::vector<std::uint64_t> snapshots_to_keep(const std::vector<DatedSnapshot>& snapshots,
                                             std::uint32_t keep_newest, std::uint32_t keep_months);

// The calendar month (UTC) of a time, as year * 12 + month - 1: adjacent
// months are adjacent numbers.
std::int64_t month_index_of(std::int64_t time_ms);

}  // namespace prevayler::detail
