#include "model/model_run.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <typeinfo>

#include "model/history.hpp"
#include "model/ledger.hpp"
#include "ops/copy_journal.hpp"
#include "prevayler/follower.hpp"

namespace prevayler::model {

namespace {

constexpr std::int64_t ms_per_day = 24 * 3600 * 1000;
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
// The host a reference recovery is recorded under (no host's crash cuts it).
constexpr int operator_host = -1;
// How often, after an operation, the follower catches up and its state is
// recorded (drawn from a generator of its own: the seed's operations stay
// the ones it had before followers existed).
constexpr double follower_look_chance = 0.3;
// Mixed into the seed for the follower's generator.
constexpr std::uint64_t follower_seed_mix = 0x666f6c6c6f776572ull;

using LedgerFollower = Follower<Ledger, LedgerEvent>;

// One open Prevayler on a host.
struct Instance {
  int index = -1;
  // It snapshots on its own (automatic snapshots), and so may delete too
  // (its retention runs after each snapshot): the directory may change
  // under an operator's prune. Others change it only within operations.
  bool changes_files = false;
  int host = -1;
  std::unique_ptr<LedgerPrevayler> prevayler;
  std::atomic<bool> stopped{false};  // it reported StorageFailedError
};

class Driver {
 public:
  Driver(Backend& backend, std::uint64_t seed, const ModelConfig& config)
      : origin_(backend),
        backend_(&backend),
        seed_(seed),
        rng_(seed),
        age_rng_(seed * 7919 + 17),
        trace_(config.trace),
        retention_(config.instance_retention),
        prune_(config.operator_prune),
        state_hash_(config.state_hash),
        copy_destination_(config.copy_destination),
        copy_weight_(config.copy_weight),
        follower_rng_(seed ^ follower_seed_mix) {
    hosts_.resize(pick(hosts_min, hosts_max));
  }

  RunResult run(int ops) {
    for (int i = 0; i < ops; ++i) step();
    return finish();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  // Retention by age draws from a stream of its own, so the seeds keep the
  // operations they had before it (and the findings they reproduce).
  int pick_age(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(age_rng_); }
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
    // Days pass between operations (0-20): over a seed the snapshots span
    // months, which retention by age dates them by.
    backend_->advance_clock_ms(std::int64_t{pick_age(0, 20)} * ms_per_day);
    const std::vector<int> live = hosts_with(true);
    const std::vector<int> free = hosts_with(false);
    if (live.empty()) {
      open(any_of(free));
      return;
    }
    enum Kind { kOpen, kHandle, kAsync, kBurst, kSnapshot, kClose, kPrune, kCrash, kCopy };
    // Weights: mostly events, a takeover or crash every few operations, a
    // copy in about one seed of four (at 20 operations: after a copy the
    // seed runs on and the final check reads the destination, so a copy to
    // the slower simulated AWS storage costs the time of the rest of the
    // seed). A copy needs a journal an open wrote.
    const bool copy = copy_destination_ && opened_on_current_;
    const int weights[] = {free.empty() ? 0 : 12,  16, 12, 16, 8, 4, prune_ ? 4 : 0, 4,
                           copy ? copy_weight_ : 0};
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
      case kCopy:
        migrate();
        break;
    }
    if (std::uniform_real_distribution<double>(0, 1)(follower_rng_) < follower_look_chance) {
      look_with_follower();
    }
  }

  // A follower of the journal catches up; its state is recorded, to be a
  // prefix of the final state (followers show only acknowledged history).
  void look_with_follower() {
    if (!follower_) {
      auto storage = backend_->follower_storage();
      if (!storage) return;
      try {
        follower_ = std::make_unique<LedgerFollower>(
            ledger_options(std::move(storage), false, 1, state_hash_));
        count("follower_open");
      } catch (const std::exception& e) {
        count("follower_open_failed", e.what());  // injected faults
        return;
      }
    }
    try {
      follower_->catch_up();
      count("follower_catch_up");
    } catch (const std::exception& e) {
      count("follower_stopped", e.what());  // injected faults stop a follower
      follower_views_.push_back(follower_->state()->ids);
      follower_.reset();
      return;
    }
    follower_views_.push_back(follower_->state()->ids);
  }

  // At the end: the follower, promoted once every instance is gone, keeps
  // every acknowledged event (its state is the final recovery's).
  std::optional<std::vector<std::uint64_t>> promote_follower() {
    if (!follower_) return std::nullopt;
    try {
      auto promoted = follower_->promote();
      std::vector<std::uint64_t> ids = promoted->state()->ids;
      promoted->close();
      count("follower_promoted");
      return ids;
    } catch (const std::exception& e) {
      count("follower_promote_failed", e.what());
      return std::nullopt;
    }
  }

  Knobs draw_knobs() {
    Knobs k;
    k.keep_snapshots = static_cast<std::uint32_t>(pick(0, 3));
    k.keep_monthly_snapshots = pick_age(0, 2) == 0 ? static_cast<std::uint32_t>(pick_age(1, 2)) : 0;
    if (!retention_) k.keep_snapshots = k.keep_monthly_snapshots = 0;
    k.writes_in_flight_max = chance(0.5) ? 1 : static_cast<std::size_t>(pick(2, 4));
    const std::size_t thresholds[] = {0, 16, 4096};
    k.compress_records_over = thresholds[pick(0, 2)];
    k.compress_snapshots = chance(0.7);
    // Every record, batches of a few events, or none: direct writes
    // interleave with page-cache ones in one segment.
    k.direct_write_bytes_min = direct_write_thresholds_bytes[pick(0, 2)];
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
              " keep_monthly_snapshots=" + std::to_string(knobs.keep_monthly_snapshots) +
              " writes_in_flight_max=" + std::to_string(knobs.writes_in_flight_max) +
              " compress_over=" + std::to_string(knobs.compress_records_over) +
              " direct_write_bytes_min=" + std::to_string(knobs.direct_write_bytes_min) +
              " snapshot_on_open=" + std::to_string(snapshot_on_open) +
              " snapshot_every_events=" + std::to_string(snapshot_every_events) + " instance " +
              std::to_string(history_.peek_next_instance()));
    if (knobs.keep_snapshots > 0) count("open_with_retention");
    if (knobs.keep_monthly_snapshots > 0) count("open_with_retention_by_age");
    if (knobs.writes_in_flight_max > 1) count("open_pipelined");
    if (knobs.compress_records_over > 0) count("open_compressing");
    if (knobs.direct_write_bytes_min > 0) count("open_direct_writes");
    if (snapshot_every_events > 0) count("open_auto_snapshots");
    const int index = history_.begin_open(host);
    try {
      auto options = ledger_options(backend_->open(host, knobs), snapshot_on_open,
                                    knobs.writes_in_flight_max, state_hash_);
      options.snapshot_every_events = snapshot_every_events;
      auto prevayler = std::make_unique<LedgerPrevayler>(std::move(options));
      history_.opened(index, prevayler->state()->ids);
      opened_on_current_ = true;
      if (trace_) {
        std::cout << "[trace]   instance " << index << " opened with "
                  << prevayler->state()->ids.size() << " events" << std::endl;
      }
      auto instance = std::make_unique<Instance>();
      instance->index = index;
      instance->host = host;
      instance->prevayler = std::move(prevayler);
      instance->changes_files = snapshot_every_events > 0;
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
    const auto months = pick_age(0, 2) == 0 ? static_cast<std::uint32_t>(pick_age(1, 3)) : 0u;
    count("prune", "keep " + std::to_string(keep) + " keep_months " + std::to_string(months));
    if (months > 0) count("prune_by_age");
    // I9 is checked when nothing else changes the directory meanwhile.
    bool quiet = months > 0;
    {
      std::lock_guard lock(hosts_mutex_);
      for (const auto& host : hosts_) quiet = quiet && (!host || !host->changes_files);
    }
    const std::optional<JournalFiles> before = quiet ? backend_->files() : std::nullopt;
    try {
      // What `prevayler prune` runs (tools/prevayler/prune.cpp).
      backend_->operator_store()->prune({keep, months});
    } catch (const StorageError&) {
      count("prune_failed");
    }
    if (before) check_restore_points(*before, keep, months);
  }

  // I9: a prune deletes no snapshot its policy keeps (the newest `keep`,
  // and the newest of each of the last `months` months, by the time the
  // storage dates it), nor a segment from the oldest of them on; also
  // when it failed midway.
  void check_restore_points(const JournalFiles& before, std::uint32_t keep, std::uint32_t months) {
    const std::optional<JournalFiles> after = backend_->files();
    if (!after || before.snapshots.empty()) return;
    count("prune_by_age_checked");
    const auto month_of = [](std::int64_t ms) {
      const std::chrono::year_month_day date(std::chrono::floor<std::chrono::days>(
          std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms))));
      return static_cast<int>(date.year()) * 12 + static_cast<int>(unsigned(date.month()));
    };
    int last_month = 0;
    for (const auto& [id, ms] : before.snapshots) last_month = std::max(last_month, month_of(ms));
    std::map<int, std::uint64_t> newest_of_month;
    for (const auto& [id, ms] : before.snapshots) {
      const int month = month_of(ms);
      if (month > last_month - static_cast<int>(months)) {
        newest_of_month[month] = std::max(newest_of_month[month], id);
      }
    }
    std::set<std::uint64_t> kept;
    for (const auto& [month, id] : newest_of_month) kept.insert(id);
    std::uint32_t newest = 0;
    for (auto it = before.snapshots.rbegin(); it != before.snapshots.rend() && newest < keep;
         ++it, ++newest) {
      kept.insert(it->first);
    }
    for (const std::uint64_t id : kept) {
      if (!after->snapshots.count(id)) {
        history_.violation("I9: prune --keep " + std::to_string(keep) + " --keep-months " +
                           std::to_string(months) + " deleted snapshot " + std::to_string(id) +
                           ", which it keeps");
      }
    }
    for (const std::uint64_t segment : before.segments) {
      if (segment >= *kept.begin() && !after->segments.count(segment)) {
        history_.violation("I9: prune --keep-months " + std::to_string(months) +
                           " deleted segment " + std::to_string(segment) +
                           ", after the restore point " + std::to_string(*kept.begin()));
      }
    }
  }

  // The documented migration (docs/operations.md, copy): stop the writers,
  // copy the journal into a fresh, empty one (what a recovery needs, or
  // --all; of either storage kind) with the code `prevayler copy` runs,
  // check that a second copy into it is refused and changes nothing, then
  // go on there. Its first open must recover exactly the state a recovery
  // of the source gives, which the checker holds to every acknowledged
  // event (I1) like any open.
  void migrate() {
    const bool all = chance(0.5);
    const bool other_kind = chance(0.5);
    for (int h : hosts_with(true)) drop(h, false);
    std::unique_ptr<Backend> destination =
        copy_destination_(seed_ * 1000 + migrated_.size() + 1, other_kind);
    count("copy", "from " + backend_->describe() + " to " + destination->describe() +
                      (all ? " --all" : ""));
    if (all) count("copy_all");
    if (destination->name() != backend_->name()) count("copy_other_kind");
    if (!copy(*backend_, *destination, all, "copy")) {
      count("copy_failed", last_copy_error_);  // the run stays on the source
      return;
    }
    refused_copy(*destination, !all);
    // The source is abandoned now: its recovery, without faults, is the
    // state the destination must give.
    const std::optional<std::vector<std::uint64_t>> reference = reference_recovery(*backend_);
    migrated_.push_back(std::move(destination));
    backend_ = migrated_.back().get();
    follower_.reset();  // it followed the abandoned journal
    opened_on_current_ = false;
    crashed_hosts_.clear();  // a fresh journal: the next opens are not restarts
    const int host = any_of(hosts_with(false));
    open(host);
    if (!reference || !hosts_[host]) return;  // an injected fault failed the open
    const std::vector<std::uint64_t>& recovered = hosts_[host]->prevayler->state()->ids;
    if (recovered != *reference) {
      history_.violation("I7: the first open after a copy recovered " +
                         std::to_string(recovered.size()) + " events, the source " +
                         std::to_string(reference->size()) + " (or in another order)");
    }
  }

  // Runs ops::copy_journal from `from` into `to`. False when it failed
  // (a StorageError's message in last_copy_error_).
  bool copy(Backend& from, Backend& to, bool all, const std::string& kind) {
    ops::CopyObserver quiet;  // the command's progress line, without a terminal
    last_copy_error_.clear();
    try {
      ops::copy_journal(*from.operator_store()->source(), *to.operator_store()->destination(),
                        ops::CopyJournalOptions{all}, quiet);
      return true;
    } catch (const CorruptionError& e) {
      history_.violation("I6: " + kind + ": the source is corrupt: " + e.what());
    } catch (const FormatVersionError& e) {
      history_.violation("I6: " + kind + ": " + e.what());
    } catch (const StorageError& e) {
      last_copy_error_ = e.what();  // an injected fault, or the refusal
    } catch (const std::exception& e) {
      history_.violation(kind + " threw an unexpected " + std::string(typeid(e).name()) + ": " +
                         e.what());
    }
    return false;
  }

  // A copy into `to`, which holds a journal now, must be refused before it
  // writes anything: the listing stays the same.
  void refused_copy(Backend& to, bool all) {
    const std::optional<Listing> before = listing(to);
    // A fault hid it, or the copy wrote nothing (a source without a
    // snapshot and without events: the AWS destination stays empty).
    if (!before || !before->holds_data) return;
    if (copy(*backend_, to, all, "copy into a non-empty journal")) {
      history_.violation("I7: a copy into the non-empty " + to.describe() + " was not refused");
    } else if (last_copy_error_.find("is not empty") != std::string::npos) {
      count("copy_refused");
    } else {
      count("copy_refused_failed", last_copy_error_);  // an injected fault came first
    }
    const std::optional<Listing> after = listing(to);
    if (after && after->lines != before->lines) {
      history_.violation("I7: a refused copy changed " + to.describe());
    }
  }

  // What a journal holds: each snapshot and segment with its size.
  struct Listing {
    std::vector<std::string> lines;
    bool holds_data = false;  // a snapshot, or a segment with bytes
  };
  static std::optional<Listing> listing(Backend& backend) {
    try {
      std::unique_ptr<ops::JournalSource> source = backend.operator_store()->source();
      Listing out;
      for (const auto& s : source->snapshots()) {
        out.lines.push_back("snapshot " + std::to_string(s.id) + " " + std::to_string(s.bytes));
        out.holds_data = true;
      }
      for (const auto& s : source->segments()) {
        out.lines.push_back("segment " + std::to_string(s.id) + " " + std::to_string(s.bytes) +
                            " " + ops::to_string(s.end));
        out.holds_data = out.holds_data || s.bytes > 0;
      }
      return out;
    } catch (const StorageError&) {
      return std::nullopt;  // an injected fault
    }
  }

  // Recovers `backend` without faults, recorded as an instance the
  // checker holds to I1, I3 and I5 like any other open.
  std::optional<std::vector<std::uint64_t>> reference_recovery(Backend& backend) {
    const int index = history_.begin_open(operator_host);
    try {
      LedgerPrevayler check(ledger_options(backend.open_for_check(), false, 1, state_hash_));
      std::vector<std::uint64_t> ids = check.state()->ids;
      history_.opened(index, ids);
      check.close();
      history_.dropped(index, ids, false);
      return ids;
    } catch (const std::exception& e) {
      history_.open_failed(index, std::string("[I6] reference recovery of ") + backend.describe() +
                                      ": " + typeid(e).name() + ": " + e.what());
      return std::nullopt;
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
    backend_->crash(host);
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
    const std::optional<std::vector<std::uint64_t>> promoted = promote_follower();
    follower_.reset();
    std::optional<std::vector<std::uint64_t>> state;
    std::string error;
    try {
      LedgerPrevayler check(ledger_options(backend_->open_for_check(), false, 1, state_hash_));
      state = check.state()->ids;
      check.close();
    } catch (const std::exception& e) {
      error = std::string(typeid(e).name()) + ": " + e.what();
    }
    result_.violations = history_.check(state, error);
    check_follower(state, promoted);
    result_.faults = origin_.faults();
    for (const auto& b : migrated_) {
      for (const auto& [kind, n] : b->faults()) result_.faults[kind] += n;
    }
    result_.events = history_.events();
    result_.acknowledged = history_.acknowledged();
    return std::move(result_);
  }

  void check_follower(const std::optional<std::vector<std::uint64_t>>& final_state,
                      const std::optional<std::vector<std::uint64_t>>& promoted) {
    if (!final_state) return;  // the history check reports the failed recovery
    for (const auto& view : follower_views_) {
      if (view.size() > final_state->size() ||
          !std::equal(view.begin(), view.end(), final_state->begin())) {
        result_.violations.push_back("a follower showed " + std::to_string(view.size()) +
                                     " events that are not a prefix of the final state (" +
                                     std::to_string(final_state->size()) + " events)");
        break;
      }
    }
    if (promoted && *promoted != *final_state) {
      result_.violations.push_back("the promoted follower's state (" +
                                   std::to_string(promoted->size()) +
                                   " events) differs from the final recovery's (" +
                                   std::to_string(final_state->size()) + " events)");
    }
  }

  Backend& origin_;
  Backend* backend_;  // the journal the run is on: origin_ or the last copy's
  std::vector<std::unique_ptr<Backend>> migrated_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::mt19937_64 age_rng_;
  bool trace_;
  bool retention_;
  bool prune_;
  bool state_hash_;
  CopyDestinationFactory copy_destination_;
  int copy_weight_;
  std::mt19937_64 follower_rng_;
  std::unique_ptr<LedgerFollower> follower_;  // of the current journal
  std::vector<std::vector<std::uint64_t>> follower_views_;
  bool opened_on_current_ = false;  // an open succeeded on the current journal
  std::string last_copy_error_;
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
