// Deterministic simulation (in the spirit of TigerBeetle's VOPR and
// FoundationDB's simulation): the real engine, behind Prevayler, driven by a
// seeded workload against SimStorage, which injects write failures, unknown
// outcomes, torn writes, snapshot and recovery failures and crashes from the
// same seed. Invariants are checked after every step and every restart; a
// failing seed prints a one-line command that replays it. docs/simulation.md.
//
// Determinism: one driver thread decides everything. Group commit needs
// several callers, so a burst uses worker threads, but in lock step: the
// storage holds the first journal write at a gate, and the driver starts each
// further caller only once the previous one has been through the business
// function (under the event lock), so the order of events, the batches and
// the sequence of storage calls are the same in every run of a seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/vector.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/entry_codec.hpp"
#include "prevayler/prevayler.hpp"
#include "support/sim_storage.hpp"

namespace prevayler::testing::sim {
namespace {

using namespace std::chrono_literals;

// The workload.
constexpr std::uint32_t producers = 3;
constexpr std::uint32_t accounts = 5;
constexpr std::int64_t initial_balance_cents = 10'000;
constexpr std::int64_t total_cents = initial_balance_cents * accounts;
constexpr std::int64_t clock_start_ms = 1'700'000'000'000;

// The run.
constexpr int steps_per_seed = 200;
constexpr std::uint64_t default_seeds = 2000;
constexpr std::size_t burst_events_max = 6;
constexpr int open_attempts_max = 100;  // injected recovery failures in a row
constexpr auto hang_timeout = 30s;      // a deadlock is reported, not waited out
constexpr std::size_t failing_seeds_reported_max = 5;
constexpr const char* replay_filter = "Simulation.*";

// Per-seed engine limits, drawn from these so group commits are also split.
constexpr std::size_t batch_events_choices[] = {1, 2, 3, 100'000};
constexpr std::size_t small_batch_bytes = 100;
constexpr std::size_t pending_bytes = 64u << 20;  // never reached: no back-pressure

// ---------------------------------------------------------------------------
// The model state: every event is unique (an id) and checkable (per-producer
// sequence numbers the business function validates, so a duplicate or a
// reorder throws at replay); transfers conserve money.

struct Transfer {
  std::uint64_t id = 0;
  std::uint32_t producer = 0;
  std::uint64_t seq = 0;
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::int64_t amount_cents = 0;
  template <class A>
  void serialize(A& a) {
    a(id, producer, seq, from, to, amount_cents);
  }
};

struct Ledger {
  std::vector<std::uint64_t> applied;   // event ids, in journal order
  std::vector<std::uint64_t> next_seq;  // per producer
  std::vector<std::int64_t> balances_cents;
  std::int64_t last_timestamp_ms = 0;  // replay must use the journaled timestamps
  template <class A>
  void serialize(A& a) {
    a(applied, next_seq, balances_cents, last_timestamp_ms);
  }
  bool operator==(const Ledger&) const = default;
};

Ledger initial_ledger() {
  Ledger l;
  l.next_seq.assign(producers, 0);
  l.balances_cents.assign(accounts, initial_balance_cents);
  return l;
}

// The business function's rejection.
class Rejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Ledger apply_transfer(const Ledger& l, const Transfer& t, Timestamp timestamp) {
  if (t.producer >= producers || t.from >= accounts || t.to >= accounts || t.from == t.to) {
    throw Rejected("malformed transfer");
  }
  if (t.seq != l.next_seq[t.producer]) {
    throw Rejected("producer " + std::to_string(t.producer) + " sent seq " + std::to_string(t.seq) +
                   ", expected " + std::to_string(l.next_seq[t.producer]));
  }
  if (t.amount_cents <= 0 || t.amount_cents > l.balances_cents[t.from]) {
    throw Rejected("insufficient funds");
  }
  Ledger next = l;
  next.applied.push_back(t.id);
  ++next.next_seq[t.producer];
  next.balances_cents[t.from] -= t.amount_cents;
  next.balances_cents[t.to] += t.amount_cents;
  next.last_timestamp_ms = timestamp.time_since_epoch().count();
  return next;
}

std::uint64_t fnv1a(std::uint64_t h, std::uint64_t v) {
  constexpr std::uint64_t prime = 1099511628211ull;
  for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * prime;
  return h;
}
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;

std::uint64_t ledger_hash(const Ledger& l) {
  std::uint64_t h = fnv_offset;
  for (auto id : l.applied) h = fnv1a(h, id);
  for (auto s : l.next_seq) h = fnv1a(h, s);
  for (auto b : l.balances_cents) h = fnv1a(h, static_cast<std::uint64_t>(b));
  return fnv1a(h, static_cast<std::uint64_t>(l.last_timestamp_ms));
}

std::int64_t total(const Ledger& l) {
  std::int64_t sum = 0;
  for (auto b : l.balances_cents) sum += b;
  return sum;
}

std::string describe_ids(const std::vector<std::uint64_t>& ids, std::size_t from = 0) {
  constexpr std::size_t shown_max = 12;
  std::string s = "[";
  for (std::size_t i = from; i < ids.size() && i < from + shown_max; ++i) {
    s += (i == from ? "" : " ") + std::to_string(ids[i]);
  }
  if (ids.size() > from + shown_max) s += " ...";
  return s + "] (" + std::to_string(ids.size()) + " events)";
}

// Where two ledgers differ, for messages.
std::string diff(const Ledger& actual, const Ledger& expected) {
  const auto& a = actual.applied;
  const auto& e = expected.applied;
  std::size_t i = 0;
  while (i < a.size() && i < e.size() && a[i] == e[i]) ++i;
  if (i < a.size() || i < e.size()) {
    return "events differ from index " + std::to_string(i) + ": actual " + describe_ids(a, i) +
           ", expected " + describe_ids(e, i);
  }
  if (actual.balances_cents != expected.balances_cents) return "same events, balances differ";
  if (actual.next_seq != expected.next_seq) return "same events, sequence numbers differ";
  return "same events, last timestamp " + std::to_string(actual.last_timestamp_ms) + " vs " +
         std::to_string(expected.last_timestamp_ms);
}

// ---------------------------------------------------------------------------

class Violation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void require(bool ok, const std::string& invariant) {
  if (!ok) throw Violation(invariant);
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string replay_command(std::uint64_t seed) {
  return "PREVAYLER_SIM_SEED=" + std::to_string(seed) +
         " build/tests/prevayler_tests --gtest_filter=" + replay_filter;
}

// Replays the durable view of the disk without the engine: the oracle that
// state() must equal.
class Oracle : public RecoveryHandler {
 public:
  Ledger ledger = initial_ledger();
  void restart() override { ledger = initial_ledger(); }
  void snapshot(std::uint64_t id, std::istream& in) override {
    try {
      ledger = cereal_codec<Ledger>().decode(in);
    } catch (const std::exception& e) {
      throw Violation("oracle: snapshot " + std::to_string(id) + " does not decode: " + e.what());
    }
  }
  void entry(const JournalPosition& position, std::string_view bytes) override {
    const auto parsed = detail::parse_entry(bytes, position.to_string());
    detail::MemoryInBuffer buffer(parsed.event);
    std::istream in(&buffer);
    const Transfer t = cereal_codec<Transfer>().decode(in);
    try {
      ledger = apply_transfer(ledger, t, parsed.timestamp);
    } catch (const Rejected& e) {
      throw Violation(
          "the durable journal holds an event that does not replay (duplicate or "
          "out of order?) at " +
          position.to_string() + ": event " + std::to_string(t.id) + ": " + e.what());
    }
    require(!parsed.state_hash || *parsed.state_hash == ledger_hash(ledger),
            "oracle: journaled state hash differs at " + position.to_string());
  }
};

// A thread that runs one job at a time, so bursts do not create threads.
class Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> job) {
    std::lock_guard lock(mutex_);
    job_ = std::move(job);
    cv_.notify_all();
  }
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return !job_; });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || job_; });
      if (!job_) return;
      auto job = job_;
      lock.unlock();
      job();
      lock.lock();
      job_ = nullptr;
      cv_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool stop_ = false;
  std::thread thread_;
};

// Figures of a run, summed over seeds.
struct Figures {
  std::uint64_t seeds = 0, steps = 0;
  std::uint64_t handled = 0, acknowledged = 0, rejected = 0, failed_clean = 0;
  std::uint64_t failed_unknown = 0, unknown_present = 0, unknown_absent = 0;
  std::uint64_t bursts = 0, group_commits = 0, journal_writes = 0;
  std::uint64_t snapshots_ok = 0, snapshots_failed = 0;
  std::uint64_t crashes = 0, crashes_mid_burst = 0, clean_reopens = 0, open_retries = 0;
  std::uint64_t fail_stop_probes = 0;
  std::array<std::uint64_t, fault_kinds> faults{};
  SettleCounts settle;

  void add(const Figures& o) {
    seeds += o.seeds, steps += o.steps, handled += o.handled, acknowledged += o.acknowledged;
    rejected += o.rejected, failed_clean += o.failed_clean, failed_unknown += o.failed_unknown;
    unknown_present += o.unknown_present, unknown_absent += o.unknown_absent;
    bursts += o.bursts, group_commits += o.group_commits, journal_writes += o.journal_writes;
    snapshots_ok += o.snapshots_ok, snapshots_failed += o.snapshots_failed;
    crashes += o.crashes, crashes_mid_burst += o.crashes_mid_burst;
    clean_reopens += o.clean_reopens, open_retries += o.open_retries;
    fail_stop_probes += o.fail_stop_probes;
    for (std::size_t i = 0; i < fault_kinds; ++i) faults[i] += o.faults[i];
    settle.records_kept += o.settle.records_kept, settle.records_lost += o.settle.records_lost;
    settle.torn_tails_kept += o.settle.torn_tails_kept;
    settle.torn_tails_cut += o.settle.torn_tails_cut;
    settle.snapshots_kept += o.settle.snapshots_kept;
    settle.snapshots_lost += o.settle.snapshots_lost;
  }

  std::string report(double seconds) const {
    std::ostringstream o;
    o << "simulation: " << seeds << " seeds, " << steps << " steps in " << seconds << " s\n"
      << "  events: " << handled << " handled, " << acknowledged << " acknowledged, " << rejected
      << " rejected by the business function, " << failed_clean << " failed cleanly, "
      << failed_unknown << " unknown outcome (" << unknown_present << " present and "
      << unknown_absent << " absent after restart)\n"
      << "  journal writes: " << journal_writes << " (" << group_commits
      << " group commits of 2+ events, from " << bursts << " bursts)\n"
      << "  snapshots: " << snapshots_ok << " ok, " << snapshots_failed << " failed\n"
      << "  restarts: " << crashes << " crashes (" << crashes_mid_burst << " mid-burst), "
      << clean_reopens << " clean reopens, " << open_retries
      << " opens retried after injected failures; " << fail_stop_probes << " fail-stop probes\n"
      << "  faults injected:\n";
    for (std::size_t i = 0; i < fault_kinds; ++i) {
      o << "    " << fault_name(static_cast<Fault>(i)) << ": " << faults[i] << "\n";
    }
    o << "  at crash: unknown-outcome records " << settle.records_kept << " kept, "
      << settle.records_lost << " lost; torn tails " << settle.torn_tails_kept << " left on disk, "
      << settle.torn_tails_cut << " cut by recovery; unknown-outcome "
      << "snapshots " << settle.snapshots_kept << " kept, " << settle.snapshots_lost << " lost\n";
    return o.str();
  }
};

using P = Prevayler<Ledger, Transfer>;

enum class Outcome { acked, rejected, failed_clean, failed_stop, unexpected };

struct Result {
  Outcome outcome = Outcome::unexpected;
  std::shared_ptr<const Ledger> state;
  std::string what = "never ran";
};

// One seed: a run of steps, each followed by the invariant checks.
class Simulation {
 public:
  Simulation(std::uint64_t seed, bool verbose)
      : seed_(seed),
        verbose_(verbose),
        rng_(splitmix64(seed)),
        disk_(std::make_shared<SimDisk>(splitmix64(seed ^ 0x5eed'd15cull), FaultRates{})) {
    disk_->log = [this](const std::string& line) { trace(line); };
    limits_.batch_events_max = batch_events_choices[pick(std::size(batch_events_choices))];
    if (chance(0.3)) limits_.batch_bytes_max = small_batch_bytes;
    limits_.pending_bytes_max = pending_bytes;
    hash_states_ = chance(0.5);
    // Half the seeds open without the snapshot on open, so recovery also
    // replays long journals across many restarts.
    snapshot_on_open_ = chance(0.5);
    trace("seed " + std::to_string(seed) + ": batch_events_max " +
          std::to_string(limits_.batch_events_max) + ", batch_bytes_max " +
          std::to_string(limits_.batch_bytes_max) + ", state hash " +
          (hash_states_ ? "on" : "off") + ", snapshot on open " +
          (snapshot_on_open_ ? "on" : "off"));
  }

  ~Simulation() {
    // Close without crashing the test on an instance the run left behind.
    try {
      p_.reset();
    } catch (...) {
    }
  }

  // The failure message, or nothing when every invariant held.
  std::optional<std::string> run() {
    try {
      open();
      check_live();
      for (step_ = 1; step_ <= steps_per_seed; ++step_) {
        ++figures_.steps;
        one_step();
        if (disk_->process_dead()) crash_and_restart("the process died in a torn write");
        if (p_) check_live();
      }
      // A last clean restart: whatever is on disk must replay to the model.
      reopen();
    } catch (const Violation& v) {
      return failure(v.what());
    } catch (const std::exception& e) {
      return failure(std::string("unexpected exception: ") + e.what());
    }
    return std::nullopt;
  }

  Figures figures() const {
    Figures f = figures_;
    f.seeds = 1;
    f.faults = disk_->faults();
    f.settle = disk_->settle_counts();
    f.group_commits = disk_->multi_entry_appends();
    f.journal_writes = disk_->appends();
    return f;
  }

  // A fingerprint of everything that happened, to check replayability.
  std::uint64_t trace_hash() const { return trace_hash_; }

 private:
  // --- randomness (driver thread only) ---
  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void trace(const std::string& line) {
    for (char c : line)
      trace_hash_ = (trace_hash_ ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    if (verbose_) std::cout << line << std::endl;
  }
  void log_step(const std::string& what) { trace("step " + std::to_string(step_) + ": " + what); }

  std::string failure(const std::string& invariant) const {
    return "seed " + std::to_string(seed_) + " failed at step " + std::to_string(step_) + ": " +
           invariant + "; replay: " + replay_command(seed_);
  }

  [[noreturn]] void hang(const std::string& what) const {
    // Threads are stuck inside the engine: nothing can be unwound safely.
    std::cerr << failure("hang: " + what) << std::endl;
    std::abort();
  }

  // --- the instance ---
  P::Options options() {
    P::Options o;
    o.business = [this](const Ledger& l, const Transfer& t, Timestamp ts) {
      // Instrumentation only: the driver waits for this call to keep a burst
      // in lock step, and the model learns the timestamp the event was
      // handled with (the first call for an id is always the live one).
      struct Signal {
        Simulation& sim;
        std::uint64_t id;
        std::int64_t ts;
        ~Signal() {
          std::lock_guard lock(sim.probe_mutex_);
          sim.timestamps_.try_emplace(id, ts);
          ++sim.business_calls_;
          sim.probe_cv_.notify_all();
        }
      } signal{*this, t.id, ts.time_since_epoch().count()};
      return apply_transfer(l, t, ts);
    };
    o.initial_state = initial_ledger;
    o.timestamp = [this] { return Timestamp(std::chrono::milliseconds(clock_ms_.fetch_add(1))); };
    o.storage = make_sim_storage(disk_);
    if (hash_states_) o.state_hash = ledger_hash;
    o.limits = limits_;
    o.snapshot_on_open = snapshot_on_open_;
    o.warn = [](const std::string&) {};  // a failed snapshot at open is a drawn fault
    return o;
  }

  std::uint64_t business_calls() {
    std::lock_guard lock(probe_mutex_);
    return business_calls_;
  }
  bool wait_business_calls(std::uint64_t n) {
    std::unique_lock lock(probe_mutex_);
    return probe_cv_.wait_for(lock, hang_timeout, [&] { return business_calls_ >= n; });
  }
  std::int64_t timestamp_of(std::uint64_t id) {
    std::lock_guard lock(probe_mutex_);
    const auto it = timestamps_.find(id);
    require(it != timestamps_.end(), "event " + std::to_string(id) +
                                         " is in the state but the business function never "
                                         "handled it live");
    return it->second;
  }

  void open() {
    for (int attempt = 0;; ++attempt) {
      try {
        p_ = std::make_unique<P>(options());
        return;
      } catch (const StorageError& e) {
        const bool injected = std::string_view(e.what()).starts_with("injected");
        require(injected && attempt < open_attempts_max,
                std::string("recovery failed: ") + e.what());
        trace(std::string("  open failed, retrying: ") + e.what());
        ++figures_.open_retries;
      } catch (const Violation&) {
        throw;
      } catch (const std::exception& e) {
        throw Violation(std::string("recovery failed: ") + e.what());
      }
    }
  }

  // --- invariants ---

  // Live instance: state() is exactly the acknowledged events, in order; money
  // is conserved; state() equals an independent replay of the durable disk.
  void check_live() {
    const auto state = p_->state();
    require(*state == model_,
            "state() is not the acknowledged events in acknowledgement "
            "order: " +
                diff(*state, model_));
    require(total(*state) == total_cents,
            "money is not conserved: total " + std::to_string(total(*state)) + " cents");
    Oracle oracle;
    disk_->read_durable(oracle);
    require(oracle.ledger == *state,
            "state() differs from a replay of the durable disk: " + diff(*state, oracle.ledger));
  }

  // After a restart: the acknowledged events come first, in order, then
  // some of the unknown-outcome ones, in handle order, none twice; events
  // that failed cleanly never appear. Then the unknown ones are settled.
  void reconcile() {
    const auto state = p_->state();
    const auto& ids = state->applied;
    const auto& acked = model_.applied;
    require(ids.size() >= acked.size() && std::equal(acked.begin(), acked.end(), ids.begin()),
            "after restart, acknowledged events are missing or out of order: recovered " +
                describe_ids(ids) + ", acknowledged " + describe_ids(acked));
    std::size_t u = 0;
    std::set<std::uint64_t> seen(acked.begin(), acked.end());
    for (std::size_t i = acked.size(); i < ids.size(); ++i) {
      const std::uint64_t id = ids[i];
      require(!absent_.contains(id), "after restart, event " + std::to_string(id) +
                                         " is present although its handle() failed cleanly");
      require(seen.insert(id).second, "after restart, event " + std::to_string(id) + " is twice");
      while (u < unknown_.size() && unknown_[u] != id) {
        absent_.insert(unknown_[u++]);
        ++figures_.unknown_absent;
      }
      require(u < unknown_.size(), "after restart, event " + std::to_string(id) +
                                       " is present but was never handled, or is out of order");
      ++u;
      ++figures_.unknown_present;
      const auto it = events_.find(id);
      model_ = apply_transfer(model_, it->second,
                              Timestamp(std::chrono::milliseconds(timestamp_of(id))));
    }
    for (; u < unknown_.size(); ++u) {
      absent_.insert(unknown_[u]);
      ++figures_.unknown_absent;
    }
    unknown_.clear();
    stopped_ = false;
    require(*state == model_, "recovered state differs from the model: " + diff(*state, model_));
  }

  // --- the workload ---

  Transfer make_valid(const Ledger& spec) {
    Transfer t;
    t.id = next_id_++;
    t.producer = static_cast<std::uint32_t>(pick(producers));
    t.seq = spec.next_seq[t.producer];
    std::uint32_t from = static_cast<std::uint32_t>(pick(accounts));
    while (spec.balances_cents[from] == 0) from = (from + 1) % accounts;
    t.from = from;
    t.to = static_cast<std::uint32_t>((from + 1 + pick(accounts - 1)) % accounts);
    t.amount_cents =
        1 + static_cast<std::int64_t>(pick(static_cast<std::size_t>(spec.balances_cents[from])));
    events_[t.id] = t;
    return t;
  }

  // An event the business function must reject: a replayed or skipped
  // sequence number, an overdraft, or a transfer to the same account.
  Transfer make_invalid(const Ledger& spec) {
    Transfer t = make_valid(spec);
    switch (pick(4)) {
      case 0:
        t.seq = t.seq > 0 ? t.seq - 1 : t.seq + 1;
        break;
      case 1:
        t.seq += 1 + pick(3);
        break;
      case 2:
        t.amount_cents = spec.balances_cents[t.from] + 1;
        break;
      default:
        t.to = t.from;
        break;
    }
    events_[t.id] = t;
    return t;
  }

  // Runs call(r) and sets r's outcome from how it ended. Only handle()
  // runs the business function, so only it can throw Rejected.
  template <class Call>
  static Result outcome_of(Call call) {
    Result r;
    try {
      call(r);
      r.outcome = Outcome::acked;
      r.what.clear();
    } catch (const Rejected& e) {
      r.outcome = Outcome::rejected, r.what = e.what();
    } catch (const StorageFailedError& e) {
      r.outcome = Outcome::failed_stop, r.what = e.what();
    } catch (const StorageError& e) {
      r.outcome = Outcome::failed_clean, r.what = e.what();
    } catch (const std::exception& e) {
      r.outcome = Outcome::unexpected, r.what = e.what();
    }
    return r;
  }

  Result call_handle(const Transfer& t) {
    return outcome_of([&](Result& r) { r.state = p_->handle(t); });
  }

  Result call_snapshot() {
    return outcome_of([&](Result&) { p_->snapshot(); });
  }

  struct Job {
    Transfer transfer;
    bool valid;
    Result result;
  };

  // Folds the outcomes of handle() calls, in handle order, into the model.
  void absorb(std::vector<Job>& jobs) {
    bool failure_seen = false;
    bool stop_seen = false;
    for (Job& job : jobs) {
      const Result& r = job.result;
      const std::string id = "event " + std::to_string(job.transfer.id);
      ++figures_.handled;
      trace("  " + id + (job.valid ? "" : " (invalid)") + ": " +
            (r.outcome == Outcome::acked ? "acknowledged" : r.what));
      switch (r.outcome) {
        case Outcome::rejected:
          require(!job.valid, id +
                                  " was rejected by the business function although it is "
                                  "valid against the acknowledged state: " +
                                  r.what);
          ++figures_.rejected;
          break;
        case Outcome::acked:
          require(job.valid, id + " is invalid but was accepted");
          require(!failure_seen, id + " was acknowledged although an earlier event of the same "
                                      "group failed (its state was computed from a lost one)");
          model_ =
              apply_transfer(model_, job.transfer,
                             Timestamp(std::chrono::milliseconds(timestamp_of(job.transfer.id))));
          require(r.state && *r.state == model_,
                  "handle() of " + id +
                      " returned a state other than the one its event "
                      "produced: " +
                      (r.state ? diff(*r.state, model_) : "null"));
          ++figures_.acknowledged;
          break;
        case Outcome::failed_clean:
          require(job.valid, id + " is invalid but reached the journal");
          require(!stop_seen, id + " failed with a plain StorageError after the instance "
                                   "stopped (fail-stop must be sticky)");
          failure_seen = true;
          absent_.insert(job.transfer.id);
          ++figures_.failed_clean;
          break;
        case Outcome::failed_stop:
          require(job.valid, id + " is invalid but reached the journal");
          failure_seen = stop_seen = true;
          unknown_.push_back(job.transfer.id);
          stopped_ = true;
          ++figures_.failed_unknown;
          break;
        case Outcome::unexpected:
          throw Violation("handle() of " + id + " threw an unexpected error: " + r.what);
      }
    }
  }

  void absorb_snapshot(const Result& r) {
    trace("  snapshot: " + (r.outcome == Outcome::acked ? std::string("ok") : r.what));
    switch (r.outcome) {
      case Outcome::acked:
        require(!stopped_, "snapshot() succeeded on a stopped instance");
        ++figures_.snapshots_ok;
        break;
      case Outcome::failed_clean:
        require(!stopped_,
                "snapshot() on a stopped instance threw a plain StorageError: " + r.what);
        ++figures_.snapshots_failed;
        break;
      case Outcome::failed_stop:
        require(stopped_, "snapshot() threw StorageFailedError on a healthy instance: " + r.what);
        ++figures_.snapshots_failed;
        break;
      default:
        throw Violation("snapshot() threw an unexpected error: " + r.what);
    }
  }

  void one_step() {
    if (stopped_) {
      // Fail-stop: probe that it sticks, or restart.
      const std::size_t r = pick(10);
      if (r < 3) return probe_fail_stop();
      if (r < 8) return crash_and_restart("crash after fail-stop");
      return reopen();
    }
    const std::size_t r = pick(100);
    if (r < 50) return handle_one(true);
    if (r < 58) return handle_one(false);
    if (r < 76) return burst();
    if (r < 88) return snapshot();
    if (r < 95) return crash_and_restart("crash");
    reopen();
  }

  void handle_one(bool valid) {
    std::vector<Job> jobs{{valid ? make_valid(model_) : make_invalid(model_), valid, {}}};
    log_step("handle event " + std::to_string(jobs[0].transfer.id) + (valid ? "" : " (invalid)"));
    jobs[0].result = call_handle(jobs[0].transfer);
    absorb(jobs);
  }

  void snapshot() {
    log_step("snapshot");
    absorb_snapshot(call_snapshot());
  }

  void probe_fail_stop() {
    log_step("probe the stopped instance");
    ++figures_.fail_stop_probes;
    const Transfer t = make_valid(model_);
    const std::uint64_t calls = business_calls();
    const Result r = call_handle(t);
    require(r.outcome == Outcome::failed_stop,
            "handle() on a stopped instance did not throw StorageFailedError: " + r.what);
    require(business_calls() == calls, "handle() on a stopped instance ran the business function");
    absent_.insert(t.id);  // never reached the storage
    absorb_snapshot(call_snapshot());
  }

  // Several concurrent handle() calls that the engine groups into journal
  // writes, in lock step (see the top of the file); optionally a snapshot
  // queued behind them, and optionally a crash while the first write is in
  // flight.
  void burst() {
    const std::size_t count = 2 + pick(burst_events_max - 1);
    const bool with_snapshot = chance(0.25);
    const bool crash_mid = chance(0.06);
    std::vector<Job> jobs;
    Ledger spec = model_;  // what the engine's head will be if all succeed
    for (std::size_t i = 0; i < count; ++i) {
      const bool valid = i == 0 || chance(0.85);
      jobs.push_back({valid ? make_valid(spec) : make_invalid(spec), valid, {}});
      if (valid) spec = apply_transfer(spec, jobs.back().transfer, Timestamp{});
    }
    log_step("burst of " + std::to_string(count) + " events" +
             (with_snapshot ? " and a snapshot" : "") + (crash_mid ? ", crash mid-write" : ""));
    ++figures_.bursts;

    disk_->arm_gate();
    workers_[0].post([&] { jobs[0].result = call_handle(jobs[0].transfer); });
    if (!disk_->wait_at_gate(hang_timeout))
      hang("the first write of a burst never reached the storage");
    for (std::size_t i = 1; i < count; ++i) {
      const std::uint64_t calls = business_calls();
      workers_[i].post([&, i] { jobs[i].result = call_handle(jobs[i].transfer); });
      if (!wait_business_calls(calls + 1))
        hang("a handle() of a burst never reached the business function");
    }
    // The snapshot needs no lock step: it seals the open batch and queues its
    // cut behind it, so the storage sees the same calls whenever it runs.
    Result snapshot_result;
    if (with_snapshot) workers_[count].post([&] { snapshot_result = call_snapshot(); });
    if (crash_mid) {
      ++figures_.crashes_mid_burst;
      disk_->crash();
    }
    disk_->release_gate();
    for (std::size_t i = 0; i < count + (with_snapshot ? 1 : 0); ++i) {
      if (!workers_[i].wait_idle(hang_timeout)) hang("a call of a burst never returned");
    }
    absorb(jobs);
    if (with_snapshot) absorb_snapshot(snapshot_result);
    if (crash_mid) {
      require(stopped_, "a write in flight at a crash was acknowledged");
      restart_after_crash();
    }
  }

  void crash_and_restart(const std::string& why) {
    log_step(why + " and restart");
    disk_->crash();
    restart_after_crash();
  }

  void restart_after_crash() {
    ++figures_.crashes;
    p_.reset();  // the storage of the dead process no longer touches the disk
    open();
    reconcile();
  }

  void reopen() {
    log_step("close and reopen");
    ++figures_.clean_reopens;
    try {
      p_->close();
    } catch (const std::exception& e) {
      throw Violation(std::string("close() threw: ") + e.what());
    }
    p_.reset();
    disk_->settle();
    open();
    reconcile();
    if (p_) check_live();
  }

  const std::uint64_t seed_;
  const bool verbose_;
  std::mt19937_64 rng_;
  std::shared_ptr<SimDisk> disk_;
  WriterLimits limits_;
  bool hash_states_ = false;
  bool snapshot_on_open_ = true;
  int step_ = 0;
  std::uint64_t trace_hash_ = fnv_offset;
  std::atomic<std::int64_t> clock_ms_{clock_start_ms};

  // The model: `model_` folds the acknowledged events (and the unknown ones
  // a restart found) in order; `unknown_` are the events whose outcome a
  // restart decides, in handle order; `absent_` must never appear.
  Ledger model_ = initial_ledger();
  std::vector<std::uint64_t> unknown_;
  std::set<std::uint64_t> absent_;
  std::map<std::uint64_t, Transfer> events_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;  // the instance threw StorageFailedError

  std::mutex probe_mutex_;
  std::condition_variable probe_cv_;
  std::uint64_t business_calls_ = 0;
  std::map<std::uint64_t, std::int64_t> timestamps_;

  Figures figures_;
  Worker workers_[burst_events_max + 1];
  std::unique_ptr<P> p_;  // last: destroyed first, before what it calls back into
};

std::optional<std::uint64_t> env_number(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  return std::stoull(value);
}

}  // namespace

// Seeds over which every fault kind and outcome must have occurred.
constexpr std::uint64_t coverage_seeds_min = 200;

TEST(Simulation, SeedsKeepEveryInvariant) {
  const auto one_seed = env_number("PREVAYLER_SIM_SEED");
  const std::uint64_t first =
      one_seed ? *one_seed : env_number("PREVAYLER_SIM_FIRST_SEED").value_or(1);
  const std::uint64_t count =
      one_seed ? 1 : env_number("PREVAYLER_SIM_SEEDS").value_or(default_seeds);
  // Seeds are independent, so they run side by side; each stays
  // deterministic on its own.
  const std::uint64_t jobs = one_seed
                                 ? 1
                                 : env_number("PREVAYLER_SIM_JOBS")
                                       .value_or(std::max(1u, std::thread::hardware_concurrency()));
  const auto started = std::chrono::steady_clock::now();
  std::mutex mutex;
  Figures totals;
  std::map<std::uint64_t, std::string> failures;  // by seed, reported in order
  std::atomic<std::uint64_t> next_seed{first};
  std::atomic<bool> stop{false};
  auto run_seeds = [&] {
    for (std::uint64_t seed; !stop && (seed = next_seed++) < first + count;) {
      Simulation sim(seed, one_seed.has_value());
      const auto failure = sim.run();
      std::lock_guard lock(mutex);
      totals.add(sim.figures());
      if (failure) {
        std::cerr << *failure << std::endl;
        failures.emplace(seed, *failure);
        if (failures.size() >= failing_seeds_reported_max) stop = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::uint64_t j = 1; j < jobs; ++j) threads.emplace_back(run_seeds);
  run_seeds();
  for (auto& t : threads) t.join();
  for (const auto& [seed, failure] : failures) ADD_FAILURE() << failure;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  std::cout << totals.report(elapsed.count()) << std::flush;
  // Over a full run every kind of fault, crash and outcome must have
  // happened, or the seeds no longer test what this file says they do.
  if (one_seed || count < coverage_seeds_min) return;
  for (std::size_t kind = 0; kind < fault_kinds; ++kind) {
    EXPECT_GT(totals.faults[kind], 0u) << "fault kind " << kind << " was never injected";
  }
  EXPECT_GT(totals.acknowledged, 0u);
  EXPECT_GT(totals.failed_clean, 0u);
  EXPECT_GT(totals.failed_unknown, 0u);
  EXPECT_GT(totals.crashes, 0u);
  EXPECT_GT(totals.crashes_mid_burst, 0u);
  EXPECT_GT(totals.snapshots_ok, 0u);
  EXPECT_GT(totals.snapshots_failed, 0u);
  EXPECT_GT(totals.group_commits, 0u);
}

// A seed must replay exactly: the same trace of steps, outcomes and storage
// decisions every time, or a failing seed could not be debugged.
TEST(Simulation, SameSeedSameRun) {
  constexpr std::uint64_t seeds_checked = 20;
  for (std::uint64_t seed = 1; seed <= seeds_checked; ++seed) {
    Simulation a(seed, false);
    Simulation b(seed, false);
    const auto failure_a = a.run();
    const auto failure_b = b.run();
    EXPECT_EQ(failure_a, failure_b);
    EXPECT_EQ(a.trace_hash(), b.trace_hash()) << "seed " << seed << " does not replay";
  }
}

}  // namespace prevayler::testing::sim
