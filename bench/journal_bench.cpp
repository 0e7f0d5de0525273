// The file storage, fsync on. Prints one figure per line, `name value unit`,
// for bench/run_all.sh to collect:
//
//   prevayler.pN.events_per_s / events_per_write / p50_us / p99_us
//       N producer threads calling handle() for --seconds, events of
//       --event-bytes encoded bytes (a string of that size minus cereal's
//       8-byte length);
//   prevayler.pN.journal_bytes_per_event
//       the journal files' size over the events written (records are
//       zstd-compressed from --compress-over bytes of entries, 0 = never,
//       at --journal-level; --event-content: `fill` one repeated byte, the
//       default; `text` words of a small vocabulary, about 6:1 at level 1;
//       `random` incompressible bytes);
//   prevayler.pN.reads_per_s
//       with --readers R: state() calls per second by R reader threads while
//       the N producers run (--read-with read: read() calls instead);
//   bare.writes_per_s   (--bare) the baseline: a loop of write(--event-bytes
//       bytes) + fdatasync on the same disk, each write growing the file
//       (every fdatasync also flushes the file's size);
//   preallocated.writes_per_s   (--bare) the disk's own limit: the same loop
//       into a file whose space was zero-filled and synced first (no
//       metadata to flush), as the file storage preallocates its segments;
//   fallocated.writes_per_s   (--bare) the same into a file preallocated
//       with fallocate() (extents "unwritten" until written: on ext4 and XFS
//       their conversion still costs a metadata commit per fdatasync);
//   replay.events / replay.seconds / replay.events_per_s / replay.journal_bytes
//       (--replay-events E) E events written by 64 producers, then the time
//       to open the directory again (recovery), without snapshot_on_open;
//   alternate.rK.preallocated.writes_per_s / alternate.rK.prevayler.p1.*
//       (--alternate N) N rounds, K = 1..N, each the preallocated loop and
//       then 1 producer, back to back: this disk's sync rate drifts by 2x
//       over minutes, so only neighbours compare; alternate.ratio_median
//       is the median of the rounds' p1 / loop ratios;
//   rounds.rK.prevayler.pN.* / rounds.ratio_median
//       (--rounds N with --producers A,B) one warm-up run of A producers
//       (rounds.warmup.*, not counted), then N rounds of A then B
//       producers, the order swapped every round: the first run of a
//       process writes into page-cache memory the VM has not backed yet
//       (docs/benchmarks.md, "The first run's fresh pages"), and the disk
//       drifts, so a fixed order favours whichever runs second;
//       rounds.ratio_median is the median of the rounds' B / A ratios;
//   replay_policy.* (with --replay-snapshot-every N as well) the same E
//       events written by an instance with snapshot_every_events = N and
//       keep_snapshots = 2 (a long-running writer with an automatic
//       snapshot policy), then the same open; replay_policy.snapshots is
//       how many automatic snapshots it wrote.
//
//   prevayler_journal_bench [--seconds S] [--dir PATH] [--producers 1,64]
//       [--event-bytes 100] [--readers R] [--read-with state|read] [--bare]
//       [--no-prevayler] [--replay-events E] [--replay-snapshot-every N]
//       [--event-content fill|text|random] [--alternate N] [--rounds N]
//       [--compress-over BYTES] [--journal-level L] [--encrypt]
//       [--direct-write-bytes-min BYTES]
//
//   --direct-write-bytes-min: FileStorageOptions::direct_write_bytes_min,
//   records of that many bytes or more written with O_DIRECT (0 = never; the
//   default is the library's, 1 MiB), to compare the two paths in one run.
//   --encrypt: records (and the replay's snapshots) sealed with AES-256-GCM
//   under one fixed key (docs/encryption.md), to measure encryption's cost.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"

#include "bench_counter.hpp"
#include "bench_encryption.hpp"
#include "bench_events.hpp"
#include "bench_output.hpp"

namespace {

using namespace bench;  // Count, P, print, ...

// Producer t fills its events with letter t of the alphabet.
constexpr int alphabet_letters = 26;

// Unset: the library's defaults.
std::optional<std::size_t> compress_over;
std::optional<int> journal_level;
std::optional<std::uint64_t> direct_write_bytes_min;
bool encrypt = false;

prevayler::EncryptionOptions bench_encryption() {
  return encrypt ? bench::fixed_key_encryption() : prevayler::EncryptionOptions{};
}

std::uintmax_t journal_bytes(const std::filesystem::path& dir) {
  std::uintmax_t total = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() == ".log") total += item.file_size();
  }
  return total;
}

P::Options options(const std::filesystem::path& dir) {
  P::Options o;
  o.business = bench::count_event;
  prevayler::FileStorageOptions storage;
  storage.directory = dir;
  if (compress_over) storage.common.compress_journal_records_over = *compress_over;
  if (journal_level) storage.common.journal_compression_level = *journal_level;
  if (direct_write_bytes_min) storage.direct_write_bytes_min = *direct_write_bytes_min;
  storage.common.encryption = bench_encryption();
  o.storage = prevayler::make_file_storage(storage);
  return o;
}

// --read-with: state() (a shared_ptr per call) or read() (per-thread cache).
bool read_with_state = true;

// Returns the events per second; prints them under `prefix`.
double run_prevayler(const std::filesystem::path& dir, int producers, int readers,
                     std::size_t event_bytes, double seconds, const std::string& prefix = "") {
  std::filesystem::remove_all(dir);
  std::optional<P> running(std::in_place, options(dir));
  P& p = *running;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(producers);
  std::vector<std::uint64_t> reads(readers);
  std::vector<std::thread> threads;
  const auto before_stats = p.stats();
  const auto start = Clock::now();
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      EventMaker maker(event_bytes, static_cast<char>('a' + t % alphabet_letters));
      while (!stop.load(std::memory_order_relaxed)) {
        const std::string& event = maker.next();
        const auto before = Clock::now();
        p.handle(event);
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - before).count());
      }
    });
  }
  std::atomic<std::uint64_t> sink{0};
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::uint64_t n = 0;
      std::uint64_t seen = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (read_with_state) {
          for (int i = 0; i < 64; ++i) seen += p.state()->events;
        } else {
          for (int i = 0; i < 64; ++i) seen += p.read([](const auto& s) { return s.events; });
        }
        n += 64;
      }
      reads[r] = n;
      sink += seen;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const std::vector<double> all = bench::sorted_latencies(latencies);
  const std::string name = prefix + "prevayler.p" + std::to_string(producers) + ".";
  const std::uint64_t events = bench::print_throughput(name, before_stats, p.stats(), elapsed);
  print(name + "p50_us", percentile(all, 0.50), "us");
  print(name + "p99_us", percentile(all, 0.99), "us");
  // Closed: the segment's unused preallocated space is cut off.
  running.reset();
  print(name + "journal_bytes_per_event",
        static_cast<double>(journal_bytes(dir)) /
            static_cast<double>(std::max<std::uint64_t>(1, events)),
        "bytes");
  if (readers > 0) {
    std::uint64_t total = 0;
    for (auto n : reads) total += n;
    print(name + "reads_per_s", static_cast<double>(total) / elapsed, "reads/s");
    print(name + "readers", readers, "threads");
  }
  return static_cast<double>(events) / elapsed;
}

// How the file of a raw fdatasync loop gets its space.
enum class LoopSpace { appended, zero_filled, fallocated };

// The preallocated loops' file: far more than a run writes (the loop wraps
// around at its end, still into written space).
constexpr std::size_t loop_preallocation_bytes = std::size_t{64} << 20;

// Returns the writes per second; prints them under `prefix`.
double run_raw_fdatasync_loop(const std::filesystem::path& dir, std::size_t event_bytes,
                              double seconds, LoopSpace space, const std::string& prefix = "") {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "bare.log";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  if (space == LoopSpace::zero_filled) {
    const std::string zeros(std::size_t{1} << 20, '\0');
    for (std::size_t at = 0; at < loop_preallocation_bytes; at += zeros.size()) {
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) !=
          static_cast<ssize_t>(zeros.size())) {
        std::perror("pwrite");
        std::exit(1);
      }
    }
  } else if (space == LoopSpace::fallocated &&
             ::posix_fallocate(fd, 0, static_cast<off_t>(loop_preallocation_bytes)) != 0) {
    std::perror("posix_fallocate");
    std::exit(1);
  }
  if (::fsync(fd) != 0) {
    std::perror("fsync");
    std::exit(1);
  }
  const std::string record(event_bytes, 'x');
  std::uint64_t writes = 0;
  std::size_t offset = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (space != LoopSpace::appended && offset + record.size() > loop_preallocation_bytes) {
      offset = 0;
    }
    if (::pwrite(fd, record.data(), record.size(), static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("pwrite/fdatasync");
      std::exit(1);
    }
    offset += record.size();
    ++writes;
  }
  ::close(fd);
  const char* name = space == LoopSpace::appended      ? "bare.writes_per_s"
                     : space == LoopSpace::zero_filled ? "preallocated.writes_per_s"
                                                       : "fallocated.writes_per_s";
  const double rate =
      static_cast<double>(writes) / std::chrono::duration<double>(Clock::now() - start).count();
  print(prefix + name, rate, "writes/s");
  return rate;
}

// --alternate: rounds of the preallocated loop then 1 producer.
void run_alternate(const std::filesystem::path& dir, std::size_t event_bytes, double seconds,
                   int rounds) {
  std::vector<double> ratios;
  for (int round = 1; round <= rounds; ++round) {
    const std::string prefix = "alternate.r" + std::to_string(round) + ".";
    const double loop =
        run_raw_fdatasync_loop(dir, event_bytes, seconds, LoopSpace::zero_filled, prefix);
    const double p1 = run_prevayler(dir, 1, 0, event_bytes, seconds, prefix);
    ratios.push_back(p1 / loop);
  }
  std::sort(ratios.begin(), ratios.end());
  print("alternate.rounds", static_cast<double>(rounds), "rounds");
  print("alternate.ratio_median", ratios[ratios.size() / 2], "x");
}

// --rounds: a warm-up run, then `rounds` rounds of the two producer counts,
// the order swapped every round.
void run_rounds(const std::filesystem::path& dir, int first, int second, int readers,
                std::size_t event_bytes, double seconds, int rounds) {
  run_prevayler(dir, first, readers, event_bytes, seconds, "rounds.warmup.");
  std::vector<double> ratios;
  for (int round = 1; round <= rounds; ++round) {
    const std::string prefix = "rounds.r" + std::to_string(round) + ".";
    // Odd rounds run `first` first, even rounds `second` first.
    double rate_first = 0;
    double rate_second = 0;
    if (round % 2 == 1) {
      rate_first = run_prevayler(dir, first, readers, event_bytes, seconds, prefix);
      rate_second = run_prevayler(dir, second, readers, event_bytes, seconds, prefix);
    } else {
      rate_second = run_prevayler(dir, second, readers, event_bytes, seconds, prefix);
      rate_first = run_prevayler(dir, first, readers, event_bytes, seconds, prefix);
    }
    ratios.push_back(rate_second / std::max(rate_first, 1e-9));
  }
  std::sort(ratios.begin(), ratios.end());
  print("rounds.rounds", static_cast<double>(rounds), "rounds");
  print("rounds.ratio_median", ratios[ratios.size() / 2], "x");
}

// snapshot_every_events: 0 writes without a policy (one segment).
void run_replay(const std::filesystem::path& dir, std::uint64_t events, std::size_t event_bytes,
                std::uint64_t snapshot_every_events) {
  std::filesystem::remove_all(dir);
  const std::string name = snapshot_every_events ? "replay_policy." : "replay.";
  {
    P::Options o = options(dir);
    if (snapshot_every_events) {
      prevayler::FileStorageOptions storage;
      storage.directory = dir;
      storage.common.keep_snapshots = 2;
      if (direct_write_bytes_min) storage.direct_write_bytes_min = *direct_write_bytes_min;
      storage.common.encryption = bench_encryption();
      o.storage = prevayler::make_file_storage(storage);
      o.snapshot_every_events = snapshot_every_events;
    }
    P p(std::move(o));
    bench::write_events(p, events, [&](int t) {
      return EventMaker(event_bytes, static_cast<char>('a' + t % alphabet_letters));
    });
    p.close();
    if (snapshot_every_events) {
      print(name + "snapshots", static_cast<double>(p.metrics().automatic_snapshots_written),
            "snapshots");
    }
  }
  print(name + "journal_bytes", static_cast<double>(journal_bytes(dir)), "bytes");
  bench::time_replay(name, options(dir), [] {});
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "prevayler-journal-bench";
  std::vector<int> producers = {1, 64};
  std::size_t event_bytes = 100;
  int readers = 0;
  bool bare = false;
  bool prevayler_runs = true;
  int alternate_rounds = 0;
  int producer_rounds = 0;
  std::uint64_t replay_events = 0;
  std::uint64_t replay_snapshot_every = 0;
  for (int i = 1; i < argc; ++i) {
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (!std::strcmp(argv[i], "--bare")) {
      bare = true;
    } else if (!std::strcmp(argv[i], "--alternate")) {
      alternate_rounds = std::max(0, std::atoi(value)), ++i;
    } else if (!std::strcmp(argv[i], "--rounds")) {
      producer_rounds = std::max(0, std::atoi(value)), ++i;
    } else if (!std::strcmp(argv[i], "--no-prevayler")) {
      prevayler_runs = false;
    } else if (!std::strcmp(argv[i], "--seconds")) {
      seconds = std::atof(value), ++i;
    } else if (!std::strcmp(argv[i], "--dir")) {
      dir = value, ++i;
    } else if (!std::strcmp(argv[i], "--producers")) {
      producers = parse_list(value), ++i;
    } else if (!std::strcmp(argv[i], "--event-bytes")) {
      event_bytes = std::strtoull(value, nullptr, 10), ++i;
    } else if (!std::strcmp(argv[i], "--read-with")) {
      read_with_state = std::strcmp(value, "read") != 0, ++i;
    } else if (!std::strcmp(argv[i], "--readers")) {
      readers = std::atoi(value), ++i;
    } else if (!std::strcmp(argv[i], "--replay-events")) {
      replay_events = std::strtoull(value, nullptr, 10), ++i;
    } else if (!std::strcmp(argv[i], "--replay-snapshot-every")) {
      replay_snapshot_every = std::strtoull(value, nullptr, 10), ++i;
    } else if (!std::strcmp(argv[i], "--event-content") &&
               parse_event_content(value, event_content)) {
      ++i;
    } else if (!std::strcmp(argv[i], "--compress-over")) {
      compress_over = std::strtoull(value, nullptr, 10), ++i;
    } else if (!std::strcmp(argv[i], "--journal-level")) {
      journal_level = std::atoi(value), ++i;
    } else if (!std::strcmp(argv[i], "--encrypt")) {
      encrypt = true;
    } else if (!std::strcmp(argv[i], "--direct-write-bytes-min")) {
      direct_write_bytes_min = std::strtoull(value, nullptr, 10), ++i;
    } else {
      std::fprintf(stderr,
                   "usage: prevayler_journal_bench [--seconds S] [--dir PATH] [--producers 1,64] "
                   "[--event-bytes N] [--readers R] [--read-with state|read] [--bare] "
                   "[--no-prevayler] "
                   "[--replay-events E] [--replay-snapshot-every N] "
                   "[--event-content fill|text|random] [--alternate N] [--rounds N] "
                   "[--compress-over BYTES] [--journal-level L] [--encrypt] "
                   "[--direct-write-bytes-min BYTES]\n");
      return 2;
    }
  }
  if (producer_rounds > 0 && producers.size() != 2) {
    std::fprintf(stderr, "prevayler_journal_bench: --rounds needs exactly two producer counts\n");
    return 2;
  }
  std::printf(
      "# file journal, %zu-byte %s events, fsync on, %.1f s per run, dir %s, records compressed "
      "from %s bytes%s, direct writes from %s bytes (0: none)\n",
      event_bytes, event_content_name(event_content), seconds, dir.c_str(),
      compress_over ? std::to_string(*compress_over).c_str() : "the default",
      encrypt ? ", encrypted (AES-256-GCM)" : "",
      direct_write_bytes_min ? std::to_string(*direct_write_bytes_min).c_str() : "the default");
  make_event_source(event_bytes);
  if (bare) {
    for (LoopSpace space : {LoopSpace::appended, LoopSpace::zero_filled, LoopSpace::fallocated}) {
      run_raw_fdatasync_loop(dir, event_bytes, seconds, space);
    }
  }
  if (prevayler_runs && producer_rounds > 0) {
    run_rounds(dir, producers[0], producers[1], readers, event_bytes, seconds, producer_rounds);
  } else if (prevayler_runs) {
    for (int n : producers) run_prevayler(dir, n, readers, event_bytes, seconds);
  }
  if (alternate_rounds > 0) run_alternate(dir, event_bytes, seconds, alternate_rounds);
  if (replay_events > 0) {
    run_replay(dir, replay_events, event_bytes, 0);
    if (replay_snapshot_every > 0) {
      run_replay(dir, replay_events, event_bytes, replay_snapshot_every);
    }
  }
  std::filesystem::remove_all(dir);
}
