// The DynamoDB+S3 journal against an endpoint (moto_server in
// bench/run_aws_bench.sh): events/s and latency with 1 and 64 producers,
// 100-byte events, group commit on and off (off = the seed's algorithm: one
// synchronous PutItem per event, one at a time), and replay events/s.
//
//   prevayler_aws_bench --endpoint URL [--seconds S] [--replay-events N]
#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/curl_transport.hpp"
#include "aws/dynamodb.hpp"
#include "aws/s3.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/prevayler.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t event_bytes = 100;

struct Count {
  std::uint64_t events = 0;
  template <class A>
  void serialize(A& a) {
    a(events);
  }
};
using P = prevayler::Prevayler<Count, std::string>;

struct Target {
  std::string endpoint;
  std::string table;
  std::string bucket;
};

Target make_target(const std::string& endpoint, const std::string& name) {
  namespace aws = prevayler::aws;
  auto credentials = aws::static_credentials({"bench", "bench", "", {}});
  auto transport = aws::make_curl_transport();
  aws::DynamoDbConfig d;
  d.region = "us-east-1";
  d.endpoint = endpoint;
  d.credentials = credentials;
  d.transport = transport;
  aws::DynamoDbClient dynamo(d);
  dynamo.create_table(name);
  dynamo.wait_until_active(name);
  aws::S3Config s;
  s.region = "us-east-1";
  s.endpoint = endpoint;
  s.credentials = credentials;
  s.transport = transport;
  aws::S3Client(s).create_bucket(name);
  return {endpoint, name, name};
}

P::Options options(const Target& target, bool group_commit) {
  P::Options o;
  o.business = [](const Count& c, const std::string&, prevayler::Timestamp) {
    return Count{c.events + 1};
  };
  prevayler::AwsStorageOptions s;
  s.table = target.table;
  s.bucket = target.bucket;
  s.region = "us-east-1";
  s.endpoint = target.endpoint;
  s.credentials = prevayler::AwsCredentials{"bench", "bench", ""};
  o.storage = prevayler::make_aws_storage(s);
  if (!group_commit) o.limits.batch_events_max = 1;
  return o;
}

void run(const Target& target, int producers, bool group_commit, double seconds) {
  P p(options(target, group_commit));
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(producers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      const std::string event(event_bytes - 8, 'e');  // + cereal's 8-byte length = 100
      while (!stop.load(std::memory_order_relaxed)) {
        const auto before = Clock::now();
        p.handle(event);
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - before).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = p.stats();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "%-16s %3d producer(s): %10.0f events/s %8.1f events/write  p50 %7.2f ms  p99 %7.2f ms\n",
      group_commit ? "group commit" : "one per PutItem", producers,
      static_cast<double>(stats.events_journaled) / elapsed,
      static_cast<double>(stats.events_journaled) /
          static_cast<double>(std::max<std::uint64_t>(1, stats.journal_writes)),
      all.empty() ? 0 : all[all.size() / 2], all.empty() ? 0 : all[all.size() * 99 / 100]);
}

void replay(const Target& target, std::uint64_t events) {
  {
    P p(options(target, true));
    std::atomic<std::uint64_t> sent{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 64; ++t) {
      threads.emplace_back([&] {
        const std::string event(event_bytes - 8, 'r');
        while (sent.fetch_add(1) < events) p.handle(event);
      });
    }
    for (auto& t : threads) t.join();
  }
  const auto start = Clock::now();
  P p(options(target, true));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("replay of %llu events (%llu-byte): %.2f s, %.0f events/s\n",
              static_cast<unsigned long long>(p.stats().events_replayed),
              static_cast<unsigned long long>(event_bytes), elapsed,
              static_cast<double>(p.stats().events_replayed) / elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint;
  double seconds = 5;
  std::uint64_t replay_events = 100'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--endpoint")) endpoint = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--replay-events"))
      replay_events = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (endpoint.empty()) {
    std::fprintf(stderr,
                 "usage: prevayler_aws_bench --endpoint URL [--seconds S] [--replay-events N]\n");
    return 2;
  }
  std::printf("AWS journal at %s, %zu-byte events, %.1f s per run\n", endpoint.c_str(), event_bytes,
              seconds);
  int n = 0;
  for (bool group_commit : {false, true}) {
    for (int producers : {1, 64}) {
      run(make_target(endpoint, "bench-" + std::to_string(n++)), producers, group_commit, seconds);
    }
  }
  replay(make_target(endpoint, "bench-replay"), replay_events);
}
