// The DynamoDB+S3 journal against an endpoint (moto_server, possibly behind
// prevayler_latency_proxy: see bench/run_all.sh). Prints one figure per
// line, `name value unit`:
//
//   {batched|unbatched}.pN.events_per_s / events_per_write / p50_ms / p99_ms
//       N producers calling handle() for --seconds, 100-byte encoded events.
//       "unbatched" is our library with batching off: one event per PutItem
//       (batch_events_max = 1) and one write at a time
//       (writes_in_flight_max = 1 when the library has it), i.e. the seed's
//       algorithm. "batched" is the default configuration (group commit, and
//       pipelined writes when the library has them), or --max-in-flight N.
//       --event-content fill (the default: one repeated byte) | text |
//       random: bench/bench_events.hpp.
//   {batched|unbatched}.pN.events / failed_events
//       events journaled, and handle() calls that threw (the producer
//       counts the failure and carries on).
//   asyncW.pN.* (--async-window W, instead of "batched") each producer keeps
//       up to W events in flight with handle_async(); latency is from the
//       call to its future seen ready.
//   openR.pN.* (--open-loop-rate R, instead of "batched"; with batching
//       off unbatchedopenR.pN.*) an open loop: the N producers call handle()
//       at Poisson arrival times, R events/s in all, instead of as soon as
//       their last call returned; latency is from the arrival time (a call
//       that starts late, behind a slow one of the same producer, counts the
//       wait). What the group commit's waiting for returning producers costs
//       callers that do not return.
//   alternate.rK.{unbatched|batched}.p1.* / alternate.ratio_median
//       (--alternate N) N rounds, K = 1..N, each one producer with batching
//       off and on, each run on a table of its own; the order swaps every
//       round. moto's speed drifts over minutes, so only neighbours
//       compare; alternate.ratio_median is the median of the rounds'
//       batched / unbatched ratios.
//   scaling.rK.batched.p{1|64}.* / scaling.ratio_median
//       (--scaling-rounds N) N rounds, each one producer and 64 producers
//       with batching on, each run on a table of its own, the order swapped
//       every round: issue 15's "64 producers vs 64 x the 1-producer rate"
//       from neighbours (the two runs of --producers 1,64 are minutes'
//       drift apart on a shared machine). scaling.ratio_median is the median
//       of the rounds' p64 / (64 x p1).
//   replay.events / replay.seconds / replay.events_per_s
//       (--replay-events E) E events written by 64 producers, then the time
//       to open the journal again (recovery), without snapshot_on_open.
//       With --replay-queries 1,2,4: one recovery of the same journal per
//       value of replay_parallel_queries, named replay.qN.*. replay.cpu_s:
//       this process's CPU time during the recovery (the rest is moto's).
//
//   prevayler_aws_bench --endpoint URL [--seconds S] [--producers 1,8,64 | 0]
//       [--batching on|off|both] [--max-in-flight N] [--async-window W | --open-loop-rate R]
//       [--replay-events E] [--alternate N] [--scaling-rounds N]
//       [--replay-queries 1,2,4] [--table-prefix NAME] [--event-content fill|text|random]
//       [--compress-over BYTES]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/aws_storage.hpp"
#include "prevayler/prevayler.hpp"

#include "bench_aws.hpp"
#include "bench_counter.hpp"
#include "bench_events.hpp"
#include "bench_output.hpp"

namespace {

using namespace bench;  // Count, P, print, ...

// --compress-over BYTES: StorageOptions::compress_journal_records_over
// (unset: the storage's default).
std::optional<std::size_t> compress_over;

constexpr std::size_t event_bytes = 100;

struct Target {
  std::string endpoint;
  std::string table;
  std::string bucket;
};

Target make_target(const std::string& endpoint, const std::string& name) {
  bench::create_table_and_bucket(endpoint, name);
  return {endpoint, name, name};
}

// max_in_flight, replay_queries: 0 leaves the library's default.
P::Options options(const Target& target, bool batching, std::size_t max_in_flight,
                   int replay_queries = 0) {
  P::Options o;
  o.business = bench::count_event;
  prevayler::AwsStorageOptions s = bench::aws_storage_options(target.endpoint, target.table);
  if (!batching) {
    o.limits.batch_events_max = 1;
    o.limits.writes_in_flight_max = 1;
  } else if (max_in_flight > 0) {
    o.limits.writes_in_flight_max = max_in_flight;
    s.writes_in_flight_max = max_in_flight;
  }
  if (compress_over) s.common.compress_journal_records_over = *compress_over;
  if (replay_queries > 0) s.replay_parallel_queries = static_cast<std::uint32_t>(replay_queries);
  o.storage = prevayler::make_aws_storage(s);
  return o;
}

// Returns the events/s; its figures are named `prefix` + mode + ".pN.".
double run(const Target& target, int producers, bool batching, std::size_t max_in_flight,
           std::size_t async_window, double open_loop_rate, double seconds,
           const std::string& prefix = "") {
  P p(options(target, batching, max_in_flight));
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(producers);
  std::atomic<std::uint64_t> failed{0};
  std::vector<std::thread> threads;
  const auto before_stats = p.stats();
  const auto start = Clock::now();
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      EventMaker maker(event_bytes, 'e');
      // Open loop: this producer's share of the arrivals, a Poisson process.
      std::mt19937_64 arrivals_rng(static_cast<std::uint64_t>(t) + 1);
      std::exponential_distribution<double> gap_s(open_loop_rate > 0 ? open_loop_rate / producers
                                                                     : 1.0);
      Clock::time_point arrival = Clock::now();
      // With an async window: up to that many events in flight per producer,
      // each one's latency from handle_async() to its future seen ready.
      std::deque<std::pair<Clock::time_point, std::future<std::shared_ptr<const Count>>>> window;
      auto settle_oldest = [&] {
        try {
          window.front().second.get();
        } catch (const std::exception&) {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - window.front().first).count());
        window.pop_front();
      };
      while (!stop.load(std::memory_order_relaxed)) {
        auto before = Clock::now();
        if (open_loop_rate > 0) {
          arrival += std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(gap_s(arrivals_rng)));
          std::this_thread::sleep_until(arrival);
          if (stop.load(std::memory_order_relaxed)) break;
          before = arrival;
        }
        if (async_window == 0) {
          try {
            p.handle(maker.next());
          } catch (const std::exception&) {
            failed.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          latencies[t].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - before).count());
          continue;
        }
        if (window.size() == async_window) settle_oldest();
        window.emplace_back(before, p.handle_async(maker.next()));
      }
      while (!window.empty()) settle_oldest();
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = p.stats();
  const std::vector<double> all = bench::sorted_latencies(latencies);
  const std::string open =
      open_loop_rate > 0 ? "open" + std::to_string(static_cast<long long>(open_loop_rate)) : "";
  const std::string mode = !batching           ? "unbatched" + open
                           : !open.empty()     ? open
                           : async_window == 0 ? "batched"
                                               : "async" + std::to_string(async_window);
  const std::string name = prefix + mode + ".p" + std::to_string(producers) + ".";
  const auto events = bench::print_throughput(name, before_stats, stats, elapsed);
  print(name + "events", static_cast<double>(events), "events");
  print(name + "failed_events", static_cast<double>(failed.load()), "events");
  print(name + "writes_in_flight", static_cast<double>(stats.writes_in_flight_allowed), "writes");
  print(name + "p50_ms", percentile(all, 0.50), "ms");
  print(name + "p99_ms", percentile(all, 0.99), "ms");
  return static_cast<double>(events) / elapsed;
}

// --alternate: rounds of one producer with batching off and on.
void run_alternate(const std::string& endpoint, const std::string& prefix, int rounds,
                   std::size_t max_in_flight, double seconds) {
  std::vector<double> ratios;
  for (int round = 1; round <= rounds; ++round) {
    const std::string name = "alternate.r" + std::to_string(round) + ".";
    double rate[2] = {0, 0};  // batching off, on
    for (int i = 0; i < 2; ++i) {
      const bool batching = (round % 2 == 0) == (i == 0);
      rate[batching] = run(make_target(endpoint, prefix + "-alt" + std::to_string(round) + "-" +
                                                     (batching ? "on" : "off")),
                           1, batching, max_in_flight, 0, 0, seconds, name);
    }
    ratios.push_back(rate[0] > 0 ? rate[1] / rate[0] : 0);
  }
  std::sort(ratios.begin(), ratios.end());
  print("alternate.rounds", static_cast<double>(rounds), "rounds");
  print("alternate.ratio_median", ratios[ratios.size() / 2], "x");
}

// --scaling-rounds: rounds of one producer and 64, batching on.
void run_scaling(const std::string& endpoint, const std::string& prefix, int rounds,
                 std::size_t max_in_flight, double seconds) {
  constexpr int many_producers = 64;
  std::vector<double> ratios;
  for (int round = 1; round <= rounds; ++round) {
    const std::string name = "scaling.r" + std::to_string(round) + ".";
    double rate[2] = {0, 0};  // 1 producer, 64
    for (int i = 0; i < 2; ++i) {
      const int which = (round % 2 == 0) == (i == 0) ? 1 : 0;
      const int count = which == 1 ? many_producers : 1;
      rate[which] = run(make_target(endpoint, prefix + "-scale" + std::to_string(round) + "-p" +
                                                  std::to_string(count)),
                        count, true, max_in_flight, 0, 0, seconds, name);
    }
    ratios.push_back(rate[0] > 0 ? rate[1] / (many_producers * rate[0]) : 0);
  }
  std::sort(ratios.begin(), ratios.end());
  print("scaling.rounds", static_cast<double>(rounds), "rounds");
  print("scaling.ratio_median", ratios[ratios.size() / 2], "x");
}

// User + system CPU time of this process.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Each recovery seals the journal's tail and leaves an empty segment, so
// every one of them replays the same events.
void replay(const Target& target, std::uint64_t events, std::size_t max_in_flight,
            const std::vector<int>& queries) {
  {
    // One fixed event: a string of 'r's.
    struct Same {
      std::string event = std::string(event_bytes - cereal_length_bytes, 'r');
      const std::string& next() const { return event; }
    };
    P p(options(target, true, max_in_flight));
    bench::write_events(p, events, [](int) { return Same{}; });
  }
  for (int q : queries.empty() ? std::vector<int>{0} : queries) {
    const std::string name = q > 0 ? "replay.q" + std::to_string(q) + "." : "replay.";
    const double cpu_before = cpu_seconds();
    double cpu = 0;
    bench::time_replay(name, options(target, true, max_in_flight, q),
                       [&] { cpu = cpu_seconds() - cpu_before; });
    print(name + "cpu_s", cpu, "s");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint;
  double seconds = 5;
  std::vector<int> producers = {1, 8, 64};
  std::string batching = "both";
  std::size_t max_in_flight = 0;
  std::size_t async_window = 0;
  double open_loop_rate = 0;
  int alternate_rounds = 0;
  int scaling_rounds = 0;
  std::uint64_t replay_events = 0;
  std::vector<int> replay_queries;
  std::string prefix = "bench-" + std::to_string(::getpid());
  bool usage = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      usage = true;
      break;
    }
    const std::string value = argv[i + 1];
    if (arg == "--endpoint") {
      endpoint = value;
    } else if (arg == "--seconds") {
      seconds = std::atof(value.c_str());
    } else if (arg == "--producers") {
      producers = parse_list(value);
    } else if (arg == "--batching") {
      batching = value;
    } else if (arg == "--max-in-flight") {
      max_in_flight = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg == "--async-window") {
      async_window = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg == "--open-loop-rate") {
      open_loop_rate = std::atof(value.c_str());
    } else if (arg == "--alternate") {
      alternate_rounds = std::atoi(value.c_str());
    } else if (arg == "--scaling-rounds") {
      scaling_rounds = std::atoi(value.c_str());
    } else if (arg == "--replay-events") {
      replay_events = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg == "--replay-queries") {
      replay_queries = parse_list(value);
    } else if (arg == "--table-prefix") {
      prefix = value;
    } else if (arg == "--event-content") {
      usage = usage || !parse_event_content(value.c_str(), event_content);
    } else if (arg == "--compress-over") {
      compress_over = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      usage = true;
    }
  }
  if (endpoint.empty() || usage || (batching != "on" && batching != "off" && batching != "both") ||
      open_loop_rate < 0 || (open_loop_rate > 0 && async_window > 0) || alternate_rounds < 0 ||
      scaling_rounds < 0) {
    std::fprintf(stderr,
                 "usage: prevayler_aws_bench --endpoint URL [--seconds S] [--producers 1,8,64] "
                 "[--batching on|off|both] [--max-in-flight N] "
                 "[--async-window W | --open-loop-rate R] [--replay-events E] [--alternate N] "
                 "[--scaling-rounds N] "
                 "[--replay-queries "
                 "1,2,4] [--table-prefix NAME] "
                 "[--event-content fill|text|random] [--compress-over BYTES]\n");
    return 2;
  }
  std::printf("# AWS journal at %s, %zu-byte %s events, %.1f s per run\n", endpoint.c_str(),
              event_bytes, event_content_name(event_content), seconds);
  make_event_source(event_bytes);
  int n = 0;
  for (bool batch : {false, true}) {
    if ((batch && batching == "off") || (!batch && batching == "on")) continue;
    for (int count : producers) {
      if (count <= 0) continue;  // --producers 0: the replay only
      run(make_target(endpoint, prefix + "-" + std::to_string(n++)), count, batch, max_in_flight,
          batch ? async_window : 0, open_loop_rate, seconds);
    }
  }
  if (alternate_rounds > 0) {
    run_alternate(endpoint, prefix, alternate_rounds, max_in_flight, seconds);
  }
  if (scaling_rounds > 0) {
    run_scaling(endpoint, prefix, scaling_rounds, max_in_flight, seconds);
  }
  if (replay_events > 0) {
    replay(make_target(endpoint, prefix + "-replay"), replay_events, max_in_flight, replay_queries);
  }
}
