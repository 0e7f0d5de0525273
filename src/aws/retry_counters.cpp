#include "aws/retry_counters.hpp"

#include <string>
#include <utility>

#include "core/assert.hpp"

namespace prevayler::aws {
namespace {

std::size_t index_of(RetryReason reason) noexcept {
  const auto i = static_cast<std::size_t>(reason);
  PREVAYLER_ASSERT(i < retry_reason_count, "a RetryReason indexes the counters");
  return i;
}

constexpr std::array<RetryReason, retry_reason_count> all_reasons = {
    RetryReason::throttled, RetryReason::server_error, RetryReason::transport,
    RetryReason::damaged_response};

}  // namespace

RetryReason retry_reason(const AttemptFailure& failure) noexcept {
  PREVAYLER_ASSERT(failure.classification != ErrorClass::not_retryable,
                   "only retryable failures have a retry reason");
  if (failure.classification == ErrorClass::throttling) return RetryReason::throttled;
  if (failure.transport_error) return RetryReason::transport;
  if (failure.http_status >= 500) return RetryReason::server_error;
  // S3's 400 RequestTimeout: the connection idled past the service's limit,
  // a network problem like a time-out on our side.
  if (failure.code == "RequestTimeout" || failure.code == "RequestTimeoutException") {
    return RetryReason::transport;
  }
  return RetryReason::damaged_response;
}

std::string_view retry_reason_name(RetryReason reason) noexcept {
  switch (reason) {
    case RetryReason::throttled:
      return "throttled";
    case RetryReason::server_error:
      return "server_error";
    case RetryReason::transport:
      return "transport";
    case RetryReason::damaged_response:
      return "damaged_response";
  }
  PREVAYLER_ASSERT(false, "every RetryReason has a name");
  return {};
}

void RetryCounters::count_retry(RetryReason reason) noexcept {
  retries_[index_of(reason)].fetch_add(1, std::memory_order_relaxed);
}

void RetryCounters::count_retries_exhausted(RetryReason reason) noexcept {
  retries_exhausted_[index_of(reason)].fetch_add(1, std::memory_order_relaxed);
}

void RetryCounters::count_backoff(std::chrono::milliseconds waited) noexcept {
  if (waited.count() > 0) {
    backoff_ms_.fetch_add(static_cast<std::uint64_t>(waited.count()), std::memory_order_relaxed);
  }
}

std::uint64_t RetryCounters::retries(RetryReason reason) const noexcept {
  return retries_[index_of(reason)].load(std::memory_order_relaxed);
}

std::uint64_t RetryCounters::retries_exhausted(RetryReason reason) const noexcept {
  return retries_exhausted_[index_of(reason)].load(std::memory_order_relaxed);
}

std::uint64_t RetryCounters::backoff_ms() const noexcept {
  return backoff_ms_.load(std::memory_order_relaxed);
}

StorageCounters AwsRetryCounters::storage_counters() const {
  const std::array<std::pair<std::string_view, const RetryCounters*>, 2> services = {{
      {"dynamodb", &dynamodb},
      {"s3", &s3},
  }};
  StorageCounters out;
  for (const auto& [service, counters] : services) {
    for (const RetryReason reason : all_reasons) {
      const std::string name(retry_reason_name(reason));
      const std::uint64_t retried = counters->retries(reason);
      const std::uint64_t exhausted = counters->retries_exhausted(reason);
      out.retries_by_reason.push_back({name, retried, std::string(service)});
      out.retries_exhausted_by_reason.push_back({name, exhausted, std::string(service)});
      if (reason == RetryReason::throttled) out.throttled += retried + exhausted;
    }
    out.backoff_ms_by_service.push_back({std::string(service), counters->backoff_ms()});
  }
  return out;
}

}  // namespace prevayler::aws
