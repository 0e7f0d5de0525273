// The fault-injecting transport, and the clients' retries and idempotency
// under injected faults against moto.
#include "aws/fault_injecting_transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "aws/aws_test_storage.hpp"
#include "aws/dynamodb.hpp"
#include "aws/moto_server.hpp"
#include "aws/s3.hpp"
#include "prevayler/prevayler.hpp"
#include "support/crash_model.hpp"

namespace prevayler::aws {
namespace {

using testing::moto;
using testing::unique_name;

// Answers 200 "ok" and counts what reached it.
class CountingTransport : public HttpTransport {
 public:
  HttpResponse send(const HttpRequest&) override {
    ++calls;
    HttpResponse r;
    r.status = 200;
    r.body = "ok";
    return r;
  }
  std::atomic<int> calls{0};
};

HttpRequest dynamodb_request() {
  HttpRequest r;
  r.method = "POST";
  r.url = "http://127.0.0.1:1/";
  r.headers = {{"X-Amz-Target", "DynamoDB_20120810.PutItem"}};
  return r;
}

HttpRequest s3_request() {
  HttpRequest r;
  r.method = "PUT";
  r.url = "http://127.0.0.1:1/b/k";
  return r;
}

// Sends `request`, which must fail with a TransportError; returns whether
// the error says the request may have been delivered.
bool failed_send_maybe_delivered(FaultInjectingTransport& t, const HttpRequest& request) {
  try {
    t.send(request);
  } catch (const TransportError& e) {
    return e.maybe_delivered();
  }
  ADD_FAILURE() << "the send did not fail";
  return false;
}

TEST(FaultInjectingTransport, ScriptedFaultsInOrder) {
  auto inner = std::make_shared<CountingTransport>();
  FaultInjectingTransport t(inner);
  t.script({Fault::throttle, Fault::throttle, Fault::server_error, Fault::connection_reset,
            Fault::timeout_after_apply, Fault::corrupt_body, Fault::none});

  HttpResponse throttled = t.send(dynamodb_request());
  EXPECT_EQ(throttled.status, 400);
  EXPECT_NE(throttled.body.find("#ThrottlingException"), std::string::npos);
  HttpResponse slow_down = t.send(s3_request());
  EXPECT_EQ(slow_down.status, 503);
  EXPECT_NE(slow_down.body.find("<Code>SlowDown</Code>"), std::string::npos);
  EXPECT_EQ(t.send(dynamodb_request()).status, 500);
  EXPECT_EQ(inner->calls, 0) << "throttles and 500s are not forwarded";

  EXPECT_FALSE(failed_send_maybe_delivered(t, s3_request()));
  EXPECT_EQ(inner->calls, 0) << "a reset before sending is not forwarded";
  EXPECT_TRUE(failed_send_maybe_delivered(t, s3_request()));
  EXPECT_EQ(inner->calls, 1) << "a time-out after apply is forwarded";
  EXPECT_NE(t.send(s3_request()).body, "ok");
  EXPECT_EQ(t.send(s3_request()).body, "ok");
  EXPECT_EQ(inner->calls, 3);

  FaultCounters c = t.counters();
  EXPECT_EQ(c.requests, 7u);
  EXPECT_EQ(c.forwarded, 3u);
  EXPECT_EQ(c.throttles, 2u);
  EXPECT_EQ(c.server_errors, 1u);
  EXPECT_EQ(c.connection_resets, 1u);
  EXPECT_EQ(c.timeouts_after_apply, 1u);
  EXPECT_EQ(c.corrupted_bodies, 1u);
  EXPECT_EQ(c.faults(), 6u);
}

TEST(FaultInjectingTransport, ProbabilitiesAreRoughlyHonouredAndSeeded) {
  auto run = [](std::uint64_t seed) {
    auto inner = std::make_shared<CountingTransport>();
    FaultInjectionOptions o;
    o.seed = seed;
    o.probabilities.throttle = 0.1;
    o.probabilities.server_error = 0.2;
    FaultInjectingTransport t(inner, o);
    for (int i = 0; i < 10000; ++i) t.send(s3_request());
    return t.counters();
  };
  FaultCounters a = run(5);
  EXPECT_NEAR(static_cast<double>(a.throttles), 1000, 150);
  EXPECT_NEAR(static_cast<double>(a.server_errors), 2000, 200);
  EXPECT_EQ(a.forwarded, 10000 - a.throttles - a.server_errors);
  FaultCounters b = run(5);
  EXPECT_EQ(a.throttles, b.throttles);
  EXPECT_EQ(a.server_errors, b.server_errors);
}

TEST(FaultInjectingTransport, ThreadSafeCounters) {
  auto inner = std::make_shared<CountingTransport>();
  FaultInjectionOptions o;
  o.probabilities.throttle = 0.5;
  FaultInjectingTransport t(inner, o);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) t.send(dynamodb_request());
    });
  for (auto& th : threads) th.join();
  FaultCounters c = t.counters();
  EXPECT_EQ(c.requests, 4000u);
  EXPECT_EQ(c.throttles + c.forwarded, 4000u);
  EXPECT_EQ(static_cast<std::uint64_t>(inner->calls.load()), c.forwarded);
}

TEST(FaultInjectingTransport, AddsLatency) {
  auto inner = std::make_shared<CountingTransport>();
  FaultInjectionOptions o;
  o.latency = std::chrono::milliseconds(20);
  FaultInjectingTransport t(inner, o);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) t.send(s3_request());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(60));
  t.set_latency(std::chrono::milliseconds(0));
  EXPECT_EQ(t.send(s3_request()).body, "ok");
}

StandardRetryOptions patient_retries() {
  StandardRetryOptions r;
  r.seed = 3;
  // At a 30% fault rate, 3 attempts would leave ~2.7% of calls failed; with
  // 10 the chance that one of 200 calls fails is ~1e-3 per run... and
  // seeded, so the run is repeatable.
  r.max_attempts = 10;
  r.base_delay = std::chrono::milliseconds(1);
  r.throttling_base_delay = std::chrono::milliseconds(2);
  r.max_backoff = std::chrono::milliseconds(50);
  return r;
}

// S3 on moto through `faults`, with patient retries.
S3Config patient_s3_config(std::shared_ptr<HttpTransport> faults) {
  S3Config c = prevayler::testing::test_client_config<S3Config>(moto().endpoint(), faults);
  c.retry = make_standard_retry_strategy(patient_retries());
  return c;
}

TEST(FaultInjectionAgainstMoto, TwoHundredPutsUnderFaultsAllLandExactlyOnce) {
  constexpr int kItems = 200;
  constexpr int kThreads = 4;
  constexpr std::uint64_t kPartition = 42;
  auto content_of = [](int i) { return "event-" + std::to_string(i) + std::string(i % 50, '#'); };

  const DynamoDbConfig setup = prevayler::testing::test_client_config<DynamoDbConfig>();
  DynamoDbClient clean(setup);
  const std::string table = unique_name("faults");
  ASSERT_TRUE(clean.create_table(table));
  clean.wait_until_active(table, std::chrono::seconds(30));

  FaultInjectionOptions fo;
  fo.seed = 2024;
  fo.probabilities = {0.075, 0.075, 0.075, 0.075, 0};  // throttle, 500, reset, time-out after apply
  auto faults = std::make_shared<FaultInjectingTransport>(testing::test_transport(), fo);
  DynamoDbConfig config = setup;
  config.transport = faults;
  config.retry = make_standard_retry_strategy(patient_retries());
  DynamoDbClient client(config);

  std::atomic<int> stored{0};
  std::atomic<int> own_after_ambiguity{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kItems; i += kThreads) {
        try {
          PutIfAbsentResult r = client.put_item_if_absent(table, kPartition, i, content_of(i));
          if (r.stored()) {
            ++stored;
          } else if (r.after_ambiguous_attempt && r.existing_content == content_of(i)) {
            ++own_after_ambiguity;
          } else {
            ++wrong;
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << "put " << i << " failed: " << e.what();
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(stored + own_after_ambiguity, kItems);
  const FaultCounters c = faults->counters();
  EXPECT_GT(c.faults(), 30u) << "the faults were not injected";
  EXPECT_GT(c.timeouts_after_apply, 0u);
  std::cout << "[ NOTE     ] " << c.requests << " requests, " << c.throttles << " throttles, "
            << c.server_errors << " 500s, " << c.connection_resets << " resets, "
            << c.timeouts_after_apply << " time-outs after apply; " << stored << " stored, "
            << own_after_ambiguity << " found our own write after an ambiguous attempt\n";

  // Read everything back through the faulty transport too.
  std::map<std::uint64_t, std::string> seen;
  std::optional<std::uint64_t> start;
  do {
    QueryPage page = client.query_page(table, kPartition, start, 37);
    for (auto& item : page.items) EXPECT_TRUE(seen.emplace(item.order, item.content).second);
    start = page.last_evaluated_order;
  } while (start);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(seen[i], content_of(i)) << i;
  clean.delete_table(table);
}

TEST(FaultInjectionAgainstMoto, S3ConditionalPutAfterAmbiguousAttemptIsMarked) {
  auto faults = std::make_shared<FaultInjectingTransport>(testing::test_transport());
  S3Client s3(patient_s3_config(faults));
  const std::string bucket = unique_name("ambiguous");
  s3.create_bucket(bucket);
  // The first PUT lands but its response is lost; the retry's If-None-Match
  // fails on our own object.
  faults->script({Fault::timeout_after_apply});
  try {
    s3.put_object(bucket, "snapshot", "ours", WriteCondition::if_none_match_star());
    FAIL() << "expected PreconditionFailedError";
  } catch (const PreconditionFailedError& e) {
    EXPECT_TRUE(e.after_ambiguous_attempt());
  }
  EXPECT_EQ(s3.get_object(bucket, "snapshot").body, "ours");
  try {
    s3.put_object(bucket, "snapshot", "theirs", WriteCondition::if_none_match_star());
    FAIL() << "expected PreconditionFailedError";
  } catch (const PreconditionFailedError& e) {
    EXPECT_FALSE(e.after_ambiguous_attempt());
  }
}

TEST(FaultInjectionAgainstMoto, S3PutsAndGetsSurviveFaults) {
  FaultInjectionOptions fo;
  fo.seed = 99;
  fo.probabilities = {0.1, 0.1, 0.1, 0, 0};
  auto faults = std::make_shared<FaultInjectingTransport>(testing::test_transport(), fo);
  S3Client s3(patient_s3_config(faults));
  const std::string bucket = unique_name("faults");
  s3.create_bucket(bucket);
  for (int i = 0; i < 30; ++i) {
    const std::string key = "k/" + std::to_string(i);
    s3.put_object(bucket, key, "value " + std::to_string(i));
    EXPECT_EQ(s3.get_object(bucket, key).body, "value " + std::to_string(i));
  }
  EXPECT_EQ(s3.list_objects_v2(bucket, "k/", 7).size(), 30u);
  EXPECT_GT(faults->counters().faults(), 5u);
}

}  // namespace
}  // namespace prevayler::aws

namespace prevayler::testing {
namespace {

using namespace std::chrono_literals;

// Faults between the library and moto under concurrent load: throttling,
// 500s, resets before sending, time-outs after the server applied the
// write. No acknowledged event lost, none applied twice, and the live state
// equals a replay of the journal. One fault of each kind is scripted at the
// start of the load, so the test never passes without the faults it is
// about (above all a write applied whose response was lost); the rest come
// at random. The instance must keep working through all of them: a
// StorageFailedError (which would end the load at once) fails the test.
TEST(AwsStorage, InjectedFaultsLoseNothingAndDuplicateNothing) {
  MotoJournal journal;
  const auto seed = static_cast<std::uint64_t>(std::random_device{}());
  std::cout << "fault seed " << seed << "\n";
  aws::FaultInjectionOptions faults;
  faults.seed = seed;
  auto faulty =
      std::make_shared<aws::FaultInjectingTransport>(aws::testing::test_transport(), faults);
  using Bank = crash::Bank;
  using Event = crash::TransferEvent;
  auto options_for = [&](std::shared_ptr<aws::HttpTransport> t) {
    Prevayler<Bank, Event>::Options o;
    o.business = crash::apply;
    o.initial_state = crash::initial_bank;
    auto so = journal.options();
    // Every request meets a fault about one time in four: 8 attempts make
    // "all failed" a one-in-65,000 event per request, so the test is about
    // what faults do to the journal, not luck.
    so.max_attempts = 8;
    so.unknown_outcome_budget = 60s;
    o.storage = detail::make_aws_storage(so, std::move(t));
    return o;
  };
  constexpr int producers = 8;
  constexpr int per_producer = 40;
  std::vector<int> acked(producers, 0);
  std::shared_ptr<const Bank> live;
  int failures = 0;
  std::vector<std::string> stops;
  {
    Prevayler<Bank, Event> p(options_for(faulty));
    const aws::FaultCounters at_open = faulty->counters();
    EXPECT_EQ(at_open.faults(), 0u);
    // The first requests of the load: a write applied whose answer is lost,
    // then one fault of every other kind; then random faults.
    faulty->script({aws::Fault::timeout_after_apply, aws::Fault::throttle, aws::Fault::server_error,
                    aws::Fault::connection_reset});
    faulty->set_probabilities({0.10, 0.05, 0.05, 0.05, 0.0});
    std::mutex m;
    std::vector<std::thread> threads;
    for (int t = 0; t < producers; ++t) {
      threads.emplace_back([&, t] {
        std::uint64_t seq = 0;
        for (int i = 0; i < per_producer; ++i) {
          try {
            p.handle(Event{static_cast<std::uint32_t>(t), seq, static_cast<std::uint32_t>(i % 8),
                           static_cast<std::uint32_t>((i * 3) % 8), 10});
            ++seq;
            acked[t] = static_cast<int>(seq);
          } catch (const StorageFailedError& e) {
            std::lock_guard l(m);
            stops.push_back(e.what());
            return;
          } catch (const StorageError&) {
            std::lock_guard l(m);
            ++failures;  // not journaled: retry the same seq
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    live = p.state();
  }
  const auto c = faulty->counters();
  std::cout << "requests " << c.requests << ", faults injected " << c.faults() << " (throttles "
            << c.throttles << ", 5xx " << c.server_errors << ", resets " << c.connection_resets
            << ", time-outs after apply " << c.timeouts_after_apply << "), failed handles "
            << failures << "\n";
  EXPECT_TRUE(stops.empty()) << "the instance stopped under retryable faults: " << stops.front();
  EXPECT_GE(c.timeouts_after_apply, 1u);
  EXPECT_GE(c.throttles, 1u);
  EXPECT_GE(c.server_errors, 1u);
  EXPECT_GE(c.connection_resets, 1u);
  EXPECT_GT(c.forwarded, 0u);
  int acked_total = 0;
  for (int a : acked) acked_total += a;
  // Retries absorb nearly every fault: a failed handle() is the exception.
  EXPECT_GE(acked_total, producers * per_producer / 2) << "acknowledged " << acked_total;
  Prevayler<Bank, Event> replayed(options_for(aws::testing::test_transport()));
  const auto& recovered = *replayed.state();
  EXPECT_EQ(recovered.next_seq, live->next_seq);  // the journal equals the live state
  EXPECT_EQ(recovered.balances, live->balances);
  for (int t = 0; t < producers; ++t) {
    const auto have = t < static_cast<int>(recovered.next_seq.size()) ? recovered.next_seq[t] : 0;
    EXPECT_EQ(have, static_cast<std::uint64_t>(acked[t])) << "producer " << t;
  }
  EXPECT_EQ(recovered.total(), static_cast<std::int64_t>(crash::accounts) * crash::initial_balance);
}

}  // namespace
}  // namespace prevayler::testing
