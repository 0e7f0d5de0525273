#include "aws/ownership.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "aws/aws_error.hpp"
#include "aws/retry.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

std::uint64_t take_ownership(ReplayCursor& c, RecoveryHandler& handler, JournalReplay& replay,
                             const JournalPut& put, std::uint64_t writer_id,
                             std::chrono::milliseconds retry_budget) {
  aws::RetryBudget budget(retry_budget, put.sleep());
  auto backoff = put_backoff_first_ms;
  std::uint32_t conflicts = 0;
  // Bounded: throttles by the budget, conflicts by seal_conflicts_max.
  for (;;) {
    std::string seal;
    encode_seal_record(seal, writer_id, c.segment + 1);
    std::optional<std::string> conflict;
    try {
      conflict = put.put_or_conflict(c.segment, c.expected, seal);
    } catch (const aws::AwsError& e) {
      // Certainly not written (throttled after every attempt): an open
      // keeps trying within the budget, like its reads.
      if (!e.retryable() || budget.exhausted_after(backoff)) throw;
      budget.sleep(backoff);
      backoff = std::min(backoff * 2, put_backoff_ms_max);
      continue;
    }
    if (!conflict) {
      replay.drop_partial_fragments(c, "sealed off by a new owner");
      return c.segment + 1;
    }
    if (++conflicts > seal_conflicts_max) {
      throw StorageError(put.item_name(c.segment, c.expected) + ": another writer wrote " +
                         std::to_string(seal_conflicts_max) +
                         " items at the journal's tail while this instance tried to seal it; "
                         "stop the other instance, then open again");
    }
    c.gap = false;
    if (replay.apply_item(c, aws::JournalItem{c.expected, std::move(*conflict)}, handler)) {
      replay.replay(c, handler);  // another new owner sealed it: follow
    }
  }
}

}  // namespace prevayler::detail
