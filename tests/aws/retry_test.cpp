// Unit tests of the standard retry strategy and of the error classification.
#include "aws/retry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "aws/aws_error.hpp"

namespace prevayler::aws {
namespace {

using std::chrono::milliseconds;

AttemptFailure failure(ErrorClass c, bool transport = false) {
  AttemptFailure f;
  f.classification = c;
  f.transport_error = transport;
  return f;
}

StandardRetryOptions no_sleep_options() {
  StandardRetryOptions o;
  o.seed = 42;
  o.sleep = [](milliseconds) {};
  return o;
}

TEST(ErrorClassification, ThrottlingCodes) {
  for (const char* code :
       {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException"}) {
    EXPECT_EQ(classify_error(400, code), ErrorClass::throttling) << code;
  }
  EXPECT_EQ(classify_error(503, "SlowDown"), ErrorClass::throttling);
  EXPECT_EQ(classify_error(429, ""), ErrorClass::throttling);
}

TEST(ErrorClassification, TransientCodesAndStatuses) {
  EXPECT_EQ(classify_error(400, "RequestTimeout"), ErrorClass::retryable);
  EXPECT_EQ(classify_error(400, "RequestTimeoutException"), ErrorClass::retryable);
  EXPECT_EQ(classify_error(500, "InternalError"), ErrorClass::retryable);
  for (int status : {500, 502, 503, 504})
    EXPECT_EQ(classify_error(status, ""), ErrorClass::retryable);
}

TEST(ErrorClassification, NotRetryable) {
  EXPECT_EQ(classify_error(400, "ValidationException"), ErrorClass::not_retryable);
  EXPECT_EQ(classify_error(400, "ResourceNotFoundException"), ErrorClass::not_retryable);
  EXPECT_EQ(classify_error(400, "ConditionalCheckFailedException"), ErrorClass::not_retryable);
  EXPECT_EQ(classify_error(404, "NoSuchKey"), ErrorClass::not_retryable);
  EXPECT_EQ(classify_error(412, "PreconditionFailed"), ErrorClass::not_retryable);
  EXPECT_EQ(classify_error(403, "AccessDenied"), ErrorClass::not_retryable);
}

TEST(ErrorClassification, TransportErrorsAreRetryableAndAmbiguityIsTracked) {
  AttemptFailure before = AttemptFailure::from(TransportError("reset", false));
  EXPECT_EQ(before.classification, ErrorClass::retryable);
  EXPECT_TRUE(before.transport_error);
  EXPECT_FALSE(before.maybe_applied);
  EXPECT_TRUE(AttemptFailure::from(TransportError("timeout", true)).maybe_applied);
  AwsError server(
      AwsErrorInfo{"DynamoDB", "PutItem", "table t", 500, "InternalServerError", "", "", ""});
  EXPECT_TRUE(AttemptFailure::from(server).maybe_applied);
  AwsError garbled(
      AwsErrorInfo{"DynamoDB", "PutItem", "table t", 200, "CRC32CheckFailed", "", "", ""},
      ErrorClass::retryable);
  EXPECT_TRUE(AttemptFailure::from(garbled).maybe_applied);
  AwsError throttled(
      AwsErrorInfo{"DynamoDB", "PutItem", "table t", 400, "ThrottlingException", "", "", ""});
  EXPECT_FALSE(AttemptFailure::from(throttled).maybe_applied);
  EXPECT_EQ(AttemptFailure::from(server).classification, ErrorClass::retryable);
}

TEST(AwsErrorMessage, NamesEverythingAndTheRemedy) {
  try {
    throw_aws_error(
        AwsErrorInfo{"DynamoDB", "DescribeTable", "table journal", 400, "ResourceNotFoundException",
                     "Requested resource not found", "REQ1", ""},
        "us-east-1");
    FAIL();
  } catch (const ResourceNotFoundError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("DynamoDB DescribeTable on table journal"), std::string::npos) << m;
    EXPECT_NE(m.find("ResourceNotFoundException"), std::string::npos) << m;
    EXPECT_NE(m.find("Requested resource not found"), std::string::npos) << m;
    EXPECT_NE(m.find("REQ1"), std::string::npos) << m;
    EXPECT_NE(m.find("prevayler setup --table journal"), std::string::npos) << m;
  }
  try {
    throw_aws_error(AwsErrorInfo{"S3", "GetObject", "s3://b/k", 400, "AuthorizationHeaderMalformed",
                                 "wrong region", "", ""},
                    "us-east-1", "eu-west-1");
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_NE(std::string(e.what()).find("bucket is in region eu-west-1, not us-east-1"),
              std::string::npos)
        << e.what();
  }
  try {
    throw_aws_error(AwsErrorInfo{"DynamoDB", "PutItem", "table t", 400,
                                 "UnrecognizedClientException", "bad token", "", ""});
    FAIL();
  } catch (const CredentialsRejectedError& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("AWS_PROFILE"), std::string::npos);
  }
  EXPECT_THROW(throw_aws_error(AwsErrorInfo{"S3", "PutObject", "s3://b/k", 412,
                                            "PreconditionFailed", "", "", ""}),
               PreconditionFailedError);
  EXPECT_THROW(
      throw_aws_error(AwsErrorInfo{"S3", "GetObject", "s3://b/k", 404, "NoSuchKey", "", "", ""}),
      ResourceNotFoundError);
}

TEST(StandardRetryStrategy, StopsAtMaxAttempts) {
  StandardRetryOptions o = no_sleep_options();
  o.max_attempts = 4;
  StandardRetryStrategy s(o);
  RetryState state;
  int retries = 0;
  for (state.attempts = 1;; ++state.attempts) {
    if (!s.should_retry(failure(ErrorClass::retryable), state)) break;
    ++retries;
  }
  EXPECT_EQ(retries, 3);
  EXPECT_EQ(state.attempts, 4);
}

TEST(StandardRetryStrategy, NeverRetriesNonRetryable) {
  StandardRetryStrategy s(no_sleep_options());
  RetryState state;
  state.attempts = 1;
  EXPECT_FALSE(s.should_retry(failure(ErrorClass::not_retryable), state));
  EXPECT_EQ(s.available_quota(), 500);
}

TEST(StandardRetryStrategy, BackoffStaysWithinExponentialBoundsWithJitter) {
  StandardRetryOptions o = no_sleep_options();
  o.max_attempts = 50;
  StandardRetryStrategy s(o);
  for (int attempts = 1; attempts <= 20; ++attempts) {
    RetryState state;
    state.attempts = attempts;
    const double ceiling = std::min(100.0 * (1 << std::min(attempts - 1, 20)), 20000.0);
    const double throttled_ceiling = std::min(1000.0 * (1 << std::min(attempts - 1, 20)), 20000.0);
    milliseconds max_seen{0};
    for (int i = 0; i < 200; ++i) {
      milliseconds d = s.delay(failure(ErrorClass::retryable), state);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), ceiling);
      max_seen = std::max(max_seen, d);
      milliseconds t = s.delay(failure(ErrorClass::throttling), state);
      EXPECT_LE(t.count(), throttled_ceiling);
    }
    // Full jitter spreads over the whole range: the largest of 200 draws is
    // above half the ceiling (probability of failure 2^-200).
    EXPECT_GT(max_seen.count(), ceiling / 2) << attempts;
  }
}

TEST(StandardRetryStrategy, SameSeedSameDelays) {
  StandardRetryStrategy a(no_sleep_options());
  StandardRetryStrategy b(no_sleep_options());
  RetryState state;
  state.attempts = 3;
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(a.delay(failure(ErrorClass::retryable), state),
              b.delay(failure(ErrorClass::retryable), state));
}

TEST(StandardRetryStrategy, QuotaIsExhaustedAndRefunded) {
  StandardRetryOptions o = no_sleep_options();
  o.max_attempts = 1000;
  StandardRetryStrategy s(o);
  RetryState state;
  state.attempts = 1;
  int retries = 0;
  while (s.should_retry(failure(ErrorClass::retryable), state)) ++retries;
  EXPECT_EQ(retries, 500 / 5);
  EXPECT_EQ(s.available_quota(), 0);
  // A success after a retry refunds that retry's cost.
  s.on_success(state);
  EXPECT_EQ(s.available_quota(), 5);
  // A first-attempt success refunds one token.
  s.on_success(RetryState{1, 0, false});
  EXPECT_EQ(s.available_quota(), 6);
  // Transport errors cost 10: with 6 tokens there is no retry.
  RetryState t{1, 0, false};
  EXPECT_FALSE(s.should_retry(failure(ErrorClass::retryable, true), t));
  EXPECT_TRUE(s.should_retry(failure(ErrorClass::retryable, false), t));
  EXPECT_EQ(s.available_quota(), 1);
}

TEST(StandardRetryStrategy, QuotaNeverExceedsItsInitialValue) {
  StandardRetryStrategy s(no_sleep_options());
  for (int i = 0; i < 100; ++i) s.on_success(RetryState{1, 0, false});
  EXPECT_EQ(s.available_quota(), 500);
}

TEST(RunWithRetries, RetriesUntilSuccessAndSleepsBetween) {
  std::vector<milliseconds> sleeps;
  StandardRetryOptions o = no_sleep_options();
  o.sleep = [&](milliseconds d) { sleeps.push_back(d); };
  StandardRetryStrategy s(o);
  int calls = 0;
  int result = run_with_retries(s, [&](const RetryState& state) {
    ++calls;
    EXPECT_EQ(state.attempts, calls);
    if (calls == 1) throw TransportError("timeout", true);
    if (calls == 2) {
      EXPECT_TRUE(state.ambiguous_attempt);
      throw AwsError(AwsErrorInfo{"S3", "PutObject", "s3://b/k", 503, "SlowDown", "", "", ""});
    }
    return 7;
  });
  EXPECT_EQ(result, 7);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(s.available_quota(), 500 - 10 - 5 + 5);
}

TEST(RunWithRetries, RethrowsTheLastErrorWhenAttemptsRunOut) {
  StandardRetryStrategy s(no_sleep_options());
  int calls = 0;
  EXPECT_THROW(run_with_retries(s,
                                [&](const RetryState&) -> int {
                                  ++calls;
                                  throw AwsError(AwsErrorInfo{"DynamoDB", "Query", "table t", 400,
                                                              "ThrottlingException", "", "", ""});
                                }),
               AwsError);
  EXPECT_EQ(calls, 3);
  calls = 0;
  EXPECT_THROW(run_with_retries(s,
                                [&](const RetryState&) {
                                  ++calls;
                                  throw ResourceNotFoundError(
                                      AwsErrorInfo{"DynamoDB", "Query", "table t", 400,
                                                   "ResourceNotFoundException", "", "", ""});
                                }),
               ResourceNotFoundError);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace prevayler::aws
