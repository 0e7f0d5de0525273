// The SQLite baseline of the file journal benchmark: the way a user would
// journal events in SQLite. One connection in serialized mode, WAL,
// synchronous=FULL, one INSERT of a --event-bytes blob per event, each its
// own transaction (autocommit), N threads sharing the connection under a
// mutex. Prints `name value unit` lines:
//
//   sqlite.tN.events_per_s / p50_us / p99_us
//
//   prevayler_sqlite_bench [--seconds S] [--dir PATH] [--threads 1,64]
//       [--event-bytes 100]
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_output.hpp"

namespace {

using bench::percentile;
using bench::print;

using Clock = std::chrono::steady_clock;

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    std::exit(1);
  }
}

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, error);
    std::exit(1);
  }
}

void run(const std::filesystem::path& dir, int threads, std::size_t event_bytes, double seconds) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "journal.db";
  sqlite3* db = nullptr;
  check(
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr),
      db, "open");
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=FULL");
  exec(db, "CREATE TABLE journal (id INTEGER PRIMARY KEY, content BLOB NOT NULL)");
  sqlite3_stmt* insert = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO journal (content) VALUES (?)", -1, &insert, nullptr),
        db, "prepare");
  std::mutex mutex;

  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<std::thread> workers;
  std::atomic<std::uint64_t> events{0};
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string event(event_bytes, static_cast<char>('a' + t % 26));
      while (!stop.load(std::memory_order_relaxed)) {
        const auto before = Clock::now();
        {
          std::lock_guard lock(mutex);
          check(sqlite3_bind_blob(insert, 1, event.data(), static_cast<int>(event.size()),
                                  SQLITE_STATIC),
                db, "bind");
          check(sqlite3_step(insert), db, "insert");
          check(sqlite3_reset(insert), db, "reset");
        }
        events.fetch_add(1, std::memory_order_relaxed);
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - before).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const std::string name = "sqlite.t" + std::to_string(threads) + ".";
  print(name + "events_per_s", static_cast<double>(events.load()) / elapsed, "events/s");
  print(name + "p50_us", percentile(all, 0.50), "us");
  print(name + "p99_us", percentile(all, 0.99), "us");
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "prevayler-sqlite-bench";
  std::vector<int> threads = {1, 64};
  std::size_t event_bytes = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) {
      seconds = std::atof(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--dir")) {
      dir = argv[i + 1];
    } else if (!std::strcmp(argv[i], "--event-bytes")) {
      event_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--threads")) {
      threads.clear();
      std::stringstream in(argv[i + 1]);
      std::string item;
      while (std::getline(in, item, ',')) threads.push_back(std::atoi(item.c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: prevayler_sqlite_bench [--seconds S] [--dir PATH] [--threads 1,64] "
                   "[--event-bytes N]\n");
      return 2;
    }
  }
  std::printf("# sqlite %s, WAL, synchronous=FULL, one transaction per %zu-byte event, dir %s\n",
              sqlite3_libversion(), event_bytes, dir.c_str());
  for (int n : threads) run(dir, n, event_bytes, seconds);
  std::filesystem::remove_all(dir);
}
