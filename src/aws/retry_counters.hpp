// The retry counters of the AWS storage: every retried attempt and every
// request that gave up, by service and reason, and the time waited between
// attempts. One AwsRetryCounters is shared by all the clients of a storage
// (resolve_aws_clients); the CountingRetryStrategy of each client counts
// into its service's RetryCounters.
//
// Thread-safety: every member may be called from any number of threads at
// once. Counting is a relaxed atomic add (no lock): the counters are
// statistics, read by metrics() at any moment, and order nothing else.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aws/retry.hpp"
#include "prevayler/metrics.hpp"

namespace prevayler::aws {

// Why an attempt failed, as an operator acts on it.
enum class RetryReason : std::uint8_t {
  throttled,         // the service asked us to slow down (ThrottlingException, SlowDown, 429)
  server_error,      // a 5xx
  transport,         // no response (connection error, time-out), or the service's RequestTimeout
  damaged_response,  // any other retryable failure: a body failing its checksum (x-amz-crc32)
};
inline constexpr std::size_t retry_reason_count = 4;

// The reason of a retryable failure. REQUIRES: failure.classification is
// not ErrorClass::not_retryable.
RetryReason retry_reason(const AttemptFailure& failure) noexcept;
// The name used in StorageCounters and the Prometheus label ("throttled", ...).
std::string_view retry_reason_name(RetryReason reason) noexcept;

// The counters of one service (all its clients: writes and reads).
class RetryCounters {
 public:
  void count_retry(RetryReason reason) noexcept;
  void count_retries_exhausted(RetryReason reason) noexcept;
  void count_backoff(std::chrono::milliseconds waited) noexcept;

  std::uint64_t retries(RetryReason reason) const noexcept;
  std::uint64_t retries_exhausted(RetryReason reason) const noexcept;
  std::uint64_t backoff_ms() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, retry_reason_count> retries_{};
  std::array<std::atomic<std::uint64_t>, retry_reason_count> retries_exhausted_{};
  std::atomic<std::uint64_t> backoff_ms_{0};
};

// The counters of one storage (or one operator command run): one set per
// service its clients talk to.
struct AwsRetryCounters {
  RetryCounters dynamodb;
  RetryCounters s3;

  // Every (service, reason) pair, zeros included, so that each Prometheus
  // series exists from the start (rate() and alerts see the first retry).
  StorageCounters storage_counters() const;
};

}  // namespace prevayler::aws
