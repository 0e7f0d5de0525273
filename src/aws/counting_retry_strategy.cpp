#include "aws/counting_retry_strategy.hpp"

#include <utility>

#include "core/assert.hpp"

namespace prevayler::aws {

CountingRetryStrategy::CountingRetryStrategy(std::shared_ptr<RetryStrategy> inner,
                                             std::shared_ptr<RetryCounters> counters)
    : inner_(std::move(inner)), counters_(std::move(counters)) {
  PREVAYLER_ASSERT(inner_ && counters_);
}

bool CountingRetryStrategy::should_retry(const AttemptFailure& failure, RetryState& state) {
  const bool retry = inner_->should_retry(failure, state);
  // No strategy retries what is not retryable (the same request would fail
  // the same way); a reason for it would be made up.
  PREVAYLER_ASSERT(!retry || failure.classification != ErrorClass::not_retryable);
  if (failure.classification != ErrorClass::not_retryable) {
    const RetryReason reason = retry_reason(failure);
    if (retry) {
      counters_->count_retry(reason);
    } else {
      counters_->count_retries_exhausted(reason);
    }
  }
  return retry;
}

std::chrono::milliseconds CountingRetryStrategy::delay(const AttemptFailure& failure,
                                                       const RetryState& state) {
  return inner_->delay(failure, state);
}

void CountingRetryStrategy::on_success(const RetryState& state) { inner_->on_success(state); }

void CountingRetryStrategy::sleep_for(std::chrono::milliseconds duration) {
  counters_->count_backoff(duration);
  inner_->sleep_for(duration);
}

std::shared_ptr<RetryStrategy> counted(std::shared_ptr<RetryStrategy> inner,
                                       std::shared_ptr<RetryCounters> counters) {
  return std::make_shared<CountingRetryStrategy>(std::move(inner), std::move(counters));
}

}  // namespace prevayler::aws
