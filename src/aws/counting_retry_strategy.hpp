// A RetryStrategy that forwards every decision to another one and counts
// what it decided in a service's RetryCounters: each retried attempt and
// each request that gave up, by reason, and each backoff waited. The
// decorator leaves run_with_retries and the clients as they are, and any
// strategy (standard, budget) is counted the same way.
#pragma once

#include <chrono>
#include <memory>

#include "aws/retry.hpp"
#include "aws/retry_counters.hpp"

namespace prevayler::aws {

// Thread-safe as its inner strategy is: the counting is relaxed atomics.
class CountingRetryStrategy : public RetryStrategy {
 public:
  // REQUIRES: inner and counters are not null. Holds both for its lifetime
  // (an aliasing shared_ptr keeps the AwsRetryCounters that owns counters).
  CountingRetryStrategy(std::shared_ptr<RetryStrategy> inner,
                        std::shared_ptr<RetryCounters> counters);

  // A retryable failure is counted as a retry when the inner strategy
  // retries it, as exhausted when it does not; a failure that is not
  // retryable is the caller's error, not the service's health, and is not
  // counted.
  bool should_retry(const AttemptFailure& failure, RetryState& state) override;
  std::chrono::milliseconds delay(const AttemptFailure& failure, const RetryState& state) override;
  void on_success(const RetryState& state) override;
  // Counts the wait, then forwards it (a test's no-op sleep still counts:
  // the backoff is what the strategy asked for).
  void sleep_for(std::chrono::milliseconds duration) override;

 private:
  std::shared_ptr<RetryStrategy> inner_;
  std::shared_ptr<RetryCounters> counters_;
};

// `inner` counted into `counters`.
std::shared_ptr<RetryStrategy> counted(std::shared_ptr<RetryStrategy> inner,
                                       std::shared_ptr<RetryCounters> counters);

}  // namespace prevayler::aws
