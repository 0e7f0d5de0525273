// Prevayler::metrics(), prometheus_text() and Options::progress: what the
// counters and histograms count, that the text parses as the Prometheus
// exposition format, and that progress is reported during recovery and
// snapshots with increasing `done`.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/file_storage.hpp"
#include "prevayler/metrics.hpp"
#include "prevayler/prevayler.hpp"
#include "prevayler/prometheus.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

struct Sum {
  std::int64_t total = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(total);
  }
};

using P = Prevayler<Sum, std::int64_t>;

P::Options options(const TempDir& dir, bool snapshot_on_open = false) {
  P::Options o;
  o.business = [](const Sum& s, const std::int64_t& e, Timestamp) { return Sum{s.total + e}; };
  FileStorageOptions fo;
  fo.directory = dir.path() / "data";
  fo.sync = false;
  o.storage = make_file_storage(fo);
  o.snapshot_on_open = snapshot_on_open;
  return o;
}

std::uint64_t histogram_total(const Histogram& h) {
  std::uint64_t n = 0;
  for (const std::uint64_t b : h.buckets) n += b;
  return n;
}

TEST(Histogram, BucketsAreLogScaleAndClamped) {
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(1), 0u);
  EXPECT_EQ(Histogram::bucket_of(2), 1u);
  EXPECT_EQ(Histogram::bucket_of(3), 2u);
  EXPECT_EQ(Histogram::bucket_of(4), 2u);
  EXPECT_EQ(Histogram::bucket_of(5), 3u);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::bucket_count - 1);
  for (std::size_t i = 0; i + 1 < Histogram::bucket_count; ++i) {
    EXPECT_EQ(Histogram::bucket_of(Histogram::upper_bound(i)), i);
    EXPECT_EQ(Histogram::bucket_of(Histogram::upper_bound(i) + 1), i + 1);
  }
  Histogram h;
  h.record(3);
  h.record(1000);
  EXPECT_EQ(h.count, 2u);
  EXPECT_EQ(h.sum, 1003u);
  EXPECT_EQ(h.buckets[2], 1u);
  EXPECT_EQ(h.buckets[10], 1u);
}

TEST(Metrics, CountEventsWritesSnapshotsAndRecovery) {
  TempDir dir;
  {
    P p(options(dir));
    for (int i = 0; i < 10; ++i) p.handle(1);
    p.snapshot();
    const Metrics m = p.metrics();
    EXPECT_EQ(m.stats.events_journaled, 10u);
    EXPECT_EQ(m.stats.journal_writes, 10u);  // one producer: one write per event
    EXPECT_GT(m.bytes_written, 10u);
    EXPECT_EQ(m.failed_writes, 0u);
    EXPECT_EQ(m.snapshots_written, 1u);
    EXPECT_EQ(m.snapshots_failed, 0u);
    EXPECT_EQ(m.pending_bytes, 0u);
    EXPECT_EQ(m.writes_in_flight, 0u);
    EXPECT_EQ(m.handle_latency_us.count, 10u);
    EXPECT_EQ(histogram_total(m.handle_latency_us), 10u);
    EXPECT_EQ(m.journal_write_latency_us.count, 10u);
    EXPECT_EQ(m.events_per_write.count, 10u);
    EXPECT_EQ(m.events_per_write.sum, 10u);
    EXPECT_EQ(m.events_per_write.buckets[0], 10u);
    EXPECT_EQ(m.snapshot_duration_us.count, 1u);
    EXPECT_EQ(m.recovery_duration_us.count, 1u);
    // stats() is the same counter set.
    const Stats s = p.stats();
    EXPECT_EQ(s.events_journaled, m.stats.events_journaled);
    EXPECT_EQ(s.journal_writes, m.stats.journal_writes);
    // The file storage does not retry.
    EXPECT_TRUE(m.storage.retries_by_reason.empty());
    EXPECT_TRUE(m.storage.retries_exhausted_by_reason.empty());
    EXPECT_TRUE(m.storage.backoff_ms_by_service.empty());
    EXPECT_EQ(m.storage.throttled, 0u);
    p.handle(2);
  }
  P again(options(dir));
  const Metrics m = again.metrics();
  EXPECT_EQ(m.stats.events_replayed, 1u);
  EXPECT_EQ(m.stats.events_journaled, 0u);
  EXPECT_EQ(m.recovery_duration_us.count, 1u);
  EXPECT_EQ(again.state()->total, 12);
}

// The exposition format, parsed line by line: every sample belongs to a
// family announced by HELP and TYPE lines, histogram buckets are
// cumulative with increasing le ending at +Inf == _count, and _sum and
// _count follow.
struct Family {
  std::string type;
  bool help = false;
  std::vector<std::pair<std::string, std::string>> samples;  // name{labels}, value
};

std::map<std::string, Family> parse_exposition(const std::string& text) {
  std::map<std::string, Family> families;
  std::istringstream in(text);
  std::string line;
  std::string current;
  while (std::getline(in, line)) {
    if (line.empty()) {
      ADD_FAILURE() << "empty line in the exposition";
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      current = rest.substr(0, rest.find(' '));
      EXPECT_FALSE(families[current].help) << "second HELP for " << current;
      EXPECT_GT(rest.size(), current.size() + 1) << "HELP without text: " << line;
      families[current].help = true;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      EXPECT_EQ(name, current) << "TYPE without its HELP: " << line;
      families[name].type = rest.substr(rest.find(' ') + 1);
      continue;
    }
    const std::size_t space = line.rfind(' ');
    if (line[0] == '#' || space == std::string::npos) {
      ADD_FAILURE() << "neither HELP, TYPE nor a sample: " << line;
      continue;
    }
    const std::string series = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    const std::string name = series.substr(0, series.find('{'));
    EXPECT_EQ(name.rfind(current, 0), 0u) << "sample outside its family: " << line;
    std::size_t used = 0;
    (void)std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << "not a number: " << line;
    families[current].samples.emplace_back(series, value);
  }
  return families;
}

TEST(Prometheus, TextParsesWithTypesHelpAndCumulativeBuckets) {
  TempDir dir;
  P p(options(dir));
  for (int i = 0; i < 5; ++i) p.handle(1);
  p.snapshot();
  Metrics m = p.metrics();
  m.storage.retries_by_reason = {{"throttling", 3, ""}, {"time\"out", 1, ""}};
  m.storage.throttled = 3;
  const auto families = parse_exposition(prometheus_text(m, "bank"));
  const std::map<std::string, std::string> expected = {
      {"bank_events_total", "counter"},
      {"bank_journal_writes_total", "counter"},
      {"bank_journal_bytes_written_total", "counter"},
      {"bank_journal_writes_failed_total", "counter"},
      {"bank_events_unchanged_total", "counter"},
      {"bank_snapshots_total", "counter"},
      {"bank_snapshots_failed_total", "counter"},
      {"bank_automatic_snapshots_total", "counter"},
      {"bank_automatic_snapshots_failed_total", "counter"},
      {"bank_storage_retries_total", "counter"},
      {"bank_storage_retries_exhausted_total", "counter"},
      {"bank_storage_retry_backoff_seconds_total", "counter"},
      {"bank_storage_throttled_total", "counter"},
      {"bank_recovery_events_replayed", "gauge"},
      {"bank_recovery_snapshot_id", "gauge"},
      {"bank_pending_bytes", "gauge"},
      {"bank_writes_in_flight", "gauge"},
      {"bank_events_since_snapshot", "gauge"},
      {"bank_journal_bytes_since_snapshot", "gauge"},
      {"bank_writes_in_flight_allowed", "gauge"},
      {"bank_handle_latency_seconds", "histogram"},
      {"bank_journal_write_latency_seconds", "histogram"},
      {"bank_events_per_write", "histogram"},
      {"bank_snapshot_duration_seconds", "histogram"},
      {"bank_recovery_duration_seconds", "histogram"},
  };
  ASSERT_EQ(families.size(), expected.size());
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(families.count(name)) << name;
    const Family& f = families.at(name);
    EXPECT_TRUE(f.help) << name;
    EXPECT_EQ(f.type, type) << name;
  }
  EXPECT_EQ(families.at("bank_events_total").samples,
            (std::vector<std::pair<std::string, std::string>>{{"bank_events_total", "5"}}));
  const auto& retries = families.at("bank_storage_retries_total").samples;
  ASSERT_EQ(retries.size(), 2u);
  EXPECT_EQ(retries[0].first, "bank_storage_retries_total{reason=\"throttling\"}");
  EXPECT_EQ(retries[1].first, "bank_storage_retries_total{reason=\"time\\\"out\"}");

  for (const auto& [name, f] : families) {
    if (f.type != "histogram") continue;
    const auto& s = f.samples;
    ASSERT_EQ(s.size(), Histogram::bucket_count + 2) << name;
    double previous_le = -1;
    double previous_count = 0;
    for (std::size_t i = 0; i < Histogram::bucket_count; ++i) {
      const std::string prefix = name + "_bucket{le=\"";
      ASSERT_EQ(s[i].first.rfind(prefix, 0), 0u) << s[i].first;
      const std::string le =
          s[i].first.substr(prefix.size(), s[i].first.size() - prefix.size() - 2);
      if (i + 1 == Histogram::bucket_count) {
        EXPECT_EQ(le, "+Inf");
      } else {
        const double bound = std::stod(le);
        EXPECT_GT(bound, previous_le) << name;
        previous_le = bound;
      }
      const double count = std::stod(s[i].second);
      EXPECT_GE(count, previous_count) << name << " buckets are not cumulative";
      previous_count = count;
    }
    EXPECT_EQ(s[Histogram::bucket_count].first, name + "_sum");
    EXPECT_EQ(s[Histogram::bucket_count + 1].first, name + "_count");
    EXPECT_EQ(std::stod(s[Histogram::bucket_count + 1].second), previous_count) << name;
  }
  EXPECT_EQ(families.at("bank_handle_latency_seconds").samples.back().second, "5");
  EXPECT_EQ(families.at("bank_events_per_write").samples.front(),
            (std::pair<std::string, std::string>{"bank_events_per_write_bucket{le=\"1\"}", "5"}));
  EXPECT_THROW(prometheus_text(m, "bad prefix"), ConfigError);
  EXPECT_THROW(prometheus_text(m, "9lives"), ConfigError);
}

// The AWS storage's counters carry a service label beside the reason, and
// its backoff is rendered in seconds.
TEST(Prometheus, StorageCountersByServiceAndReason) {
  Metrics m;
  m.storage.retries_by_reason = {{"throttled", 4, "dynamodb"}, {"transport", 2, "s3"}};
  m.storage.retries_exhausted_by_reason = {{"throttled", 1, "dynamodb"}, {"server_error", 0, "s3"}};
  m.storage.throttled = 5;
  m.storage.backoff_ms_by_service = {{"dynamodb", 1'234}, {"s3", 0}, {"", 7}};
  const auto families = parse_exposition(prometheus_text(m, "bank"));
  using Samples = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(families.at("bank_storage_retries_total").samples,
            (Samples{{"bank_storage_retries_total{service=\"dynamodb\",reason=\"throttled\"}", "4"},
                     {"bank_storage_retries_total{service=\"s3\",reason=\"transport\"}", "2"}}));
  EXPECT_EQ(
      families.at("bank_storage_retries_exhausted_total").samples,
      (Samples{
          {"bank_storage_retries_exhausted_total{service=\"dynamodb\",reason=\"throttled\"}", "1"},
          {"bank_storage_retries_exhausted_total{service=\"s3\",reason=\"server_error\"}", "0"}}));
  EXPECT_EQ(families.at("bank_storage_retry_backoff_seconds_total").samples,
            (Samples{{"bank_storage_retry_backoff_seconds_total{service=\"dynamodb\"}", "1.234"},
                     {"bank_storage_retry_backoff_seconds_total{service=\"s3\"}", "0"},
                     {"bank_storage_retry_backoff_seconds_total", "0.007"}}));
  EXPECT_EQ(families.at("bank_storage_throttled_total").samples,
            (Samples{{"bank_storage_throttled_total", "5"}}));
  EXPECT_EQ(families.at("bank_storage_retries_exhausted_total").type, "counter");
  EXPECT_EQ(families.at("bank_storage_retry_backoff_seconds_total").type, "counter");
}

std::vector<Progress> progress_of(const std::vector<Progress>& all, Progress::What what) {
  std::vector<Progress> out;
  for (const Progress& p : all) {
    if (p.what == what) out.push_back(p);
  }
  return out;
}

void expect_increasing(const std::vector<Progress>& calls, std::uint64_t final_done) {
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.front().done, 0u);
  for (std::size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GT(calls[i].done, calls[i - 1].done) << "call " << i;
    EXPECT_EQ(calls[i].finished, i + 1 == calls.size()) << "call " << i;
  }
  if (final_done != 0) {
    EXPECT_EQ(calls.back().done, final_done);
  }
}

TEST(Progress, RecoveryReportsIncreasingDoneAtABoundedRate) {
  TempDir dir;
  constexpr int events = 6000;
  {
    P p(options(dir));
    std::future<std::shared_ptr<const Sum>> last;
    for (int i = 0; i < events; ++i) last = p.handle_async(1);
    last.get();
  }
  P::Options o = options(dir);
  // Replay slowly (>= 0.1 ms per event, >= 0.6 s in all) so the replay
  // spans several reporting intervals.
  o.business = [](const Sum& s, const std::int64_t& e, Timestamp) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    return Sum{s.total + e};
  };
  std::vector<Progress> calls;
  std::vector<std::chrono::steady_clock::time_point> when;
  o.progress = [&](const Progress& p) {
    calls.push_back(p);
    when.push_back(std::chrono::steady_clock::now());
  };
  P p(std::move(o));
  EXPECT_EQ(p.state()->total, events);
  const auto recovery = progress_of(calls, Progress::What::recovery);
  expect_increasing(recovery, events);
  EXPECT_GE(recovery.size(), 3u) << "no report while replaying";
  EXPECT_LT(recovery.size(), 50u) << "reported far more often than every progress_interval_ms";
  EXPECT_FALSE(recovery.back().total.has_value());
}

TEST(Progress, SnapshotWriteAndReadReportBytes) {
  TempDir dir;
  std::vector<Progress> calls;
  auto with_progress = [&] {
    P::Options o = options(dir);
    o.progress = [&](const Progress& p) { calls.push_back(p); };
    return o;
  };
  {
    P p(with_progress());
    p.handle(7);
    p.snapshot();
  }
  const auto writes = progress_of(calls, Progress::What::snapshot_write);
  expect_increasing(writes, 0);
  EXPECT_GT(writes.back().done, 0u);
  calls.clear();
  P p(with_progress());
  EXPECT_EQ(p.state()->total, 7);
  const auto reads = progress_of(calls, Progress::What::snapshot_read);
  expect_increasing(reads, writes.back().done);
}

}  // namespace
}  // namespace prevayler::testing
