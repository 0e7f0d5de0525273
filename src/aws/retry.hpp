// The AWS "standard" retry mode: bounded attempts, exponential backoff with
// full jitter, and a client-wide retry quota (token bucket) that stops
// retry storms when the service is down.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>

#include "aws/aws_error.hpp"
#include "aws/http.hpp"

namespace prevayler::aws {

// One failed attempt, as the strategy sees it.
struct AttemptFailure {
  ErrorClass classification = ErrorClass::not_retryable;
  bool transport_error = false;  // no response arrived (connection error, time-out)
  // The request may have been applied by the server although we do not know
  // its outcome: a transport error after the request went out, or a 5xx.
  bool maybe_applied = false;
  int http_status = 0;  // 0 for transport errors
  std::string code;     // AWS error code, empty for transport errors

  static AttemptFailure from(const AwsError& error);
  static AttemptFailure from(const TransportError& error);
};

// Per-call state, owned by the caller of the strategy (one per logical
// request, never shared between threads).
struct RetryState {
  int attempts = 0;                // attempts made so far, including the one that just failed
  int last_retry_cost = 0;         // quota taken by the latest retry; 0 before any retry
  bool ambiguous_attempt = false;  // some earlier attempt had maybe_applied
  // When the call began, and how long it slept between attempts, for
  // strategies with a time budget (a test's no-op sleep still spends it).
  std::chrono::steady_clock::time_point first_attempt = std::chrono::steady_clock::now();
  std::chrono::milliseconds slept{0};
};

// A time budget for a loop of attempts outside the client (re-sending a
// write whose outcome is unknown, re-trying a throttled seal): it counts
// both the clock and the backoffs slept, so that an injected no-op sleep
// (simulation tests) ends the loop as a real one would.
class RetryBudget {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  RetryBudget(std::chrono::milliseconds budget, Sleep sleep)
      : budget_(budget), sleep_(std::move(sleep)) {}
  // True when sleeping `backoff` more would overrun the budget.
  bool exhausted_after(std::chrono::milliseconds backoff) const {
    const auto real = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    return std::max(real, slept_) + backoff > budget_;
  }
  void sleep(std::chrono::milliseconds duration) {
    slept_ += duration;
    if (sleep_) {
      sleep_(duration);
    } else {
      std::this_thread::sleep_for(duration);
    }
  }

 private:
  std::chrono::milliseconds budget_;
  Sleep sleep_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::milliseconds slept_{0};
};

// Decides whether and when to retry. Implementations are thread-safe: one
// strategy serves all calls of a client (the quota is client-wide).
class RetryStrategy {
 public:
  virtual ~RetryStrategy() = default;
  // Called after attempt number state.attempts failed. Returns true when the
  // call should be attempted again; then any quota it needs has been taken
  // and recorded in state.last_retry_cost.
  virtual bool should_retry(const AttemptFailure& failure, RetryState& state) = 0;
  // How long to wait before the next attempt (state.attempts attempts made).
  virtual std::chrono::milliseconds delay(const AttemptFailure& failure,
                                          const RetryState& state) = 0;
  // Called when a call succeeded (refunds quota).
  virtual void on_success(const RetryState& state) = 0;
  // Waits; injectable so tests do not sleep.
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

struct StandardRetryOptions {
  int max_attempts = 3;  // attempts in total, the first included
  std::chrono::milliseconds base_delay{100};
  // Throttling asks us to back off harder than a transient error does.
  std::chrono::milliseconds throttling_base_delay{1000};
  std::chrono::milliseconds max_backoff{20000};
  int initial_quota_tokens = 500;
  int retry_cost_tokens = 5;
  int timeout_retry_cost_tokens = 10;  // transport errors (connection, time-out)
  int success_refund_tokens = 1;       // when a call succeeds on its first attempt
  std::optional<std::uint64_t> seed;   // RNG seed; random when unset
  std::function<void(std::chrono::milliseconds)> sleep;  // std::this_thread::sleep_for when unset
};

class StandardRetryStrategy : public RetryStrategy {
 public:
  explicit StandardRetryStrategy(StandardRetryOptions options = {});

  bool should_retry(const AttemptFailure& failure, RetryState& state) override;
  std::chrono::milliseconds delay(const AttemptFailure& failure, const RetryState& state) override;
  void on_success(const RetryState& state) override;
  void sleep_for(std::chrono::milliseconds duration) override;

  int available_quota() const;
  const StandardRetryOptions& options() const noexcept { return options_; }

 private:
  StandardRetryOptions options_;
  mutable std::mutex mutex_;
  int quota_;
  std::mt19937_64 rng_;
};

std::shared_ptr<RetryStrategy> make_standard_retry_strategy(StandardRetryOptions options = {});

// For idempotent reads whose failure stops something that must not stop
// lightly (opening an instance, following a journal): retries every
// retryable failure (throttling, 5xx, resets, time-outs, damaged bodies)
// with the standard backoff, capped at `backoff_max`, until `budget` has
// passed since the call's first attempt; no retry quota, since giving up
// early is the worse outcome here. Non-retryable errors end the call at
// once.
struct BudgetRetryOptions {
  std::chrono::milliseconds budget{60'000};
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds throttling_base_delay{500};
  std::chrono::milliseconds backoff_max{2'000};
  std::function<void(std::chrono::milliseconds)> sleep;  // std::this_thread::sleep_for when unset
};

class BudgetRetryStrategy : public RetryStrategy {
 public:
  explicit BudgetRetryStrategy(BudgetRetryOptions options);

  bool should_retry(const AttemptFailure& failure, RetryState& state) override;
  std::chrono::milliseconds delay(const AttemptFailure& failure, const RetryState& state) override;
  void on_success(const RetryState&) override {}
  void sleep_for(std::chrono::milliseconds duration) override;

 private:
  BudgetRetryOptions options_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

// Runs attempt(const RetryState&) until it returns, or throws an AwsError or
// TransportError that the strategy does not retry (rethrown; an AwsError is
// marked after_ambiguous_attempt when an earlier attempt may have applied).
// Other exceptions propagate at once, except after an attempt that may have
// been applied: then they become a TransportError with maybe_delivered, so
// that no caller mistakes a write that may have landed for a failed one.
template <typename F>
auto run_with_retries(RetryStrategy& strategy, F&& attempt)
    -> std::invoke_result_t<F&, const RetryState&> {
  RetryState state;
  for (;;) {
    ++state.attempts;
    AttemptFailure failure;
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&, const RetryState&>>) {
        attempt(static_cast<const RetryState&>(state));
        strategy.on_success(state);
        return;
      } else {
        auto result = attempt(static_cast<const RetryState&>(state));
        strategy.on_success(state);
        return result;
      }
    } catch (AwsError& e) {
      failure = AttemptFailure::from(e);
      if (!strategy.should_retry(failure, state)) {
        if (state.ambiguous_attempt) e.mark_after_ambiguous_attempt();
        throw;  // the same object, now marked
      }
    } catch (const TransportError& e) {
      failure = AttemptFailure::from(e);
      if (!strategy.should_retry(failure, state)) {
        if (state.ambiguous_attempt && !e.maybe_delivered()) {
          throw TransportError(
              std::string(e.what()) + " (after an attempt that may have been applied)", true);
        }
        throw;
      }
    } catch (const std::exception& e) {
      if (!state.ambiguous_attempt) throw;
      throw TransportError(std::string(e.what()) + " (after an attempt that may have been applied)",
                           true);
    }
    if (failure.maybe_applied) state.ambiguous_attempt = true;
    const std::chrono::milliseconds pause = strategy.delay(failure, state);
    state.slept += pause;
    strategy.sleep_for(pause);
  }
}

}  // namespace prevayler::aws
