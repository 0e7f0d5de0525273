// The model test: seeded runs of several instances of the real storages on
// one journal, checked against the library's promises (docs/model_test.md).
//
//   prevayler_model_tests --storage=file --seeds=1000 --ops=40
//   prevayler_model_tests --storage=file --seed=17        # replay one seed
//
// Flags (before the gtest flags): --storage=file|aws|all (default all),
// --seed=N (one seed), --seeds=N (seeds 1..N, default 200), --first-seed=N,
// --ops=N (operations per seed, default 40), --trace (print each operation),
// --without-retention (no keep_snapshots, no prune: tells retention's
// failures from others; --without-instance-retention, --without-prune: one
// of the two), --without-copy (no copy to a fresh journal), --repeat=N (run the seeds N times: a
// seed fixes the operations, not the threads' timing, so a timing-dependent failure may need a few
// runs to show again).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aws/moto_server.hpp"
#include "model/aws_backend.hpp"
#include "model/file_backend.hpp"
#include "model/model_run.hpp"
#include "model/mutant_backends.hpp"

namespace prevayler::model {
namespace {

struct Flags {
  std::string storage = "all";
  std::optional<std::uint64_t> seed;
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 200;
  int ops = 40;
  bool trace = false;
  bool instance_retention = true;
  bool operator_prune = true;
  bool copy = true;
  int repeat = 1;  // each seed this many times (the threads' timing varies)
  int jobs = 4;    // seeds run at once, each on its own journal
};
Flags flags;

// Seeds over which every kind of operation and fault must have occurred:
// the rarest fault (a failed read, 0.1 % of calls) comes about once in 75
// seeds, so a shorter run (a replay, the sanitizer runs) checks no coverage.
constexpr std::uint64_t coverage_seeds_min = 1000;
constexpr std::uint64_t moto_coverage_seeds_min = 20;
// The mutants must be caught within this many seeds (docs/model_test.md).
constexpr std::uint64_t mutant_seeds_max = 20;
// The copy mutant's seeds copy often (about 3 times in 40 operations), so
// that it is caught in most of them, not only in a lucky few.
constexpr int copy_weight_mutant = 8;

FileFaults file_faults() {
  FileFaults f;
  f.pwrite_enospc = 0.004;
  f.pwrite_torn = 0.004;
  f.sync_failure = 0.004;
  f.rename_failure = 0.004;
  f.pread_failure = 0.001;
  return f;
}

aws::FaultProbabilities aws_faults() {
  aws::FaultProbabilities p;
  p.throttle = 0.01;
  p.server_error = 0.01;
  p.connection_reset = 0.005;
  p.timeout_after_apply = 0.005;
  return p;
}

BackendFactory file_factory() {
  return [](std::uint64_t seed) { return std::make_unique<FileBackend>(seed, file_faults()); };
}

BackendFactory aws_factory() {
  return [](std::uint64_t seed) { return std::make_unique<AwsBackend>(seed, aws_faults()); };
}

// The simulator's own faults, besides aws_faults() at each host.
testing::SimFaultOptions sim_faults(std::uint64_t seed) {
  testing::SimFaultOptions f;
  f.seed = seed;
  f.server_error_after_apply = 0.005;
  f.bad_crc = 0.005;
  f.unprocessed = 0.05;
  f.delay = 0.05;
  return f;
}

BackendFactory aws_sim_factory() {
  return [](std::uint64_t seed) {
    return std::make_unique<AwsBackend>(seed, aws_faults(),
                                        testing::SimAws::create(sim_faults(seed)));
  };
}

// Where a copy goes: a fresh journal of the same kind (a new simulated
// disk, a new simulator, a new table and bucket in moto) or of the other
// kind in process (file -> simulated DynamoDB+S3, and back).
CopyDestinationFactory file_copy_destination() {
  return [](std::uint64_t seed, bool other_kind) {
    return other_kind ? aws_sim_factory()(seed) : file_factory()(seed);
  };
}

CopyDestinationFactory aws_sim_copy_destination() {
  return [](std::uint64_t seed, bool other_kind) {
    return other_kind ? file_factory()(seed) : aws_sim_factory()(seed);
  };
}

CopyDestinationFactory aws_copy_destination() {
  return [](std::uint64_t seed, bool other_kind) {
    return other_kind ? file_factory()(seed) : aws_factory()(seed);
  };
}

struct Totals {
  std::uint64_t seeds = 0;
  std::uint64_t failed_seeds = 0;
  std::uint64_t events = 0;
  std::uint64_t acknowledged = 0;
  std::map<std::string, std::uint64_t> operations;
  FaultTally faults;
  std::vector<std::uint64_t> failing;
  std::string first_violation;
};

ModelConfig config_from_flags(CopyDestinationFactory copy_destination) {
  return ModelConfig{flags.ops,
                     flags.trace,
                     flags.instance_retention,
                     flags.operator_prune,
                     true,
                     flags.copy ? copy_destination : nullptr};
}

std::string config_flags(const ModelConfig& c) {
  std::string out;
  if (!c.instance_retention && !c.operator_prune) {
    out = " --without-retention";
  } else if (!c.instance_retention) {
    out = " --without-instance-retention";
  } else if (!c.operator_prune) {
    out = " --without-prune";
  }
  if (!c.copy_destination) out += " --without-copy";
  return out;
}

// Mutants run without retention and without faults, so that what catches
// them is the mutant, not a known bug of retention or an injected fault;
// and without the state hash, so that what catches them is the checker,
// not the replay's hash check.
ModelConfig mutant_config() { return ModelConfig{40, false, false, false, false, nullptr}; }

std::vector<std::uint64_t> seeds_to_run() {
  std::vector<std::uint64_t> seeds;
  for (int r = 0; r < flags.repeat; ++r) {
    if (flags.seed) {
      seeds.push_back(*flags.seed);
    } else {
      for (std::uint64_t s = flags.first_seed; s < flags.first_seed + flags.seeds; ++s) {
        seeds.push_back(s);
      }
    }
  }
  return seeds;
}

void add_result(Totals& totals, Backend& backend, std::uint64_t seed, const RunResult& r,
                const std::string& storage, int ops, const ModelConfig& config,
                bool print_failures);

// Runs the seeds, printing each failing seed's replay command.
Totals run_seeds(const std::string& storage, const BackendFactory& factory,
                 const std::vector<std::uint64_t>& seeds, const ModelConfig& config,
                 bool print_failures) {
  const int ops = config.ops;
  Totals totals;
  // Seeds are independent (a journal each): run `jobs` at once, in seed
  // order per worker, the totals merged under one lock.
  std::mutex totals_mutex;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < seeds.size(); i = next++) {
      const std::uint64_t seed = seeds[i];
      auto backend = factory(seed);
      RunResult r = run_model(*backend, seed, config);
      std::lock_guard lock(totals_mutex);
      add_result(totals, *backend, seed, r, storage, ops, config, print_failures);
    }
  };
  std::vector<std::thread> workers;
  const int jobs = std::max(1, std::min<int>(flags.jobs, static_cast<int>(seeds.size())));
  for (int j = 0; j < jobs; ++j) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  std::sort(totals.failing.begin(), totals.failing.end());
  return totals;
}

void add_result(Totals& totals, Backend& backend_ref, std::uint64_t seed, const RunResult& r,
                const std::string& storage, int ops, const ModelConfig& config,
                bool print_failures) {
  Backend* backend = &backend_ref;
  {
    ++totals.seeds;
    totals.events += r.events;
    totals.acknowledged += r.acknowledged;
    for (const auto& [k, n] : r.operations) totals.operations[k] += n;
    for (const auto& [k, n] : r.faults) totals.faults[k] += n;
    if (!r.violations.empty()) {
      ++totals.failed_seeds;
      totals.failing.push_back(seed);
      if (totals.first_violation.empty()) totals.first_violation = r.violations.front();
      if (print_failures) {
        backend->keep();
        std::cout << "[model] seed " << seed << " FAILED on " << backend->describe()
                  << " (kept)\n  replay: build/tests/prevayler_model_tests --storage=" << storage
                  << " --seed=" << seed << " --ops=" << ops << config_flags(config) << "\n";
        for (const auto& v : r.violations) std::cout << "  " << v << "\n";
      }
    }
  }
}

void print_totals(const std::string& storage, const Totals& t, double seconds) {
  std::cout << "[model] " << storage << ": " << t.seeds << " seeds in " << seconds << " s ("
            << (seconds > 0 ? t.seeds / seconds : 0) << " seeds/s), " << t.events << " events, "
            << t.acknowledged << " acknowledged, " << t.failed_seeds << " failing seeds\n";
  std::cout << "[model] operations:";
  for (const auto& [k, n] : t.operations) std::cout << " " << k << "=" << n;
  std::cout << "\n[model] faults:";
  for (const auto& [k, n] : t.faults) std::cout << " " << k << "=" << n;
  std::cout << "\n";
}

void expect_coverage(const Totals& t, const std::vector<std::string>& fault_kinds,
                     std::uint64_t seeds_min = coverage_seeds_min) {
  // A replay, a short run, or a run without some operations.
  if (t.seeds < seeds_min || !flags.instance_retention || !flags.operator_prune || !flags.copy) {
    return;
  }
  for (const char* kind : {"open",
                           "takeover",
                           "restart",
                           "handle",
                           "handle_async",
                           "burst",
                           "takeover_under_load",
                           "crash_under_load",
                           "snapshot_under_load",
                           "prune_under_load",
                           "snapshot",
                           "close",
                           "prune",
                           "crash",
                           "open_with_retention",
                           "open_pipelined",
                           "open_compressing",
                           "open_direct_writes",
                           "copy",
                           "copy_all",
                           "copy_other_kind",
                           "copy_refused",
                           "open_auto_snapshots",
                           "open_with_retention_by_age",
                           "prune_by_age",
                           "prune_by_age_checked"}) {
    EXPECT_GT(t.operations.count(kind) ? t.operations.at(kind) : 0, 0u)
        << "operation never exercised: " << kind;
  }
  for (const auto& kind : fault_kinds) {
    EXPECT_GT(t.faults.count(kind) ? t.faults.at(kind) : 0, 0u) << "fault never injected: " << kind;
  }
}

bool wants(const std::string& storage) {
  return flags.storage == "all" || flags.storage == storage;
}

TEST(ModelTest, FileStorage) {
  if (!wants("file")) GTEST_SKIP() << "--storage=" << flags.storage;
  const auto start = std::chrono::steady_clock::now();
  const Totals t = run_seeds("file", file_factory(), seeds_to_run(),
                             config_from_flags(file_copy_destination()), true);
  print_totals("file", t,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  EXPECT_EQ(t.failed_seeds, 0u) << "replay a failing seed with the command printed above";
  expect_coverage(t, {"file.pwrite_enospc", "file.pwrite_torn", "file.sync_failure",
                      "file.rename_failure", "file.pread_failure", "file.direct_writes"});
}

TEST(ModelTest, AwsStorageOnTheSimulator) {
  if (!wants("aws-sim")) GTEST_SKIP() << "--storage=" << flags.storage;
  const auto start = std::chrono::steady_clock::now();
  const Totals t = run_seeds("aws-sim", aws_sim_factory(), seeds_to_run(),
                             config_from_flags(aws_sim_copy_destination()), true);
  print_totals("aws-sim", t,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  EXPECT_EQ(t.failed_seeds, 0u) << "replay a failing seed with the command printed above";
  expect_coverage(
      t, {"aws.throttle", "aws.server_error", "aws.connection_reset", "aws.timeout_after_apply",
          "sim.delay", "sim.server_error_after_apply", "sim.bad_crc", "sim.unprocessed_items"});
}

TEST(ModelTest, AwsStorage) {
  if (!wants("aws")) GTEST_SKIP() << "--storage=" << flags.storage;
  if (std::system("command -v moto_server > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "moto_server is not on PATH (pip install 'moto[server]')";
  }
  const auto start = std::chrono::steady_clock::now();
  // Started here, on the test's thread: the server dies with the thread that
  // started it (PR_SET_PDEATHSIG), and a worker thread ends before the others.
  aws::testing::moto();
  const Totals t = run_seeds("aws", aws_factory(), seeds_to_run(),
                             config_from_flags(aws_copy_destination()), true);
  print_totals("aws", t,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  EXPECT_EQ(t.failed_seeds, 0u) << "replay a failing seed with the command printed above";
  // Against moto every seed makes hundreds of requests: 20 seeds meet every
  // fault kind.
  expect_coverage(
      t, {"aws.throttle", "aws.server_error", "aws.connection_reset", "aws.timeout_after_apply"},
      moto_coverage_seeds_min);
}

// The test of the test: a storage that breaks a promise is caught within
// mutant_seeds_max seeds.
std::vector<std::uint64_t> mutant_seeds() {
  std::vector<std::uint64_t> seeds;
  for (std::uint64_t s = 1; s <= mutant_seeds_max; ++s) seeds.push_back(s);
  return seeds;
}

TEST(ModelMutants, DroppedAppendIsCaught) {
  const BackendFactory factory = [](std::uint64_t seed) {
    auto writes = std::make_shared<std::atomic<int>>(0);
    return std::make_unique<MutantBackend>(
        std::make_unique<FileBackend>(seed, FileFaults{}),
        [writes](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
          return std::make_unique<DroppingStorage>(std::move(s), writes, 25);
        });
  };
  const Totals t = run_seeds("file", factory, mutant_seeds(), mutant_config(), false);
  ASSERT_FALSE(t.failing.empty()) << "a storage that drops every 25th write went unnoticed";
  std::cout << "[model] dropped-append mutant: first caught at seed " << t.failing.front()
            << ", caught in " << t.failing.size() << "/" << t.seeds
            << " seeds; first violation: " << t.first_violation.substr(0, 200) << "\n";
}

TEST(ModelMutants, LyingFailureIsCaught) {
  const BackendFactory factory = [](std::uint64_t seed) {
    auto writes = std::make_shared<std::atomic<int>>(0);
    return std::make_unique<MutantBackend>(
        std::make_unique<FileBackend>(seed, FileFaults{}),
        [writes](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
          return std::make_unique<LyingFailureStorage>(std::move(s), writes, 25);
        });
  };
  const Totals t = run_seeds("file", factory, mutant_seeds(), mutant_config(), false);
  ASSERT_FALSE(t.failing.empty()) << "a storage that reports written events as failed went "
                                     "unnoticed";
  std::cout << "[model] lying-failure mutant: first caught at seed " << t.failing.front()
            << ", caught in " << t.failing.size() << "/" << t.seeds
            << " seeds; first violation: " << t.first_violation.substr(0, 200) << "\n";
}

TEST(ModelMutants, IgnoredFenceIsCaught) {
  const BackendFactory factory = [](std::uint64_t seed) {
    return std::make_unique<MutantBackend>(
        std::make_unique<FileBackend>(seed, FileFaults{}),
        [](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
          return std::make_unique<FenceBlindStorage>(std::move(s));
        });
  };
  const Totals t = run_seeds("file", factory, mutant_seeds(), mutant_config(), false);
  ASSERT_FALSE(t.failing.empty()) << "a storage that ignores the fence went unnoticed";
  std::cout << "[model] fence-blind mutant: first caught at seed " << t.failing.front()
            << ", caught in " << t.failing.size() << "/" << t.seeds
            << " seeds; first violation: " << t.first_violation.substr(0, 200) << "\n";
}

TEST(ModelMutants, CopyDroppingTheLastSegmentIsCaught) {
  const BackendFactory factory = [](std::uint64_t seed) {
    return std::make_unique<FileBackend>(seed, FileFaults{});
  };
  ModelConfig config = mutant_config();
  config.copy_weight = copy_weight_mutant;
  config.copy_destination = [](std::uint64_t seed, bool other_kind) -> std::unique_ptr<Backend> {
    std::unique_ptr<Backend> inner =
        other_kind
            ? std::make_unique<AwsBackend>(seed, aws::FaultProbabilities{},
                                           testing::SimAws::create(testing::SimFaultOptions{}))
            : std::unique_ptr<Backend>(std::make_unique<FileBackend>(seed, FileFaults{}));
    return std::make_unique<MutantBackend>(
        std::move(inner), [](std::unique_ptr<Storage> s) { return s; },
        [](std::unique_ptr<ops::JournalDestination> d) -> std::unique_ptr<ops::JournalDestination> {
          return std::make_unique<LastSegmentDroppingDestination>(std::move(d));
        });
  };
  const Totals t = run_seeds("file", factory, mutant_seeds(), config, false);
  ASSERT_GT(t.operations.count("copy") ? t.operations.at("copy") : 0, 0u) << "no copy ran";
  ASSERT_FALSE(t.failing.empty()) << "a copy that drops the last segment went unnoticed";
  std::cout << "[model] last-segment-dropping copy: " << t.operations.at("copy")
            << " copies; first caught at seed " << t.failing.front() << ", caught in "
            << t.failing.size() << "/" << t.seeds
            << " seeds; first violation: " << t.first_violation.substr(0, 200) << "\n";
}

// Takes the model's flags off argv; the rest goes to gtest.
void parse_flags(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (arg.substr(0, name.size()) == name) return std::string(arg.substr(name.size()));
      return std::nullopt;
    };
    if (auto v = value("--storage=")) {
      flags.storage = *v;
    } else if (auto v = value("--seed=")) {
      flags.seed = std::stoull(*v);
    } else if (auto v = value("--seeds=")) {
      flags.seeds = std::stoull(*v);
    } else if (auto v = value("--first-seed=")) {
      flags.first_seed = std::stoull(*v);
    } else if (arg == "--without-retention") {
      flags.instance_retention = false;
      flags.operator_prune = false;
    } else if (arg == "--without-instance-retention") {
      flags.instance_retention = false;
    } else if (arg == "--without-prune") {
      flags.operator_prune = false;
    } else if (arg == "--without-copy") {
      flags.copy = false;
    } else if (auto v = value("--jobs=")) {
      flags.jobs = std::max(1, std::stoi(*v));
    } else if (auto v = value("--repeat=")) {
      flags.repeat = std::max(1, std::stoi(*v));
    } else if (arg == "--trace") {
      flags.trace = true;
    } else if (auto v = value("--ops=")) {
      flags.ops = std::stoi(*v);
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  if (flags.storage != "file" && flags.storage != "aws" && flags.storage != "aws-sim" &&
      flags.storage != "all") {
    std::cerr << "--storage must be file, aws, aws-sim or all\n";
    std::exit(2);
  }
}

}  // namespace
}  // namespace prevayler::model

int main(int argc, char** argv) {
  prevayler::model::parse_flags(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
