#include "model/model_run.hpp"

#include <atomic>
#include <cassert>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <typeinfo>

#include "model/history.hpp"
#include "model/ledger.hpp"

namespace prevayler::model {

namespace {

constexpr int hosts_min = 2;
constexpr int hosts_max = 3;
constexpr int producers_max = 4;
constexpr int events_per_call_max = 6;
// A producer of a burst with an action in the middle goes on until the
// action is done, then submits this many more (so some are submitted after
// a takeover returned or a crash), but never more than events_per_producer_max.
constexpr int events_after_action = 3;
constexpr int events_per_producer_max = 200;
constexpr int async_window_max = 4;

// One open Prevayler on a host.
struct Instance {
  int index = -1;
  int host = -1;
  std::unique_ptr<LedgerPrevayler> prevayler;
  std::atomic<bool> stopped{false};  // it reported StorageFailedError
};

class Driver {
 public:
  Driver(Backend& backend, std::uint64_t seed, const ModelConfig& config)
      : backend_(backend),
        rng_(seed),
        trace_(config.trace),
        retention_(config.instance_retention),
        prune_(config.operator_prune),
        state_hash_(config.state_hash) {
    hosts_.resize(pick(hosts_min, hosts_max));
  }

  RunResult run(int ops) {
    for (int i = 0; i < ops; ++i) step();
    return finish();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  static std::string on(int host) { return "host " + std::to_string(host); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void count(const std::string& kind, const std::string& detail = {}) {
    std::lock_guard lock(counts_mutex_);
    ++result_.operations[kind];
    if (trace_) {
      std::cout << "[trace] t" << history_.tick() << " " << kind << " " << detail << std::endl;
    }
  }

  std::vector<int> hosts_with(bool live) const {
    std::vector<int> out;
    for (int h = 0; h < static_cast<int>(hosts_.size()); ++h) {
      if ((hosts_[h] != nullptr) == live) out.push_back(h);
    }
    return out;
  }
  int any_of(const std::vector<int>& v) { return v[pick(0, static_cast<int>(v.size()) - 1)]; }

  void step() {
    const std::vector<int> live = hosts_with(true);
    const std::vector<int> free = hosts_with(false);
    if (live.empty()) {
      open(any_of(free));
      return;
    }
    enum Kind { kOpen, kHandle, kAsync, kBurst, kSnapshot, kClose, kPrune, kCrash };
    // Weights: mostly events, a takeover or crash every few operations.
    const int weights[] = {free.empty() ? 0 : 3, 4, 3, 4, 2, 1, prune_ ? 1 : 0, 1};
    std::discrete_distribution<int> kinds(std::begin(weights), std::end(weights));
    switch (kinds(rng_)) {
      case kOpen:
        open(any_of(free));
        break;
      case kHandle:
        events(*hosts_[any_of(live)], false);
        break;
      case kAsync:
        events(*hosts_[any_of(live)], true);
        break;
      case kBurst:
        burst(any_of(live));
        break;
      case kSnapshot:
        snapshot(*hosts_[any_of(live)]);
        break;
      case kClose:
        drop(any_of(live), false);
        break;
      case kPrune:
        prune();
        break;
      case kCrash:
        crash(any_of(live));
        break;
    }
  }

  Knobs draw_knobs() {
    Knobs k;
    k.keep_snapshots = static_cast<std::uint32_t>(pick(0, 3));
    if (!retention_) k.keep_snapshots = 0;
    k.writes_in_flight_max = chance(0.5) ? 1 : static_cast<std::size_t>(pick(2, 4));
    const std::size_t thresholds[] = {0, 16, 4096};
    k.compress_records_over = thresholds[pick(0, 2)];
    k.compress_snapshots = chance(0.7);
    return k;
  }

  void open(int host) {
    const bool others = !hosts_with(true).empty();
    const Knobs knobs = draw_knobs();
    const bool snapshot_on_open = chance(0.5);
    // Automatic snapshots interleave with everything else: every 2-8
    // events in about a third of the opens.
    const std::uint64_t snapshot_every_events = chance(0.3) ? pick(2, 8) : 0;
    count(crashed_hosts_.count(host) ? "restart"
          : others                   ? "takeover"
                                     : "open",
          on(host) + " keep_snapshots=" + std::to_string(knobs.keep_snapshots) +
              " writes_in_flight_max=" + std::to_string(knobs.writes_in_flight_max) +
              " compress_over=" + std::to_string(knobs.compress_records_over) +
              " snapshot_on_open=" + std::to_string(snapshot_on_open) +
              " snapshot_every_events=" + std::to_string(snapshot_every_events) + " instance " +
              std::to_string(history_.peek_next_instance()));
    if (knobs.keep_snapshots > 0) count("open_with_retention");
    if (knobs.writes_in_flight_max > 1) count("open_pipelined");
    if (knobs.compress_records_over > 0) count("open_compressing");
    if (snapshot_every_events > 0) count("open_auto_snapshots");
    const int index = history_.begin_open(host);
    try {
      auto options = ledger_options(backend_.open(host, knobs), snapshot_on_open,
                                    knobs.writes_in_flight_max, state_hash_);
      options.snapshot_every_events = snapshot_every_events;
      auto prevayler = std::make_unique<LedgerPrevayler>(std::move(options));
      history_.opened(index, prevayler->state()->ids);
      if (trace_) {
        std::cout << "[trace]   instance " << index << " opened with "
                  << prevayler->state()->ids.size() << " events" << std::endl;
      }
      auto instance = std::make_unique<Instance>();
      instance->index = index;
      instance->host = host;
      instance->prevayler = std::move(prevayler);
      std::lock_guard lock(hosts_mutex_);
      hosts_[host] = std::move(instance);
    } catch (const CorruptionError& e) {
      history_.open_failed(index, std::string("[I6] CorruptionError: ") + e.what());
    } catch (const FormatVersionError& e) {
      history_.open_failed(index, std::string("[I6] FormatVersionError: ") + e.what());
    } catch (const StorageError& e) {
      count("open_failed", e.what());  // injected faults may fail an open
      history_.open_failed(index, e.what());
    } catch (const std::exception& e) {
      history_.open_failed(index, std::string("[I6] ") + typeid(e).name() + ": " + e.what());
    }
  }

  // Classifies one event's failure.
  void failed(Instance& instance, std::uint64_t id, std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const StorageFailedError& e) {  // also SupersededError
      instance.stopped = true;
      history_.finish(id, Outcome::unknown, e.what());
    } catch (const StorageError& e) {
      history_.finish(id, Outcome::failed_certainly, e.what());
    } catch (const ClosedError& e) {
      history_.finish(id, Outcome::failed_certainly, e.what());
    } catch (const std::exception& e) {
      history_.finish(id, Outcome::unknown, e.what());
      history_.violation(std::string("handle() threw an unexpected ") + typeid(e).name() + ": " +
                         e.what());
    }
  }

  // Submits `n` events on `instance`, synchronously or with a window of
  // handle_async futures. Thread-safe (producers call it concurrently).
  void submit_events(Instance& instance, int n, bool async, int window,
                     const std::function<void()>& on_first = nullptr) {
    std::vector<std::pair<std::uint64_t, std::future<std::shared_ptr<const Ledger>>>> futures;
    auto drain = [&] {
      for (auto& [id, future] : futures) {
        try {
          future.get();
          history_.finish(id, Outcome::acknowledged);
        } catch (...) {
          failed(instance, id, std::current_exception());
        }
      }
      futures.clear();
    };
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = history_.submit(instance.index);
      if (i == 0 && on_first) on_first();
      try {
        if (async) {
          futures.emplace_back(id, instance.prevayler->handle_async(LedgerEvent{id}));
          if (static_cast<int>(futures.size()) >= window) drain();
        } else {
          instance.prevayler->handle(LedgerEvent{id});
          history_.finish(id, Outcome::acknowledged);
        }
      } catch (...) {
        failed(instance, id, std::current_exception());
      }
    }
    drain();
  }

  void events(Instance& instance, bool async) {
    count(async ? "handle_async" : "handle", "instance " + std::to_string(instance.index));
    submit_events(instance, pick(1, events_per_call_max), async, pick(1, async_window_max));
  }

  void snapshot(Instance& instance) {
    count("snapshot", "instance " + std::to_string(instance.index));
    try {
      instance.prevayler->snapshot();
    } catch (const StorageFailedError&) {
      instance.stopped = true;
    } catch (const StorageError&) {
      count("snapshot_failed");
    } catch (const ClosedError&) {
    }
  }

  void prune() {
    const auto keep = static_cast<std::uint32_t>(pick(1, 3));
    count("prune", "keep " + std::to_string(keep));
    try {
      backend_.prune(keep);
    } catch (const StorageError&) {
      count("prune_failed");
    }
  }

  // Closes (or, after a crash, just destroys) the host's instance, keeping
  // its last state for the checker.
  void drop(int host, bool after_crash) {
    if (!after_crash) count("close", on(host));
    std::unique_ptr<Instance> instance;
    {
      std::lock_guard lock(hosts_mutex_);
      instance = std::move(hosts_[host]);
    }
    assert(instance);
    std::vector<std::uint64_t> live = instance->prevayler->state()->ids;
    try {
      instance->prevayler->close();
    } catch (const std::exception&) {
      // close() after a failure may report it; the state is what counts.
    }
    instance->prevayler.reset();
    history_.dropped(instance->index, std::move(live), !instance->stopped && !after_crash);
  }

  void cut(int host) {
    crashed_hosts_.insert(host);
    history_.crashed(host);  // stamped before the cut: later failures are unknown
    backend_.crash(host);
  }

  void crash(int host) {
    count("crash", on(host));
    cut(host);
    drop(host, true);
  }

  // Producers on one instance; in the middle, one action of the driver.
  void burst(int host) {
    enum Action { kNone, kTakeover, kCrash, kSnapshot, kPrune };
    const int weights[] = {2, hosts_with(false).empty() ? 0 : 3, 2, 2, prune_ ? 1 : 0};
    std::discrete_distribution<int> actions(std::begin(weights), std::end(weights));
    const int action = actions(rng_);
    static const char* const names[] = {"burst", "takeover_under_load", "crash_under_load",
                                        "snapshot_under_load", "prune_under_load"};
    Instance& instance = *hosts_[host];
    count(names[action], "instance " + std::to_string(instance.index));
    const int producers = pick(2, producers_max);
    std::latch started(producers);
    std::atomic<bool> action_done{action == kNone};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      const int n = pick(1, events_per_call_max);
      const bool async = chance(0.4);
      const int window = pick(1, async_window_max);
      threads.emplace_back([&, n, async, window] {
        submit_events(instance, n, async, window, [&] { started.count_down(); });
        // Keep submitting until the action is done, then a few more.
        int extra = 0;
        for (int total = n; total < events_per_producer_max && extra < events_after_action;
             total += 1) {
          if (action_done.load()) ++extra;
          submit_events(instance, 1, false, 1);
        }
      });
    }
    started.wait();
    switch (action) {
      case kTakeover:
        open(any_of(hosts_with(false)));
        break;
      case kCrash:
        cut(host);
        break;
      case kSnapshot:
        snapshot(instance);
        break;
      case kPrune:
        prune();
        break;
      default:
        break;
    }
    action_done = true;
    for (auto& t : threads) t.join();
    if (action == kCrash) drop(host, true);
  }

  RunResult finish() {
    for (int h : hosts_with(true)) drop(h, false);
    std::optional<std::vector<std::uint64_t>> state;
    std::string error;
    try {
      LedgerPrevayler check(ledger_options(backend_.open_for_check(), false, 1, state_hash_));
      state = check.state()->ids;
      check.close();
    } catch (const std::exception& e) {
      error = std::string(typeid(e).name()) + ": " + e.what();
    }
    result_.violations = history_.check(state, error);
    result_.faults = backend_.faults();
    result_.events = history_.events();
    result_.acknowledged = history_.acknowledged();
    return std::move(result_);
  }

  Backend& backend_;
  std::mt19937_64 rng_;
  bool trace_;
  bool retention_;
  bool prune_;
  bool state_hash_;
  History history_;
  std::mutex hosts_mutex_;
  std::vector<std::unique_ptr<Instance>> hosts_;
  std::set<int> crashed_hosts_;
  std::mutex counts_mutex_;
  RunResult result_;
};

}  // namespace

RunResult run_model(Backend& backend, std::uint64_t seed, const ModelConfig& config) {
  Driver driver(backend, seed, config);
  return driver.run(config.ops);
}

}  // namespace prevayler::model
