// The one way an item enters the DynamoDB journal: a conditional PutItem
// (attribute_not_exists), so an item, once written, never changes, and two
// writers can never both own an order.
//
// Contract of put_or_conflict(segment, order, content):
// - Returns nullopt once `content` is durable at (segment, order), exactly
//   once. A write whose outcome is unknown (time-out, reset, 5xx, a 2xx
//   whose checksum failed) is sent again, same key and same bytes; a
//   condition failure that finds our own bytes there is that earlier
//   attempt, hence success.
// - Returns the content another writer put there first (the caller decides:
//   a writer stops with SupersededError, a new owner replays it).
// - Throws StorageError when the write certainly did not happen (a client
//   error, or transient errors past the budget before anything may have
//   landed), and StorageFailedError when its outcome is still unknown after
//   options.unknown_outcome_budget: only a new owner's recovery can tell.
//
// Thread-safe (the client is); each call keeps its own budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aws/dynamodb.hpp"

namespace prevayler::detail {

// First wait before re-sending a write whose outcome is unknown, and the
// most it grows to (doubling): a few seconds keeps a stalled region from
// being hammered without stretching the budget into few attempts.
inline constexpr std::chrono::milliseconds put_backoff_first_ms{100};
inline constexpr std::chrono::milliseconds put_backoff_ms_max{2000};

class JournalPut {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  JournalPut(aws::DynamoDbClient& dynamodb, std::string table,
             std::chrono::milliseconds unknown_outcome_budget, Sleep sleep)
      : dynamodb_(dynamodb),
        table_(std::move(table)),
        unknown_outcome_budget_(unknown_outcome_budget),
        sleep_(std::move(sleep)) {}

  std::optional<std::string> put_or_conflict(std::uint64_t segment, std::uint64_t order,
                                             std::string_view content) const;

  // "table T, item (partkey S, order O)", for messages.
  std::string item_name(std::uint64_t segment, std::uint64_t order) const;
  // SupersededError: another writer's item where ours was to go.
  std::exception_ptr superseded_at(std::uint64_t segment, std::uint64_t order) const;
  const std::string& table() const noexcept { return table_; }
  const Sleep& sleep() const noexcept { return sleep_; }

 private:
  [[noreturn]] void throw_unknown_outcome(std::uint64_t segment, std::uint64_t order,
                                          const std::string& why) const;

  aws::DynamoDbClient& dynamodb_;
  const std::string table_;
  const std::chrono::milliseconds unknown_outcome_budget_;
  const Sleep sleep_;
};

}  // namespace prevayler::detail
