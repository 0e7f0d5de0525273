// Snapshot save and load speed, compression ratio and memory, on the file
// storage and (with --endpoint) the DynamoDB+S3 storage against moto_server
// or any S3-compatible endpoint.
//
//   prevayler_snapshot_bench [--mb 1024] [--dir DIR] [--levels off,1,3]
//                            [--endpoint URL] [--aws-mb MB] [--parallel 4] [--part-mb 8]
//                            [--encrypt off|on]
//
// --encrypt on: the snapshots sealed with AES-256-GCM under one fixed key
// (docs/encryption.md); the labels end in `.enc`.
//
// The state is a vector of ~1 KB strings (account-like records with some
// random text), serialised with the default cereal codec, as the engine does.
// Each figure is printed as `name value unit`, then a human summary.
// Peak RSS: VmHWM of /proc/self/status, reset before each phase through
// /proc/self/clear_refs; ru_maxrss (never reset) is printed too.
#include <sys/resource.h>
#include <unistd.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "aws/s3.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/codec.hpp"
#include "prevayler/file_storage.hpp"

#include "bench_aws.hpp"
#include "bench_encryption.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchState {
  std::vector<std::string> records;
  template <class A>
  void serialize(A& a) {
    a(records);
  }
};

constexpr std::size_t record_bytes = 1000;

BenchState make_state(std::size_t total_bytes) {
  static const char* words[] = {"deposit", "withdrawal", "transfer", "fee",     "interest",
                                "refund",  "salary",     "rent",     "grocery", "EUR"};
  std::mt19937_64 rng(42);
  BenchState s;
  s.records.reserve(total_bytes / record_bytes + 1);
  char head[128];
  for (std::size_t bytes = 0, i = 0; bytes < total_bytes; ++i) {
    std::string r;
    r.reserve(record_bytes);
    std::snprintf(head, sizeof head, "account=%08zu owner=customer-%zu balance=%lld memo=", i,
                  static_cast<std::size_t>(rng() % 100000),
                  static_cast<long long>(rng() % 10000000));
    r += head;
    while (r.size() < record_bytes) {
      if (rng() % 4 == 0) {
        r += std::to_string(rng() % 1000000);  // numbers: the less compressible part
      } else {
        r += words[rng() % 10];
      }
      r += ' ';
    }
    r.resize(record_bytes);
    r.shrink_to_fit();  // the state's memory is its bytes, not doubled capacities
    bytes += r.size();
    s.records.push_back(std::move(r));
  }
  return s;
}

// Counts what the codec writes, to know the serialised size.
class CountingBuffer : public std::streambuf {
 public:
  std::uint64_t bytes = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<std::uint64_t>(n);
    return n;
  }
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) ++bytes;
    return traits_type::not_eof(ch);
  }
};

std::uint64_t status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0)
      return std::strtoull(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return 0;
}
double rss_mb() { return static_cast<double>(status_kb("VmRSS:")) / 1024.0; }
double hwm_mb() { return static_cast<double>(status_kb("VmHWM:")) / 1024.0; }
double maxrss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
// Resets VmHWM to the current RSS; false when the kernel refuses.
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct NullHandler : prevayler::RecoveryHandler {
  void snapshot(std::uint64_t, std::istream&) override {}
  void restart() override {}
  void entry(const prevayler::JournalPosition&, std::string_view) override {}
};

struct DecodingHandler : prevayler::RecoveryHandler {
  prevayler::Codec<BenchState> codec = prevayler::cereal_codec<BenchState>();
  std::size_t records = 0;
  void snapshot(std::uint64_t, std::istream& in) override {
    BenchState s = codec.decode(in);
    records = s.records.size();
  }
  void restart() override { records = 0; }
  void entry(const prevayler::JournalPosition&, std::string_view) override {}
};

void line(const std::string& name, double value, const char* unit) {
  std::printf("%s %.2f %s\n", name.c_str(), value, unit);
}

struct Result {
  std::string label;
  double save_mb_s = 0, load_mb_s = 0, ratio = 0, save_added_pct = 0, load_added_pct = 0;
  double load_peak_vs_state = 0;
};

// One save and one load; `open` makes a fresh storage over the same place.
template <class Open, class StoredBytes>
Result run(const std::string& label, const BenchState& state, std::uint64_t state_bytes,
           double state_rss_mb, Open open, StoredBytes stored_bytes) {
  const auto codec = prevayler::cereal_codec<BenchState>();
  const double mb = static_cast<double>(state_bytes) / 1e6;
  Result r;
  r.label = label;
  {
    auto storage = open();
    NullHandler nothing;
    storage->recover(nothing);
    reset_peak();
    const double before = rss_mb();
    const auto t = Clock::now();
    auto writer = storage->begin_snapshot();
    codec.encode(state, writer->stream());
    writer->commit();
    const double s = seconds_since(t);
    const double peak = hwm_mb();
    storage->close();
    r.save_mb_s = mb / s;
    r.save_added_pct = 100.0 * (peak - before) / before;
    r.ratio = static_cast<double>(state_bytes) / static_cast<double>(stored_bytes());
    line(label + ".save_seconds", s, "s");
    line(label + ".save_mb_s", r.save_mb_s, "MB/s");
    line(label + ".stored_bytes", static_cast<double>(stored_bytes()), "B");
    line(label + ".ratio", r.ratio, "x");
    line(label + ".save_rss_before_mb", before, "MB");
    line(label + ".save_rss_peak_mb", peak, "MB");
    line(label + ".save_peak_added_pct", r.save_added_pct, "%");
  }
  {
    auto storage = open();
    reset_peak();
    const double before = rss_mb();
    DecodingHandler decoder;
    const auto t = Clock::now();
    storage->recover(decoder);
    const double s = seconds_since(t);
    const double peak = hwm_mb();
    storage->close();
    if (decoder.records != state.records.size()) {
      std::fprintf(stderr, "%s: recovered %zu records, expected %zu\n", label.c_str(),
                   decoder.records, state.records.size());
      std::exit(1);
    }
    r.load_mb_s = mb / s;
    // The decoded state itself is a second copy of the state: what matters
    // is what comes on top of it.
    r.load_added_pct = 100.0 * (peak - before) / before;
    // What loading costs against the memory of the state it produces (the
    // state built for the save, still alive, is in `before`): 1.0 means no
    // copy beyond the decoded state itself.
    r.load_peak_vs_state = (peak - before) / state_rss_mb;
    line(label + ".load_seconds", s, "s");
    line(label + ".load_mb_s", r.load_mb_s, "MB/s");
    line(label + ".load_rss_peak_mb", peak, "MB");
    line(label + ".load_peak_added_pct", r.load_added_pct, "%");
    line(label + ".load_peak_vs_state_x", r.load_peak_vs_state, "x");
  }
  return r;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mb = 1024;
  std::size_t aws_mb = 0;
  std::string dir = "/tmp/prevayler-snapshot-bench-" + std::to_string(::getpid());
  std::string levels = "off,1,3";
  std::string endpoint;
  std::uint32_t parallel = 4;
  std::size_t part_mb = 8;
  bool encrypt = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::string v = argv[i + 1];
    if (a == "--mb") {
      mb = std::stoul(v);
    } else if (a == "--aws-mb") {
      aws_mb = std::stoul(v);
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--levels") {
      levels = v;
    } else if (a == "--endpoint") {
      endpoint = v;
    } else if (a == "--parallel") {
      parallel = static_cast<std::uint32_t>(std::stoul(v));
    } else if (a == "--part-mb") {
      part_mb = std::stoul(v);
    } else if (a == "--encrypt" && (v == "on" || v == "off")) {
      encrypt = v == "on";
    } else {
      std::fprintf(stderr,
                   "usage: %s [--mb 1024] [--dir DIR] [--levels off,1,3] [--endpoint URL] "
                   "[--aws-mb MB] [--parallel 4] [--part-mb 8] [--encrypt off|on]\n",
                   argv[0]);
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "%s: every option takes a value\n", argv[0]);
    return 2;
  }
  if (aws_mb == 0) aws_mb = mb;
  const prevayler::EncryptionOptions encryption =
      encrypt ? bench::fixed_key_encryption() : prevayler::EncryptionOptions{};
  const bool can_reset = reset_peak();
  if (!can_reset) std::fprintf(stderr, "note: cannot reset VmHWM; peaks are process-wide\n");

  std::vector<Result> results;
  auto bench = [&](std::size_t state_mb, bool aws) {
    const double rss_without_state = rss_mb();
    const auto t = Clock::now();
    BenchState state = make_state(state_mb << 20);
    CountingBuffer counter;
    {
      std::ostream out(&counter);
      prevayler::cereal_codec<BenchState>().encode(state, out);
    }
    const std::string where = aws ? "aws" : "file";
    line(where + ".state_bytes", static_cast<double>(counter.bytes), "B");
    line(where + ".state_build_seconds", seconds_since(t), "s");
    line(where + ".rss_with_state_mb", rss_mb(), "MB");
    const double state_rss_mb = rss_mb() - rss_without_state;
    line(where + ".state_rss_mb", state_rss_mb, "MB");
    int run_index = 0;
    for (const std::string& level : split(levels)) {
      const bool compress = level != "off";
      const int zstd_level = compress ? std::stoi(level) : 0;
      std::string label = where + "." + (compress ? "zstd" + level : "off");
      if (encrypt) label += ".enc";
      if (!aws) {
        const fs::path d = fs::path(dir) / label;
        fs::remove_all(d);
        auto open = [&] {
          prevayler::FileStorageOptions o;
          o.directory = d;
          o.common.compress_snapshots = compress;
          if (compress) o.common.snapshot_compression_level = zstd_level;
          o.common.encryption = encryption;
          return prevayler::make_file_storage(o);
        };
        auto stored = [&] {
          std::uint64_t size = 0;
          for (const auto& f : fs::directory_iterator(d)) {
            if (f.path().extension() == ".snap")
              size = std::max<std::uint64_t>(size, f.file_size());
          }
          return size;
        };
        results.push_back(run(label, state, counter.bytes, state_rss_mb, open, stored));
        fs::remove_all(d);
      } else {
        namespace aws = prevayler::aws;
        const std::string name =
            "snapbench-" + std::to_string(::getpid()) + "-" + std::to_string(run_index++);
        aws::S3Client s3 = bench::create_table_and_bucket(endpoint, name);
        auto open = [&] {
          prevayler::AwsStorageOptions o = bench::aws_storage_options(endpoint, name);
          o.common.compress_snapshots = compress;
          if (compress) o.common.snapshot_compression_level = zstd_level;
          o.snapshot_parallel_requests = parallel;
          o.snapshot_part_bytes = part_mb << 20;
          o.common.encryption = encryption;
          o.common.warn = [](const std::string&) {};
          return prevayler::make_aws_storage(o);
        };
        auto stored = [&] { return s3.head_object(name, "snapshot").size; };
        results.push_back(run(label, state, counter.bytes, state_rss_mb, open, stored));
        try {
          s3.delete_object(name, "snapshot");
          s3.delete_bucket(name);
        } catch (const std::exception&) {
        }
      }
    }
  };
  bench(mb, false);
  if (!endpoint.empty()) bench(aws_mb, true);
  line("ru_maxrss_mb", maxrss_mb(), "MB");
  fs::remove_all(dir);

  std::printf("\n%-14s %10s %10s %7s %12s %12s %12s\n", "run", "save MB/s", "load MB/s", "ratio",
              "save +peak", "load +peak", "load/state");
  for (const auto& r : results) {
    std::printf("%-14s %10.1f %10.1f %6.2fx %11.1f%% %11.1f%% %11.2fx\n", r.label.c_str(),
                r.save_mb_s, r.load_mb_s, r.ratio, r.save_added_pct, r.load_added_pct,
                r.load_peak_vs_state);
  }
  std::printf(
      "(MB/s of the uncompressed serialised state; +peak: peak RSS during the phase over the RSS "
      "before it, which holds the state built for the save; a load builds a second copy of the "
      "state; load/state: the load's added peak over the state's own RSS, 1.00x = no copy "
      "beyond the decoded state)\n");
  return 0;
}
