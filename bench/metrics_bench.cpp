// What the latency histograms cost on the hot path, measured (issue #13):
// the work the engine adds per handle() for its histograms (two clock reads
// and a record() per event, two more clock reads and two record()s per
// journal write: counted whole, as if every event were its own write, the
// one-producer worst case) against one whole handle() on the in-memory
// storage, the cheapest path there is. Their ratio bounds the histograms'
// share of any handle(); the file and DynamoDB storages only add the disk
// or the network to the denominator.
//
//   prevayler_metrics_bench [--benchmark_repetitions=5 ...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <prevayler/memory_storage.hpp>
#include <prevayler/metrics.hpp>
#include <prevayler/prevayler.hpp>

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t microseconds_since(Clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

// Mirrors src/core/engine.cpp: handle_latency_us per event,
// events_per_write and journal_write_latency_us per write.
void histogram_work_per_event(benchmark::State& state) {
  prevayler::Metrics metrics;
  for (auto _ : state) {
    const auto handle_started = Clock::now();
    const auto write_started = Clock::now();
    metrics.events_per_write.record(1);
    metrics.journal_write_latency_us.record(microseconds_since(write_started));
    metrics.handle_latency_us.record(microseconds_since(handle_started));
    benchmark::DoNotOptimize(metrics);
  }
}
BENCHMARK(histogram_work_per_event);

// Its two parts: a clock read (kvm-clock on a VM costs more than the TSC)
// and one record().
void steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Clock::now());
}
BENCHMARK(steady_clock_now);

void histogram_record(benchmark::State& state) {
  prevayler::Histogram histogram;
  std::uint64_t value = 0;
  for (auto _ : state) {
    histogram.record(value++ & 0xffff);
    benchmark::DoNotOptimize(histogram);
  }
}
BENCHMARK(histogram_record);

std::int64_t add(const std::int64_t& total, const std::int64_t& amount, prevayler::Timestamp) {
  return total + amount;
}

void handle_on_memory_storage(benchmark::State& state) {
  prevayler::Prevayler<std::int64_t, std::int64_t>::Options options;
  options.business = add;
  options.storage = prevayler::make_memory_storage(std::make_shared<prevayler::MemoryStore>());
  options.snapshot_on_open = false;
  prevayler::Prevayler<std::int64_t, std::int64_t> prevayler(std::move(options));
  for (auto _ : state) benchmark::DoNotOptimize(prevayler.handle(1));
}
BENCHMARK(handle_on_memory_storage);

}  // namespace

BENCHMARK_MAIN();
