#include "model/aws_backend.hpp"

#include <chrono>
#include <thread>

#include "aws/aws_storage_impl.hpp"
#include "aws/aws_test_storage.hpp"
#include "aws/dynamodb.hpp"
#include "aws/moto_server.hpp"
#include "aws/s3.hpp"
#include "ops/aws_journal.hpp"

namespace prevayler::model {

namespace {

// Short enough that a crashed host's writes give up within a seed, long
// enough for the injected faults' retries to succeed.
constexpr std::chrono::milliseconds unknown_outcome_budget_ms{400};
constexpr std::chrono::milliseconds request_timeout_ms{5'000};
// Reads ride out the injected faults, and a dead server fails a seed soon.
constexpr std::chrono::milliseconds read_retry_budget_ms{10'000};

}  // namespace

aws::HttpResponse CrashableTransport::send(const aws::HttpRequest& request) {
  if (crashed_.load()) throw aws::TransportError("model: host crashed", false);
  aws::HttpResponse response = inner_->send(request);
  // The host died while the request was on the wire: it may have landed,
  // but nobody hears the answer.
  if (crashed_.load()) throw aws::TransportError("model: host crashed mid-request", true);
  return response;
}

AwsBackend::AwsBackend(std::uint64_t seed, aws::FaultProbabilities faults,
                       std::shared_ptr<aws::HttpTransport> services)
    : seed_(seed), probabilities_(faults), services_(std::move(services)) {
  if (!services_) services_ = aws::testing::test_transport();
  endpoint_ = aws::testing::moto().endpoint();
  table_ = aws::testing::unique_name("model");
  bucket_ = aws::testing::unique_name("model");
  aws::DynamoDbClient dynamodb(
      testing::test_client_config<aws::DynamoDbConfig>(endpoint_, services_));
  dynamodb.create_table(table_);
  dynamodb.wait_until_active(table_);
  aws::S3Client(testing::test_client_config<aws::S3Config>(endpoint_, services_))
      .create_bucket(bucket_);
}

AwsBackend::AwsBackend(std::uint64_t seed, aws::FaultProbabilities faults,
                       std::shared_ptr<testing::SimAws> sim)
    : seed_(seed), probabilities_(faults), services_(sim), sim_(std::move(sim)) {
  endpoint_ = testing::SimAws::endpoint;
  table_ = "model-journal";
  bucket_ = "model-snapshots";
  sim_->create_table(table_);
  sim_->create_bucket(bucket_);
  hooks_.sleep = [](std::chrono::milliseconds) { std::this_thread::yield(); };
  hooks_.retry_seed = seed;
}

AwsStorageOptions AwsBackend::options() const {
  AwsStorageOptions o;
  o.table = table_;
  o.bucket = bucket_;
  o.region = sim_ ? std::string(testing::SimAws::region) : std::string(aws::testing::kTestRegion);
  o.endpoint = endpoint_;
  o.credentials =
      AwsCredentials{aws::testing::kTestAccessKeyId, aws::testing::kTestSecretAccessKey, ""};
  o.unknown_outcome_budget = unknown_outcome_budget_ms;
  o.read_retry_budget = read_retry_budget_ms;
  o.request_timeout = request_timeout_ms;
  o.common.warn = [](const std::string&) {};
  return o;
}

std::unique_ptr<Storage> AwsBackend::open(int host, const Knobs& knobs) {
  std::shared_ptr<aws::FaultInjectingTransport> injector;
  std::shared_ptr<CrashableTransport> transport;
  {
    std::lock_guard lock(mutex_);
    aws::FaultInjectionOptions fo;
    fo.probabilities = probabilities_;
    fo.seed = seed_ * 1000 + injectors_.size() + 1;
    injector = std::make_shared<aws::FaultInjectingTransport>(services_, fo);
    transport = std::make_shared<CrashableTransport>(injector);
    injectors_.push_back(injector);
    transports_.emplace_back(host, transport);
  }
  AwsStorageOptions o = options();
  o.common.keep_snapshots = knobs.keep_snapshots;
  o.common.keep_monthly_snapshots = knobs.keep_monthly_snapshots;
  o.writes_in_flight_max = knobs.writes_in_flight_max;
  o.common.compress_journal_records_over = knobs.compress_records_over;
  o.common.compress_snapshots = knobs.compress_snapshots;
  return detail::make_aws_storage(o, transport, hooks_);
}

void AwsBackend::crash(int host) {
  std::lock_guard lock(mutex_);
  for (auto& [h, transport] : transports_) {
    if (h == host) transport->crash();
  }
  ++crash_cuts_;
}

std::unique_ptr<ops::JournalStore> AwsBackend::operator_store() {
  // The operator runs from a machine of its own, through no host's
  // crashable transport: against moto through the command's own (curl,
  // real waits), on the simulator through it with the waits made no-ops.
  // Its prune keeps exactly the snapshot in S3 (there is only one object).
  if (sim_) return ops::make_aws_journal_store(options(), services_, hooks_);
  return ops::make_aws_journal_store(options());
}

std::unique_ptr<Storage> AwsBackend::follower_storage() {
  std::shared_ptr<aws::FaultInjectingTransport> injector;
  {
    std::lock_guard lock(mutex_);
    aws::FaultInjectionOptions fo;
    fo.probabilities = probabilities_;
    fo.seed = seed_ * 1000 + injectors_.size() + 1;
    injector = std::make_shared<aws::FaultInjectingTransport>(services_, fo);
    injectors_.push_back(injector);
  }
  AwsStorageOptions o = options();
  // Longer than any run: only the driver's catch_up() reads.
  o.follow_poll_interval_min = std::chrono::hours(24);
  o.follow_poll_interval_max = std::chrono::hours(24);
  return detail::make_aws_storage(o, injector, hooks_);
}

std::unique_ptr<Storage> AwsBackend::open_for_check() {
  return detail::make_aws_storage(options(), services_, hooks_);
}

FaultTally AwsBackend::faults() const {
  FaultTally tally;
  std::lock_guard lock(mutex_);
  for (const auto& injector : injectors_) {
    const aws::FaultCounters c = injector->counters();
    tally["aws.throttle"] += c.throttles;
    tally["aws.server_error"] += c.server_errors;
    tally["aws.connection_reset"] += c.connection_resets;
    tally["aws.timeout_after_apply"] += c.timeouts_after_apply;
  }
  if (sim_) {
    const testing::SimFaultCounters c = sim_->fault_counters();
    tally["sim.delay"] += c.delays;
    tally["sim.server_error_after_apply"] += c.server_errors_after_apply;
    tally["sim.bad_crc"] += c.bad_crcs;
    tally["sim.unprocessed_items"] += c.unprocessed_items;
  }
  return tally;
}

}  // namespace prevayler::model
