// The DynamoDB+S3 storage's retry counters against moto_server: faults
// injected between the storage and each service (FaultInjectingTransport)
// must show up in Storage::counters(), and in prometheus_text(), as exactly
// as many retries and exhausted requests, per service and reason, as were
// injected.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "aws/aws_test_storage.hpp"
#include "aws/fault_injecting_transport.hpp"
#include "aws/moto_server.hpp"
#include "prevayler/prometheus.hpp"
#include "support/string_log.hpp"

namespace prevayler::testing {
namespace {

using aws::Fault;

// Sends DynamoDB requests (they carry X-Amz-Target) to one transport and
// the rest (S3) to another, so that each fault is known to hit one service.
class ServiceRouter : public aws::HttpTransport {
 public:
  ServiceRouter(std::shared_ptr<aws::HttpTransport> dynamodb,
                std::shared_ptr<aws::HttpTransport> s3)
      : dynamodb_(std::move(dynamodb)), s3_(std::move(s3)) {}

  aws::HttpResponse send(const aws::HttpRequest& request) override {
    for (const auto& [name, value] : request.headers) {
      if (aws::iequals(name, "X-Amz-Target")) return dynamodb_->send(request);
    }
    return s3_->send(request);
  }

 private:
  std::shared_ptr<aws::HttpTransport> dynamodb_;
  std::shared_ptr<aws::HttpTransport> s3_;
};

// What the fault transport injected, in the reasons the storage counts.
struct Injected {
  std::uint64_t throttled = 0;
  std::uint64_t server_error = 0;
  std::uint64_t transport = 0;
  std::uint64_t damaged_response = 0;
};

Injected injected(const aws::FaultCounters& c) {
  return {c.throttles, c.server_errors, c.connection_resets + c.timeouts_after_apply,
          c.corrupted_bodies};
}

std::uint64_t count_of(const std::vector<StorageCounters::ReasonCount>& list,
                       const std::string& service, const std::string& reason) {
  std::uint64_t found = 0;
  int matches = 0;
  for (const auto& r : list) {
    if (r.service == service && r.reason == reason) {
      found = r.count;
      ++matches;
    }
  }
  EXPECT_EQ(matches, 1) << service << " " << reason << " must be listed once";
  return found;
}

std::uint64_t backoff_ms_of(const StorageCounters& s, const std::string& service) {
  for (const auto& b : s.backoff_ms_by_service) {
    if (b.service == service) return b.ms;
  }
  ADD_FAILURE() << "no backoff for " << service;
  return 0;
}

// Every fault injected for `service` was counted once: retried, or the
// request ran out of retries on it.
void expect_counted(const StorageCounters& s, const std::string& service, const Injected& in) {
  const std::pair<const char*, std::uint64_t> expected[] = {
      {"throttled", in.throttled},
      {"server_error", in.server_error},
      {"transport", in.transport},
      {"damaged_response", in.damaged_response},
  };
  for (const auto& [reason, count] : expected) {
    EXPECT_EQ(count_of(s.retries_by_reason, service, reason) +
                  count_of(s.retries_exhausted_by_reason, service, reason),
              count)
        << service << " " << reason;
  }
}

// The value of the sample `series` in a Prometheus text, or "" when absent.
std::string sample_value(const std::string& text, const std::string& series) {
  const std::string start = series + " ";
  std::size_t at = 0;
  while ((at = text.find(start, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const std::size_t end = text.find('\n', at);
      return text.substr(at + start.size(), end - at - start.size());
    }
    at += start.size();
  }
  return "";
}

TEST(AwsRetryCounters, CountExactlyTheFaultsInjectedPerServiceAndReason) {
  MotoJournal journal;
  auto dynamodb = std::make_shared<aws::FaultInjectingTransport>(aws::testing::test_transport());
  auto s3 = std::make_shared<aws::FaultInjectingTransport>(aws::testing::test_transport());
  std::atomic<std::uint64_t> slept_ms{0};
  detail::AwsStorageTestHooks hooks;
  hooks.sleep = [&](std::chrono::milliseconds d) {
    slept_ms += static_cast<std::uint64_t>(d.count());
  };
  hooks.retry_seed = 11;

  // The open's first requests (DescribeTable, HeadBucket), retried by the
  // read strategy within its time budget.
  dynamodb->script({Fault::throttle, Fault::server_error, Fault::connection_reset,
                    Fault::timeout_after_apply, Fault::corrupt_body});
  s3->script({Fault::throttle, Fault::server_error, Fault::connection_reset});
  auto p = open_string_log(detail::make_aws_storage(
      journal.options(), std::make_shared<ServiceRouter>(dynamodb, s3), hooks));
  {
    const StorageCounters at_open = p->metrics().storage;
    expect_counted(at_open, "dynamodb", {1, 1, 2, 1});
    expect_counted(at_open, "s3", {1, 1, 1, 0});
    EXPECT_EQ(count_of(at_open.retries_by_reason, "dynamodb", "transport"), 2u);
    for (const auto& r : at_open.retries_exhausted_by_reason) EXPECT_EQ(r.count, 0u) << r.reason;
    EXPECT_EQ(at_open.throttled, 2u);
  }

  // Journal writes (PutItem, the standard strategy's 3 attempts): a
  // throttle and a 5xx retried; a write applied whose answer was lost, and
  // one whose answer was damaged, retried into our own item.
  dynamodb->script({Fault::throttle, Fault::server_error});
  p->handle("a");
  dynamodb->script({Fault::timeout_after_apply});
  p->handle("b");
  dynamodb->script({Fault::corrupt_body});
  p->handle("c");
  // Throttled on every attempt: the write gives up, the instance goes on.
  dynamodb->script({Fault::throttle, Fault::throttle, Fault::throttle});
  EXPECT_THROW(p->handle("lost"), StorageError);
  p->handle("d");
  // The snapshot's S3 requests: a throttle and a reset, retried.
  s3->script({Fault::throttle, Fault::connection_reset});
  p->snapshot();

  const aws::FaultCounters dynamodb_faults = dynamodb->counters();
  const aws::FaultCounters s3_faults = s3->counters();
  EXPECT_EQ(dynamodb_faults.faults(), 5u + 2u + 1u + 1u + 3u) << "a scripted fault was not used";
  EXPECT_EQ(s3_faults.faults(), 3u + 2u) << "a scripted fault was not used";

  const Metrics m = p->metrics();
  const StorageCounters& s = m.storage;
  expect_counted(s, "dynamodb", injected(dynamodb_faults));
  expect_counted(s, "s3", injected(s3_faults));
  EXPECT_EQ(count_of(s.retries_by_reason, "dynamodb", "throttled"), 4u);
  EXPECT_EQ(count_of(s.retries_exhausted_by_reason, "dynamodb", "throttled"), 1u);
  EXPECT_EQ(count_of(s.retries_by_reason, "dynamodb", "server_error"), 2u);
  EXPECT_EQ(count_of(s.retries_by_reason, "dynamodb", "transport"), 3u);
  EXPECT_EQ(count_of(s.retries_by_reason, "dynamodb", "damaged_response"), 2u);
  EXPECT_EQ(count_of(s.retries_by_reason, "s3", "throttled"), 2u);
  EXPECT_EQ(count_of(s.retries_by_reason, "s3", "transport"), 2u);
  for (const std::string service : {"dynamodb", "s3"}) {
    for (const std::string reason : {"server_error", "transport", "damaged_response"}) {
      EXPECT_EQ(count_of(s.retries_exhausted_by_reason, service, reason), 0u)
          << service << " " << reason;
    }
  }
  EXPECT_EQ(count_of(s.retries_exhausted_by_reason, "s3", "throttled"), 0u);
  EXPECT_EQ(s.throttled, dynamodb_faults.throttles + s3_faults.throttles);
  // Every wait between attempts went through the hooks' sleep (no write's
  // outcome was unknown, so no other loop waited).
  const std::uint64_t dynamodb_backoff = backoff_ms_of(s, "dynamodb");
  const std::uint64_t s3_backoff = backoff_ms_of(s, "s3");
  EXPECT_GT(dynamodb_backoff, 0u);
  EXPECT_GT(s3_backoff, 0u);
  EXPECT_EQ(dynamodb_backoff + s3_backoff, slept_ms.load());

  // The same numbers, as Prometheus sees them.
  const std::string text = prometheus_text(m);
  EXPECT_EQ(sample_value(text,
                         "prevayler_storage_retries_total{service=\"dynamodb\",reason="
                         "\"throttled\"}"),
            "4")
      << text;
  EXPECT_EQ(sample_value(text,
                         "prevayler_storage_retries_total{service=\"dynamodb\",reason="
                         "\"damaged_response\"}"),
            "2");
  EXPECT_EQ(
      sample_value(text, "prevayler_storage_retries_total{service=\"s3\",reason=\"transport\"}"),
      "2");
  EXPECT_EQ(sample_value(text,
                         "prevayler_storage_retries_exhausted_total{service=\"dynamodb\","
                         "reason=\"throttled\"}"),
            "1");
  EXPECT_EQ(sample_value(text,
                         "prevayler_storage_retries_exhausted_total{service=\"s3\",reason="
                         "\"server_error\"}"),
            "0");
  EXPECT_EQ(sample_value(text, "prevayler_storage_throttled_total"),
            std::to_string(dynamodb_faults.throttles + s3_faults.throttles));
  const std::string backoff =
      sample_value(text, "prevayler_storage_retry_backoff_seconds_total{service=\"dynamodb\"}");
  ASSERT_FALSE(backoff.empty()) << text;
  EXPECT_DOUBLE_EQ(std::stod(backoff), static_cast<double>(dynamodb_backoff) / 1000.0);
}

}  // namespace
}  // namespace prevayler::testing
