// Followers (docs/followers.md), measured on the file storage, or with
// --endpoint on DynamoDB+S3 (moto_server, possibly behind the latency
// proxy):
//  - lag: from a producer's acknowledgement to the event visible on a
//    follower (Follower::wait_for on the writer's position), p50 and p99,
//    with 64 producers;
//  - failover: a journal of E events with no snapshot since its start; the
//    writer goes away (its storage released as a killed process's is);
//    the time to the first acknowledged event of the promoted follower,
//    against a cold open of the same journal;
//  - cost (DynamoDB): the requests a follower sends and the read units they
//    consume, idle for S seconds and while 64 producers write, per hour.
// Usage: prevayler_follower_bench [--events E] [--lag-events N] [--dir PATH]
//                                 [--endpoint URL [--cost-seconds S]]
// Prints `name value unit` lines (bench_output.hpp).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_counter.hpp"
#include "bench_output.hpp"
#include "prevayler/follower.hpp"
#ifdef PREVAYLER_BENCH_AWS
#include <unistd.h>
#include "aws/aws_storage_impl.hpp"
#include "aws/curl_transport.hpp"
#include "bench_aws.hpp"
#endif

namespace {

using bench::Clock;
using bench::Count;
using bench::P;
using F = prevayler::Follower<Count, std::string>;

constexpr int lag_producers = 64;
constexpr auto wait_ms_max = std::chrono::milliseconds(10'000);

// Makes the storage of one writer or follower of the journal under test.
using StorageMaker = std::function<std::unique_ptr<prevayler::Storage>()>;

P::Options options(const StorageMaker& storage) {
  P::Options o;
  o.business = bench::count_event;
  o.storage = storage();
  o.snapshot_on_open = false;
  return o;
}

StorageMaker file_storage(const std::filesystem::path& dir) {
  return [dir] {
    prevayler::FileStorageOptions so;
    so.directory = dir;
    return prevayler::make_file_storage(so);
  };
}

struct EventMaker {
  std::string next() { return "event"; }
};

void measure_lag(const StorageMaker& storage, std::uint64_t events) {
  P writer(options(storage));
  F follower(options(storage));
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::vector<double>> latencies(lag_producers);
  std::vector<std::thread> threads;
  for (int t = 0; t < lag_producers; ++t) {
    threads.emplace_back([&, t] {
      while (sent.fetch_add(1) < events) {
        writer.handle("event");
        const prevayler::JournalPosition at = writer.position();
        const auto acknowledged = Clock::now();
        if (!follower.wait_for(at, wait_ms_max)) std::abort();  // a follower that never catches up
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - acknowledged).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::vector<double> sorted = bench::sorted_latencies(latencies);
  bench::print("follower_lag_p50_us", bench::percentile(sorted, 0.5), "us");
  bench::print("follower_lag_p99_us", bench::percentile(sorted, 0.99), "us");
}

void measure_failover(const StorageMaker& storage, std::uint64_t events) {
  auto writer = std::make_unique<P>(options(storage));
  bench::write_events(*writer, events, [](int) { return EventMaker{}; });
  F follower(options(storage));
  follower.catch_up();
  writer.reset();  // the writer is gone: its lock released, as at a kill -9

  auto start = Clock::now();
  auto promoted = follower.promote();
  promoted->handle("first after failover");
  bench::print("failover_promoted_ms",
               std::chrono::duration<double, std::milli>(Clock::now() - start).count(), "ms");
  promoted.reset();

  start = Clock::now();
  P cold(options(storage));
  cold.handle("first after cold open");
  bench::print("failover_cold_open_ms",
               std::chrono::duration<double, std::milli>(Clock::now() - start).count(), "ms");
  bench::print("failover_cold_open_events", static_cast<double>(cold.stats().events_replayed),
               "events");
}

#ifdef PREVAYLER_BENCH_AWS
namespace aws = prevayler::aws;

// Counts what a follower sends: requests by service, and the read units of
// its reads. A strongly consistent Query or GetItem costs one unit per
// started 4 KB of what it reads, at least one: the response body stands in
// for the items' size (it is slightly larger: JSON and base64).
class CountingTransport : public aws::HttpTransport {
 public:
  explicit CountingTransport(std::shared_ptr<aws::HttpTransport> inner)
      : inner_(std::move(inner)) {}
  aws::HttpResponse send(const aws::HttpRequest& request) override {
    aws::HttpResponse response = inner_->send(request);
    const std::string* target = nullptr;
    for (const auto& [name, value] : request.headers) {
      if (aws::iequals(name, "X-Amz-Target")) target = &value;
    }
    if (!target) {
      ++s3_requests;
    } else {
      ++dynamodb_requests;
      if (target->ends_with(".Query") || target->ends_with(".GetItem")) {
        read_units += std::max<std::uint64_t>(1, (response.body.size() + 4095) / 4096);
      }
    }
    return response;
  }
  void reset() {
    dynamodb_requests = 0;
    s3_requests = 0;
    read_units = 0;
  }
  std::atomic<std::uint64_t> dynamodb_requests{0};
  std::atomic<std::uint64_t> s3_requests{0};
  std::atomic<std::uint64_t> read_units{0};

 private:
  std::shared_ptr<aws::HttpTransport> inner_;
};

StorageMaker aws_storage(const std::string& endpoint, const std::string& name,
                         std::shared_ptr<aws::HttpTransport> transport = nullptr) {
  return [endpoint, name, transport] {
    return prevayler::detail::make_aws_storage(bench::aws_storage_options(endpoint, name),
                                               transport);
  };
}

void print_per_hour(const std::string& what, const CountingTransport& counts, double seconds) {
  const double hour = 3600.0 / seconds;
  bench::print(what + "_dynamodb_requests_per_hour",
               static_cast<double>(counts.dynamodb_requests.load()) * hour, "requests");
  bench::print(what + "_s3_requests_per_hour",
               static_cast<double>(counts.s3_requests.load()) * hour, "requests");
  bench::print(what + "_read_units_per_hour", static_cast<double>(counts.read_units.load()) * hour,
               "units");
}

// A follower at the default poll intervals, idle, then while 64 producers
// write as fast as they can.
void measure_cost(const std::string& endpoint, const std::string& name, int seconds) {
  auto counting = std::make_shared<CountingTransport>(aws::make_curl_transport());
  P writer(options(aws_storage(endpoint, name)));
  writer.handle("event");
  F follower(options(aws_storage(endpoint, name, counting)));
  follower.catch_up();
  // The interval grows to its maximum within a few idle looks.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  counting->reset();
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  print_per_hour("follower_idle", *counting,
                 std::chrono::duration<double>(Clock::now() - start).count());

  counting->reset();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written{0};
  std::vector<std::thread> threads;
  start = Clock::now();
  for (int t = 0; t < lag_producers; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        writer.handle("event");
        ++written;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  print_per_hour("follower_loaded", *counting, elapsed);
  bench::print("follower_loaded_writer_events_per_s", static_cast<double>(written.load()) / elapsed,
               "events/s");
}

int run_aws(const std::string& endpoint, std::uint64_t events, std::uint64_t lag_events,
            int cost_seconds) {
  const std::string run = "follower-bench-" + std::to_string(::getpid());
  bench::create_table_and_bucket(endpoint, run + "-lag");
  measure_lag(aws_storage(endpoint, run + "-lag"), lag_events);
  bench::create_table_and_bucket(endpoint, run + "-failover");
  measure_failover(aws_storage(endpoint, run + "-failover"), events);
  bench::create_table_and_bucket(endpoint, run + "-cost");
  measure_cost(endpoint, run + "-cost", cost_seconds);
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 1'000'000;
  std::uint64_t lag_events = 20'000;
  std::string endpoint;
  int cost_seconds = 60;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "prevayler-follower-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--lag-events") lag_events = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--dir") dir = argv[i + 1];
    if (arg == "--endpoint") endpoint = argv[i + 1];
    if (arg == "--cost-seconds") cost_seconds = std::atoi(argv[i + 1]);
  }
  if (!endpoint.empty()) {
#ifdef PREVAYLER_BENCH_AWS
    return run_aws(endpoint, events, lag_events, cost_seconds);
#else
    std::fprintf(stderr, "prevayler_follower_bench: --endpoint: built without the AWS storage\n");
    return 2;
#endif
  }
  std::filesystem::remove_all(dir);
  measure_lag(file_storage(dir / "lag"), lag_events);
  measure_failover(file_storage(dir / "failover"), events);
  std::filesystem::remove_all(dir);
  return 0;
}
