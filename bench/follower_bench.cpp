// Followers of the file storage (docs/followers.md), measured:
//  - lag: from a producer's acknowledgement to the event visible on a
//    follower (Follower::wait_for on the writer's position), p50 and p99,
//    with 64 producers;
//  - failover: a journal of E events with no snapshot since its start; the
//    writer goes away (its storage released as a killed process's is);
//    the time to the first acknowledged event of the promoted follower,
//    against a cold open of the same journal.
// Usage: prevayler_follower_bench [--events E] [--lag-events N] [--dir PATH]
// Prints `name value unit` lines (bench_output.hpp).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_counter.hpp"
#include "bench_output.hpp"
#include "prevayler/follower.hpp"

namespace {

using bench::Clock;
using bench::Count;
using bench::P;
using F = prevayler::Follower<Count, std::string>;

constexpr int lag_producers = 64;
constexpr auto wait_ms_max = std::chrono::milliseconds(10'000);

P::Options options(const std::filesystem::path& dir) {
  P::Options o;
  o.business = bench::count_event;
  prevayler::FileStorageOptions so;
  so.directory = dir;
  o.storage = prevayler::make_file_storage(so);
  o.snapshot_on_open = false;
  return o;
}

struct EventMaker {
  std::string next() { return "event"; }
};

void measure_lag(const std::filesystem::path& dir, std::uint64_t events) {
  P writer(options(dir));
  F follower(options(dir));
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

void measure_failover(const std::filesystem::path& dir, std::uint64_t events) {
  auto writer = std::make_unique<P>(options(dir));
  bench::write_events(*writer, events, [](int) { return EventMaker{}; });
  F follower(options(dir));
  follower.catch_up();
  writer.reset();  // the writer is gone: its lock released, as at a kill -9

  auto start = Clock::now();
  auto promoted = follower.promote();
  promoted->handle("first after failover");
  bench::print("failover_promoted_ms",
               std::chrono::duration<double, std::milli>(Clock::now() - start).count(), "ms");
  promoted.reset();

  start = Clock::now();
  P cold(options(dir));
  cold.handle("first after cold open");
  bench::print("failover_cold_open_ms",
               std::chrono::duration<double, std::milli>(Clock::now() - start).count(), "ms");
  bench::print("failover_cold_open_events", static_cast<double>(cold.stats().events_replayed),
               "events");
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 1'000'000;
  std::uint64_t lag_events = 20'000;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "prevayler-follower-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--lag-events") lag_events = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--dir") dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  measure_lag(dir / "lag", lag_events);
  measure_failover(dir / "failover", events);
  std::filesystem::remove_all(dir);
  return 0;
}
