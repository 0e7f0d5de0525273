#include "aws/retry.hpp"

#include <algorithm>
#include <thread>

namespace prevayler::aws {

AttemptFailure AttemptFailure::from(const AwsError& error) {
  AttemptFailure f;
  f.classification = error.classification();
  f.http_status = error.http_status();
  f.code = error.code();
  // A 5xx may come after the write was applied (DynamoDB documents that an
  // InternalServerError leaves the outcome of a write unknown); a retryable
  // error on a 2xx (a body failing its CRC) means it was applied.
  const int status = error.http_status();
  f.maybe_applied = status >= 500 || (status >= 200 && status < 300);
  return f;
}

AttemptFailure AttemptFailure::from(const TransportError& error) {
  AttemptFailure f;
  f.classification = ErrorClass::retryable;
  f.transport_error = true;
  f.maybe_applied = error.maybe_delivered();
  return f;
}

StandardRetryStrategy::StandardRetryStrategy(StandardRetryOptions options)
    : options_(std::move(options)),
      quota_(options_.initial_quota_tokens),
      rng_(options_.seed ? *options_.seed : std::random_device{}()) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
}

bool StandardRetryStrategy::should_retry(const AttemptFailure& failure, RetryState& state) {
  if (failure.classification == ErrorClass::not_retryable) return false;
  if (state.attempts >= options_.max_attempts) return false;
  const int cost =
      failure.transport_error ? options_.timeout_retry_cost_tokens : options_.retry_cost_tokens;
  std::lock_guard lock(mutex_);
  if (quota_ < cost) return false;  // quota exhausted: fail fast instead of piling on
  quota_ -= cost;
  state.last_retry_cost = cost;
  return true;
}

std::chrono::milliseconds StandardRetryStrategy::delay(const AttemptFailure& failure,
                                                       const RetryState& state) {
  using std::chrono::milliseconds;
  const milliseconds base = failure.classification == ErrorClass::throttling
                                ? options_.throttling_base_delay
                                : options_.base_delay;
  // Exponential ceiling base * 2^(attempts-1), capped; the shift is bounded
  // so it cannot overflow.
  const int exponent = std::clamp(state.attempts - 1, 0, 30);
  const double ceiling = std::min(static_cast<double>(base.count()) * double(1ULL << exponent),
                                  static_cast<double>(options_.max_backoff.count()));
  double fraction;
  {
    std::lock_guard lock(mutex_);
    fraction = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return milliseconds(static_cast<milliseconds::rep>(fraction * ceiling));  // full jitter
}

void StandardRetryStrategy::on_success(const RetryState& state) {
  const int refund =
      state.last_retry_cost > 0 ? state.last_retry_cost : options_.success_refund_tokens;
  std::lock_guard lock(mutex_);
  quota_ = std::min(quota_ + refund, options_.initial_quota_tokens);
}

void StandardRetryStrategy::sleep_for(std::chrono::milliseconds duration) {
  if (options_.sleep) {
    options_.sleep(duration);
  } else if (duration.count() > 0) {
    std::this_thread::sleep_for(duration);
  }
}

int StandardRetryStrategy::available_quota() const {
  std::lock_guard lock(mutex_);
  return quota_;
}

std::shared_ptr<RetryStrategy> make_standard_retry_strategy(StandardRetryOptions options) {
  return std::make_shared<StandardRetryStrategy>(std::move(options));
}

BudgetRetryStrategy::BudgetRetryStrategy(BudgetRetryOptions options)
    : options_(std::move(options)), rng_(std::random_device{}()) {}

bool BudgetRetryStrategy::should_retry(const AttemptFailure& failure, RetryState& state) {
  if (failure.classification == ErrorClass::not_retryable) return false;
  const auto real = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - state.first_attempt);
  return std::max(real, state.slept) < options_.budget;
}

std::chrono::milliseconds BudgetRetryStrategy::delay(const AttemptFailure& failure,
                                                     const RetryState& state) {
  const std::chrono::milliseconds base = failure.classification == ErrorClass::throttling
                                             ? options_.throttling_base_delay
                                             : options_.base_delay;
  const int exponent = std::clamp(state.attempts - 1, 0, 30);
  const double ceiling = std::min(static_cast<double>(base.count()) * double(1ULL << exponent),
                                  static_cast<double>(options_.backoff_max.count()));
  std::lock_guard lock(mutex_);
  // Full jitter, as the standard mode: concurrent callers spread out.
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(ceiling * fraction(rng_)));
}

void BudgetRetryStrategy::sleep_for(std::chrono::milliseconds duration) {
  if (options_.sleep) {
    options_.sleep(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

}  // namespace prevayler::aws
