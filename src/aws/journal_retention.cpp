#include "aws/journal_retention.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "aws/s3_snapshot.hpp"
#include "core/record_codec.hpp"

namespace prevayler::detail {
namespace {

// Items per Query page while listing a segment for deletion.
constexpr std::uint32_t retention_page_items_max = 1000;
// A seal record: version, type, writer id, next segment.
constexpr std::size_t seal_record_bytes = 2 + 8 + 8;

// The orders of the items of `segment` that are not seals, oldest first.
std::vector<std::uint64_t> deletable_orders(aws::DynamoDbClient& dynamo, const std::string& table,
                                            std::uint64_t segment) {
  std::vector<std::uint64_t> orders;
  std::optional<std::uint64_t> after;
  do {
    auto page = dynamo.query_page(table, segment, after, retention_page_items_max, true);
    for (const auto& item : page.items) {
      if (!is_seal_content(item.content)) orders.push_back(item.order);
    }
    after = page.last_evaluated_order;
  } while (after);
  return orders;
}

}  // namespace

bool is_seal_content(std::string_view content) noexcept {
  return content.size() == seal_record_bytes &&
         static_cast<unsigned char>(content[0]) == record_format_version &&
         static_cast<unsigned char>(content[1]) == static_cast<unsigned char>(RecordType::seal);
}

std::uint64_t prune_journal_below(aws::DynamoDbClient& dynamo, const std::string& table,
                                  std::uint64_t boundary) {
  // Walk down to the first segment already pruned (only seals left) or
  // never written: everything below it was pruned by an earlier run, since
  // runs prune oldest first. The walk is bounded by the segment count.
  std::vector<std::pair<std::uint64_t, std::vector<std::uint64_t>>> to_prune;
  for (std::uint64_t segment = boundary; segment-- > 0;) {
    std::vector<std::uint64_t> orders = deletable_orders(dynamo, table, segment);
    if (orders.empty()) break;
    to_prune.emplace_back(segment, std::move(orders));
  }
  std::uint64_t deleted = 0;
  for (auto it = to_prune.rbegin(); it != to_prune.rend(); ++it) {
    dynamo.delete_items(table, it->first, it->second);
    deleted += it->second.size();
  }
  return deleted;
}

std::uint64_t retention_boundary(const SnapshotLedger& ledger, RetentionPolicy policy) {
  if (!policy.any()) return 0;
  auto ids = ledger.ids;
  std::sort(ids.begin(), ids.end());
  // The newest N: older ones the ledger does not know may be among them.
  if (ids.empty() || ids.size() < policy.keep_snapshots) return 0;
  if (policy.keep_monthly_snapshots == 0) return ids[ids.size() - policy.keep_snapshots];
  // A snapshot at open with nothing journaled rewrites the object under
  // the same id: one snapshot, dated by its last commit.
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() < policy.keep_snapshots) return 0;
  std::vector<DatedSnapshot> dated;
  for (const std::uint64_t id : ids) {
    const auto committed = ledger.committed_ms.find(id);
    // Read at open, not written since: at most as old as the open.
    dated.push_back({id, committed != ledger.committed_ms.end()
                             ? std::optional<std::int64_t>(committed->second)
                             : ledger.opened_ms});
  }
  if (ledger.opened_ms) {
    std::int64_t newest_month = month_index_of(*ledger.opened_ms);
    for (const DatedSnapshot& s : dated) {
      if (s.time_ms) newest_month = std::max(newest_month, month_index_of(*s.time_ms));
    }
    const std::int64_t window_first = newest_month - policy.keep_monthly_snapshots + 1;
    if (month_index_of(*ledger.opened_ms) >= window_first) return 0;
  }
  return snapshots_to_keep(dated, policy.keep_snapshots, policy.keep_monthly_snapshots).front();
}

void prune_after_snapshot(aws::DynamoDbClient& dynamo, const std::string& table,
                          SnapshotLedger& ledger, RetentionPolicy policy,
                          const std::function<void(const std::string&)>& warn) {
  std::uint64_t boundary = 0;
  {
    std::lock_guard lock(ledger.mutex);
    boundary = retention_boundary(ledger, policy);
  }
  if (boundary == 0) return;
  try {
    prune_journal_below(dynamo, table, boundary);
  } catch (const std::exception& e) {
    warn("retention: could not delete journal segments below " + std::to_string(boundary) +
         " of table " + table + ": " + e.what() +
         " (they are kept; the next snapshot tries again)");
  }
}

std::uint64_t prune_below_current_snapshot(aws::DynamoDbClient& dynamo, const std::string& table,
                                           aws::S3Client& s3, const std::string& bucket,
                                           const std::string& snapshot_key) {
  return prune_journal_below(dynamo, table, read_s3_snapshot_id(s3, bucket, snapshot_key));
}

}  // namespace prevayler::detail
