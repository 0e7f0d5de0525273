#include "aws/journal_put.hpp"

#include <algorithm>

#include "aws/journal_items.hpp"
#include "aws/retry.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// HTTP statuses after which a write may have been applied: a server error
// (5xx) or a success whose body failed its checksum (2xx).
bool maybe_applied(const aws::AwsError& e) {
  const int status = e.http_status();
  return e.after_ambiguous_attempt() || status >= 500 || (status >= 200 && status < 300);
}

}  // namespace

std::string JournalPut::item_name(std::uint64_t segment, std::uint64_t order) const {
  return journal_item_name(table_, segment, order);
}

std::exception_ptr JournalPut::superseded_at(std::uint64_t segment, std::uint64_t order) const {
  return std::make_exception_ptr(SupersededError(
      item_name(segment, order) +
      " was written by another writer: another instance took over this journal. This "
      "instance stopped; its unacknowledged events were not applied."));
}

void JournalPut::throw_unknown_outcome(std::uint64_t segment, std::uint64_t order,
                                       const std::string& why) const {
  throw StorageFailedError("the outcome of the write of " + item_name(segment, order) +
                           " is unknown" + why +
                           ". This instance stopped so the journal never holds an event the "
                           "live state lacks; a restart recovers exactly what the journal holds.");
}

std::optional<std::string> JournalPut::put_or_conflict(std::uint64_t segment, std::uint64_t order,
                                                       std::string_view content) const {
  aws::RetryBudget budget(unknown_outcome_budget_, sleep_);
  auto backoff = put_backoff_first_ms;
  bool outcome_unknown = false;
  std::string last_error;
  // Bounded by the budget: every pass either returns, throws, or sleeps.
  for (;;) {
    try {
      auto result = dynamodb_.put_item_if_absent(table_, segment, order, content);
      if (result.stored()) return std::nullopt;
      if (result.existing_content) {
        if (*result.existing_content == content) return std::nullopt;  // our earlier attempt
        return std::move(result.existing_content);
      }
      // The item vanished between the put and the read (retention):
      // try again, within the budget.
      last_error = "the conflicting item vanished before it could be read";
    } catch (const aws::AwsError& e) {
      if (!maybe_applied(e) && !outcome_unknown) throw;  // definitely not stored
      outcome_unknown = true;
      last_error = e.what();
    } catch (const aws::TransportError& e) {
      // Conservative: an earlier attempt inside the client's retries may
      // have reached the server even if this last one did not.
      outcome_unknown = true;
      last_error = e.what();
    } catch (const std::exception& e) {
      // Not a service answer: nothing tells whether an earlier attempt
      // landed, so reporting the write as failed could be a lie.
      if (!outcome_unknown) throw;
      throw_unknown_outcome(
          segment, order, " (" + std::string(e.what()) + " after an attempt that may have landed)");
    }
    if (budget.exhausted_after(backoff)) {
      if (!outcome_unknown) throw StorageError(item_name(segment, order) + ": " + last_error);
      throw_unknown_outcome(segment, order,
                            " after retrying for " +
                                std::to_string(unknown_outcome_budget_.count()) +
                                " ms (last error: " + last_error + ")");
    }
    budget.sleep(backoff);
    backoff = std::min(backoff * 2, put_backoff_ms_max);
  }
}

}  // namespace prevayler::detail
