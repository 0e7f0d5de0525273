// Journal throughput of the file storage: events/s for 1 and 64 producer
// threads, 100-byte events, fsync on, and the mean number of events per
// journal write (group commit). The baseline in the same run is a bare
// loop of write(100 bytes) + fdatasync on the same disk.
//
//   prevayler_journal_bench [--seconds S] [--dir PATH]
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Count {
  std::uint64_t events = 0;
  template <class A>
  void serialize(A& a) {
    a(events);
  }
};

struct Result {
  double events_per_s = 0;
  double events_per_write = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// The encoded event is a 100-byte string (plus cereal's 8-byte length).
constexpr std::size_t event_bytes = 100;

Result run_prevayler(const std::filesystem::path& dir, int producers, double seconds) {
  std::filesystem::remove_all(dir);
  prevayler::Prevayler<Count, std::string>::Options options;
  options.business = [](const Count& c, const std::string&, prevayler::Timestamp) {
    return Count{c.events + 1};
  };
  prevayler::FileStorageOptions storage;
  storage.directory = dir;
  options.storage = prevayler::make_file_storage(storage);
  prevayler::Prevayler<Count, std::string> p(std::move(options));

  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(producers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      const std::string event(event_bytes, static_cast<char>('a' + t % 26));
      while (!stop.load(std::memory_order_relaxed)) {
        const auto before = Clock::now();
        p.handle(event);
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - before).count());
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
  Result r;
  r.events_per_s = static_cast<double>(stats.events_journaled) / elapsed;
  r.events_per_write = static_cast<double>(stats.events_journaled) /
                       static_cast<double>(std::max<std::uint64_t>(1, stats.journal_writes));
  r.p50_us = all.empty() ? 0 : all[all.size() / 2];
  r.p99_us = all.empty() ? 0 : all[all.size() * 99 / 100];
  return r;
}

double run_bare_fdatasync(const std::filesystem::path& dir, double seconds) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "bare.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  const std::string record(event_bytes, 'x');
  std::uint64_t writes = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    ++writes;
  }
  ::close(fd);
  return static_cast<double>(writes) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "prevayler-journal-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  std::printf("file journal, %zu-byte events, fsync on, %.1f s per run, dir %s\n", event_bytes,
              seconds, dir.c_str());
  const double bare = run_bare_fdatasync(dir, seconds);
  std::printf("%-34s %12.0f writes/s\n", "bare write+fdatasync loop", bare);
  for (int producers : {1, 64}) {
    const Result r = run_prevayler(dir, producers, seconds);
    std::printf(
        "prevayler, %2d producer(s): %12.0f events/s  %8.1f events/write  p50 %8.1f us  p99 "
        "%8.1f us  (%.2fx the bare loop)\n",
        producers, r.events_per_s, r.events_per_write, r.p50_us, r.p99_us, r.events_per_s / bare);
  }
  std::filesystem::remove_all(dir);
}
