// Unit tests of the retry counters: the reason of each failure, and what
// run_with_retries counts through the CountingRetryStrategy (retries,
// requests that ran out of retries, backoff), exactly and from many threads.
// The storage's counters against moto are in aws_retry_counters_test.cpp.
#include "aws/retry_counters.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "aws/aws_error.hpp"
#include "aws/counting_retry_strategy.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"

namespace prevayler::aws {
namespace {

using std::chrono::milliseconds;

AwsError aws_error(const char* service, int status, const char* code) {
  return AwsError(AwsErrorInfo{service, "Op", "resource", status, code, "", "", ""});
}

// A DynamoDB body that failed its x-amz-crc32 check on a 200.
AwsError damaged_body() {
  return AwsError(
      AwsErrorInfo{"DynamoDB", "GetItem", "table t", 200, "CRC32CheckFailed", "", "", ""},
      ErrorClass::retryable);
}

TEST(RetryReason, OfEachRetryableFailure) {
  for (const char* code :
       {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}) {
    EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("DynamoDB", 400, code))),
              RetryReason::throttled)
        << code;
  }
  EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("S3", 503, "SlowDown"))),
            RetryReason::throttled);
  EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("S3", 429, ""))), RetryReason::throttled);
  for (int status : {500, 502, 503, 504}) {
    EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("S3", status, ""))),
              RetryReason::server_error)
        << status;
  }
  EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("DynamoDB", 500, "InternalServerError"))),
            RetryReason::server_error);
  EXPECT_EQ(retry_reason(AttemptFailure::from(TransportError("reset", false))),
            RetryReason::transport);
  EXPECT_EQ(retry_reason(AttemptFailure::from(TransportError("time-out", true))),
            RetryReason::transport);
  EXPECT_EQ(retry_reason(AttemptFailure::from(aws_error("S3", 400, "RequestTimeout"))),
            RetryReason::transport);
  EXPECT_EQ(retry_reason(AttemptFailure::from(damaged_body())), RetryReason::damaged_response);

  EXPECT_EQ(retry_reason_name(RetryReason::throttled), "throttled");
  EXPECT_EQ(retry_reason_name(RetryReason::server_error), "server_error");
  EXPECT_EQ(retry_reason_name(RetryReason::transport), "transport");
  EXPECT_EQ(retry_reason_name(RetryReason::damaged_response), "damaged_response");
}

// A counted standard strategy that never sleeps and records each wait.
struct Counted {
  explicit Counted(int max_attempts) {
    StandardRetryOptions o;
    o.seed = 7;
    o.max_attempts = max_attempts;
    o.sleep = [this](milliseconds d) { slept.push_back(d); };
    strategy = counted(make_standard_retry_strategy(o),
                       std::shared_ptr<RetryCounters>(counters, &counters->dynamodb));
  }
  milliseconds total_slept() const {
    milliseconds total{0};
    for (milliseconds d : slept) total += d;
    return total;
  }

  std::shared_ptr<AwsRetryCounters> counters = std::make_shared<AwsRetryCounters>();
  std::vector<milliseconds> slept;
  std::shared_ptr<RetryStrategy> strategy;
};

// Throws the i-th failure of `failures` on attempt i, then returns 1.
int fail_then_succeed(RetryStrategy& strategy, const std::vector<std::function<void()>>& failures) {
  return run_with_retries(strategy, [&](const RetryState& state) {
    const auto i = static_cast<std::size_t>(state.attempts - 1);
    if (i < failures.size()) failures[i]();
    return 1;
  });
}

TEST(CountingRetryStrategy, CountsEachRetryByReasonAndTheBackoff) {
  Counted c(10);
  const int result = fail_then_succeed(
      *c.strategy, {
                       [] { throw aws_error("DynamoDB", 400, "ThrottlingException"); },
                       [] { throw aws_error("DynamoDB", 500, "InternalServerError"); },
                       [] { throw TransportError("reset", false); },
                       [] { throw aws_error("S3", 400, "RequestTimeout"); },
                       [] { throw damaged_body(); },
                       [] { throw aws_error("S3", 503, "SlowDown"); },
                       [] { throw TransportError("time-out after sending", true); },
                   });
  EXPECT_EQ(result, 1);
  const RetryCounters& d = c.counters->dynamodb;
  EXPECT_EQ(d.retries(RetryReason::throttled), 2u);
  EXPECT_EQ(d.retries(RetryReason::server_error), 1u);
  EXPECT_EQ(d.retries(RetryReason::transport), 3u);
  EXPECT_EQ(d.retries(RetryReason::damaged_response), 1u);
  for (std::size_t r = 0; r < retry_reason_count; ++r) {
    EXPECT_EQ(d.retries_exhausted(static_cast<RetryReason>(r)), 0u) << r;
    EXPECT_EQ(c.counters->s3.retries(static_cast<RetryReason>(r)), 0u) << r;
  }
  ASSERT_EQ(c.slept.size(), 7u);
  EXPECT_GT(c.total_slept().count(), 0);
  EXPECT_EQ(d.backoff_ms(), static_cast<std::uint64_t>(c.total_slept().count()));
  EXPECT_EQ(c.counters->s3.backoff_ms(), 0u);
}

TEST(CountingRetryStrategy, CountsARequestThatRanOutOfAttemptsByItsLastReason) {
  Counted c(3);
  EXPECT_THROW(
      fail_then_succeed(*c.strategy, {
                                         [] { throw aws_error("S3", 503, "SlowDown"); },
                                         [] { throw TransportError("reset", false); },
                                         [] { throw aws_error("S3", 500, "InternalError"); },
                                     }),
      AwsError);
  const RetryCounters& d = c.counters->dynamodb;
  EXPECT_EQ(d.retries(RetryReason::throttled), 1u);
  EXPECT_EQ(d.retries(RetryReason::transport), 1u);
  EXPECT_EQ(d.retries(RetryReason::server_error), 0u);
  EXPECT_EQ(d.retries_exhausted(RetryReason::server_error), 1u);
  EXPECT_EQ(d.retries_exhausted(RetryReason::throttled), 0u);
  EXPECT_EQ(d.retries_exhausted(RetryReason::transport), 0u);
  EXPECT_EQ(d.backoff_ms(), static_cast<std::uint64_t>(c.total_slept().count()));

  // The retry quota runs out: the request gives up although attempts remain.
  StandardRetryOptions o;
  o.seed = 1;
  o.max_attempts = 10;
  o.initial_quota_tokens = 5;  // one retry of a throttle, none more
  o.sleep = [](milliseconds) {};
  auto counters = std::make_shared<AwsRetryCounters>();
  auto strategy = counted(make_standard_retry_strategy(o),
                          std::shared_ptr<RetryCounters>(counters, &counters->s3));
  EXPECT_THROW(
      run_with_retries(*strategy,
                       [](const RetryState&) -> int { throw aws_error("S3", 503, "SlowDown"); }),
      AwsError);
  EXPECT_EQ(counters->s3.retries(RetryReason::throttled), 1u);
  EXPECT_EQ(counters->s3.retries_exhausted(RetryReason::throttled), 1u);
}

TEST(CountingRetryStrategy, ANotRetryableErrorIsNotCounted) {
  Counted c(3);
  EXPECT_THROW(fail_then_succeed(*c.strategy, {[] {
                 throw ResourceNotFoundError(AwsErrorInfo{"DynamoDB", "Query", "table t", 400,
                                                          "ResourceNotFoundException", "", "", ""});
               }}),
               ResourceNotFoundError);
  const StorageCounters s = c.counters->storage_counters();
  for (const auto& r : s.retries_by_reason) EXPECT_EQ(r.count, 0u) << r.service << r.reason;
  for (const auto& r : s.retries_exhausted_by_reason) EXPECT_EQ(r.count, 0u) << r.service;
  EXPECT_EQ(s.throttled, 0u);
}

TEST(CountingRetryStrategy, CountsTheBudgetStrategyGivingUp) {
  BudgetRetryOptions o;
  o.budget = milliseconds(1'000);
  milliseconds slept{0};
  o.sleep = [&](milliseconds d) { slept += d; };  // the slept time still spends the budget
  auto counters = std::make_shared<AwsRetryCounters>();
  auto strategy = counted(std::make_shared<BudgetRetryStrategy>(o),
                          std::shared_ptr<RetryCounters>(counters, &counters->s3));
  int attempts = 0;
  EXPECT_THROW(run_with_retries(*strategy,
                                [&](const RetryState&) -> int {
                                  ++attempts;
                                  throw aws_error("S3", 500, "InternalError");
                                }),
               AwsError);
  ASSERT_GT(attempts, 1);
  EXPECT_EQ(counters->s3.retries(RetryReason::server_error),
            static_cast<std::uint64_t>(attempts - 1));
  EXPECT_EQ(counters->s3.retries_exhausted(RetryReason::server_error), 1u);
  EXPECT_GT(slept.count(), 0);
  EXPECT_EQ(counters->s3.backoff_ms(), static_cast<std::uint64_t>(slept.count()));
}

TEST(CountingRetryStrategy, ExactFromManyThreads) {
  constexpr int threads = 4;
  constexpr int calls_per_thread = 2'000;
  StandardRetryOptions o;
  o.seed = 3;
  o.max_attempts = 3;
  o.sleep = [](milliseconds) {};
  auto counters = std::make_shared<AwsRetryCounters>();
  auto strategy = counted(make_standard_retry_strategy(o),
                          std::shared_ptr<RetryCounters>(counters, &counters->dynamodb));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < calls_per_thread; ++i) {
        // One throttle, then success: the success refunds the quota it took.
        fail_then_succeed(*strategy,
                          {[] { throw aws_error("DynamoDB", 400, "ThrottlingException"); }});
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(counters->dynamodb.retries(RetryReason::throttled),
            static_cast<std::uint64_t>(threads * calls_per_thread));
  EXPECT_EQ(counters->dynamodb.retries_exhausted(RetryReason::throttled), 0u);
}

TEST(AwsRetryCounters, EveryServiceAndReasonInStorageCounters) {
  AwsRetryCounters c;
  c.dynamodb.count_retry(RetryReason::throttled);
  c.dynamodb.count_retry(RetryReason::throttled);
  c.dynamodb.count_retries_exhausted(RetryReason::throttled);
  c.dynamodb.count_retry(RetryReason::transport);
  c.s3.count_retry(RetryReason::throttled);
  c.s3.count_retries_exhausted(RetryReason::server_error);
  c.dynamodb.count_backoff(milliseconds(250));
  c.s3.count_backoff(milliseconds(1'500));
  c.s3.count_backoff(milliseconds(0));
  const StorageCounters s = c.storage_counters();

  using Entry = std::tuple<std::string, std::string, std::uint64_t>;
  auto entries = [](const std::vector<StorageCounters::ReasonCount>& list) {
    std::vector<Entry> out;
    for (const auto& r : list) out.emplace_back(r.service, r.reason, r.count);
    return out;
  };
  EXPECT_EQ(entries(s.retries_by_reason), (std::vector<Entry>{
                                              {"dynamodb", "throttled", 2},
                                              {"dynamodb", "server_error", 0},
                                              {"dynamodb", "transport", 1},
                                              {"dynamodb", "damaged_response", 0},
                                              {"s3", "throttled", 1},
                                              {"s3", "server_error", 0},
                                              {"s3", "transport", 0},
                                              {"s3", "damaged_response", 0},
                                          }));
  EXPECT_EQ(entries(s.retries_exhausted_by_reason), (std::vector<Entry>{
                                                        {"dynamodb", "throttled", 1},
                                                        {"dynamodb", "server_error", 0},
                                                        {"dynamodb", "transport", 0},
                                                        {"dynamodb", "damaged_response", 0},
                                                        {"s3", "throttled", 0},
                                                        {"s3", "server_error", 1},
                                                        {"s3", "transport", 0},
                                                        {"s3", "damaged_response", 0},
                                                    }));
  EXPECT_EQ(s.throttled, 4u);  // 2 + 1 retried, 1 exhausted
  ASSERT_EQ(s.backoff_ms_by_service.size(), 2u);
  EXPECT_EQ(s.backoff_ms_by_service[0].service, "dynamodb");
  EXPECT_EQ(s.backoff_ms_by_service[0].ms, 250u);
  EXPECT_EQ(s.backoff_ms_by_service[1].service, "s3");
  EXPECT_EQ(s.backoff_ms_by_service[1].ms, 1'500u);
}

}  // namespace
}  // namespace prevayler::aws
