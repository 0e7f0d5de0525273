// What the journal benches share: the counting state every run journals
// events into, throughput and latency figures of a run, and the replay
// phase (write E events with many producers, then time a reopen).
#pragma once

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"

#include "bench_output.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

// cereal's length prefix of a std::string event.
inline constexpr std::size_t cereal_length_bytes = 8;
// Producers of the replay phase's journal: enough for large group commits.
inline constexpr int replay_producers = 64;

struct Count {
  std::uint64_t events = 0;
  template <class A>
  void serialize(A& a) {
    a(events);
  }
};
using P = prevayler::Prevayler<Count, std::string>;

inline Count count_event(const Count& c, const std::string&, prevayler::Timestamp) {
  return Count{c.events + 1};
}

// Every producer's latencies in one ascending list.
inline std::vector<double> sorted_latencies(const std::vector<std::vector<double>>& per_producer) {
  std::vector<double> all;
  for (const auto& l : per_producer) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  return all;
}

// `name`events_per_s and `name`events_per_write of a run between two
// stats() readings; returns the events journaled.
template <class Stats>
std::uint64_t print_throughput(const std::string& name, const Stats& before, const Stats& after,
                               double elapsed_s) {
  const auto events = after.events_journaled - before.events_journaled;
  const auto writes = after.journal_writes - before.journal_writes;
  print(name + "events_per_s", static_cast<double>(events) / elapsed_s, "events/s");
  print(name + "events_per_write",
        static_cast<double>(events) / static_cast<double>(std::max<std::uint64_t>(1, writes)),
        "events");
  return events;
}

// Journals `events` events from replay_producers threads; make_event(t)
// returns producer t's event maker, whose next() is an event.
template <class MakeEvent>
void write_events(P& p, std::uint64_t events, MakeEvent make_event) {
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < replay_producers; ++t) {
    threads.emplace_back([&, t] {
      auto maker = make_event(t);
      while (sent.fetch_add(1) < events) p.handle(maker.next());
    });
  }
  for (auto& t : threads) t.join();
}

// Opens `options` (snapshot_on_open off, so every event is replayed) and
// prints `name`events / seconds / events_per_s; calls after_open() as soon
// as the instance is open.
template <class AfterOpen>
void time_replay(const std::string& name, P::Options options, AfterOpen after_open) {
  options.snapshot_on_open = false;
  const auto start = Clock::now();
  P p(std::move(options));
  after_open();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto replayed = p.stats().events_replayed;
  print(name + "events", static_cast<double>(replayed), "events");
  print(name + "seconds", elapsed, "s");
  print(name + "events_per_s", static_cast<double>(replayed) / elapsed, "events/s");
}

}  // namespace bench
