// prevayler-bank: a small ledger whose state is durable through prevayler-cpp.
//
// Reads one command per line on stdin and prints exactly one line per
// command on stdout: `ok ...` or `error: <reason>`. An `ok` for a command
// that changes the state is printed only once its event is durable.
//
//   deposit ACCOUNT AMOUNT      -> ok <new balance>
//   withdraw ACCOUNT AMOUNT     -> ok <new balance>
//   transfer FROM TO AMOUNT     -> ok <balance FROM> <balance TO>
//   balance ACCOUNT             -> ok <balance>
//   total                       -> ok <sum of all balances>
//   snapshot                    -> ok
//   position                    -> ok <segment> <records>
//   sync                        -> ok (a follower: once caught up)
//   promote                     -> ok (a follower becomes the writer)
//   quit                        (or end of input) exits 0
//
// With --follow it is a read-only follower of a ledger another process
// writes (docs/followers.md): balance and total answer from its state,
// changes answer `error: read-only follower (promote it first)`.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/follower.hpp"
#include "prevayler/journal_reader.hpp"
#include "prevayler/point_in_time.hpp"
#include "prevayler/prevayler.hpp"
#include "prevayler/prometheus.hpp"
// The AWS storage is an optional component (CMake: PREVAYLER_WITH_AWS, which
// defines this macro for the example when it is built).
#ifdef PREVAYLER_WITH_AWS
#include "prevayler/aws_storage.hpp"
#endif

namespace {

using Bank = prevayler::Prevayler<bank::Ledger, bank::Event>;
using BankFollower = prevayler::Follower<bank::Ledger, bank::Event>;

constexpr const char* usage_text =
    "usage: prevayler-bank [--dump | --at POINT | --follow] [--dir PATH] [--metrics-file PATH]\n"
    "       prevayler-bank [--dump | --at POINT | --follow] --aws --table TABLE --bucket BUCKET\n"
    "                      [--snapshot-path KEY] [--metrics-file PATH]\n"
    "\n"
    "A durable ledger. Reads commands on stdin, one per line:\n"
    "  deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT | transfer FROM TO AMOUNT\n"
    "  balance ACCOUNT | total | snapshot | position | sync | promote | quit\n"
    "Amounts are non-negative integers (cents).\n"
    "\n"
    "  --dir PATH            directory of the file storage (default ./bank-data)\n"
    "  --follow              a read-only follower of the ledger another process writes:\n"
    "                        `sync` waits until it caught up, `promote` makes it the writer\n"
    "  --aws                 journal in DynamoDB, snapshot in S3 (docs/aws.md); region,\n"
    "                        endpoint and credentials from the standard AWS configuration\n"
    "                        (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, ...)\n"
    "  --table TABLE         DynamoDB journal table (create it with prevayler setup)\n"
    "  --bucket BUCKET       S3 bucket of the snapshot\n"
    "  --snapshot-path KEY   S3 key of the snapshot (default snapshot)\n"
    "  --dump                print every journaled event, decoded, one JSON object per line,\n"
    "                        and exit; reads the journal without opening the ledger, so it\n"
    "                        may run beside a live instance\n"
    "  --at POINT            the ledger as of POINT, read-only: an ISO 8601 UTC time\n"
    "                        (2026-12-01T12:00:00Z, or with milliseconds ...00.250Z) or a\n"
    "                        journal position SEGMENT:RECORDS; balance and total answer as\n"
    "                        of then, changes are refused\n"
    "  --metrics-file PATH   write the metrics in the Prometheus text format to PATH\n"
    "                        every few seconds, atomically (node_exporter textfile)\n"
#ifndef PREVAYLER_WITH_AWS
    "(This build has no AWS storage: --aws needs a build with -DPREVAYLER_WITH_AWS=ON.)\n"
#endif
    ;

// Where the AWS storage keeps the ledger, as given on the command line.
struct AwsLocation {
  std::string table;
  std::string bucket;
  std::optional<std::string> snapshot_path;
};

#ifdef PREVAYLER_WITH_AWS
prevayler::AwsStorageOptions aws_storage_options(const AwsLocation& aws) {
  prevayler::AwsStorageOptions storage;
  storage.table = aws.table;
  storage.bucket = aws.bucket;
  if (aws.snapshot_path) storage.snapshot_path = *aws.snapshot_path;
  return storage;
}
#endif

// A JSON string literal.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string event_json(const bank::Event& event) {
  struct Printer {
    std::string operator()(const bank::Deposit& d) const {
      return "\"type\":\"deposit\",\"account\":" + json_string(d.account) +
             ",\"amount\":" + std::to_string(d.amount);
    }
    std::string operator()(const bank::Withdraw& w) const {
      return "\"type\":\"withdraw\",\"account\":" + json_string(w.account) +
             ",\"amount\":" + std::to_string(w.amount);
    }
    std::string operator()(const bank::Transfer& t) const {
      return "\"type\":\"transfer\",\"from\":" + json_string(t.from) +
             ",\"to\":" + json_string(t.to) + ",\"amount\":" + std::to_string(t.amount);
    }
  };
  return std::visit(Printer{}, event);
}

// --dump: every event kept in the journal, decoded, one JSON object a line.
template <class StorageOptions>
void dump_events(const StorageOptions& storage) {
  prevayler::read_journal<bank::Event>(storage, [](const prevayler::JournalEvent<bank::Event>& e) {
    std::cout << "{\"position\":\"" << e.position.segment << ":" << e.position.record << ":"
              << e.position.entry
              << "\",\"timestamp_ms\":" << e.timestamp.time_since_epoch().count() << ","
              << event_json(e.event) << "}\n";
  });
  std::cout << std::flush;
}

// Rewrites the metrics file every metrics_interval_ms, and once more when
// stopped: written to PATH.tmp, then renamed over PATH, so a collector never
// reads half a file (node_exporter's textfile convention).
class MetricsFile {
 public:
  static constexpr int metrics_interval_ms = 5000;

  MetricsFile(const Bank& bank, std::string path) : bank_(bank), path_(std::move(path)) {
    write();
    thread_ = std::thread([this] { run(); });
  }
  ~MetricsFile() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    write();
  }
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (!wake_.wait_for(lock, std::chrono::milliseconds(metrics_interval_ms),
                          [&] { return stop_; })) {
        lock.unlock();
        write();
        lock.lock();
      }
    }
  }

  void write() {
    const std::string temp = path_ + ".tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << prevayler::prometheus_text(bank_.metrics(), "prevayler_bank");
      if (!out.flush()) {
        std::cerr << "prevayler-bank: cannot write the metrics file " << temp << "\n";
        return;
      }
    }
    if (std::rename(temp.c_str(), path_.c_str()) != 0) {
      std::cerr << "prevayler-bank: cannot rename " << temp << " to " << path_ << ": "
                << std::strerror(errno) << "\n";
    }
  }

  const Bank& bank_;
  const std::string path_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// Progress of a long recovery or snapshot on a terminal, overwriting one
// line. An operation that finishes before its first interim report (most
// of them) prints nothing.
void print_progress(const prevayler::Progress& p) {
  static bool shown = false;               // an interim line of this operation is on screen
  if (!p.finished && p.done == 0) return;  // the start
  if (p.finished && !shown) return;
  const char* what = p.what == prevayler::Progress::What::recovery        ? "replayed events"
                     : p.what == prevayler::Progress::What::snapshot_read ? "read snapshot bytes"
                                                                          : "wrote snapshot bytes";
  std::cerr << "\rprevayler-bank: " << what << ": " << p.done;
  if (p.total) std::cerr << " of " << *p.total;
  if (p.finished) std::cerr << "\n";
  std::cerr << std::flush;
  shown = !p.finished;
}

std::optional<bank::Amount> parse_amount(const std::string& text) {
  bank::Amount value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 0 || text.empty() || text[0] == '+') {
    return std::nullopt;
  }
  return value;
}

// The ledger's storage: the file or AWS storage, or, with `at`, a
// read-only view of it as of that point.
std::unique_ptr<prevayler::Storage> open_storage(bool use_aws, const std::string& dir,
                                                 [[maybe_unused]] const AwsLocation& aws,
                                                 const std::optional<prevayler::PointInTime>& at) {
  if (use_aws) {
#ifdef PREVAYLER_WITH_AWS
    if (at) return prevayler::make_aws_storage_as_of(aws_storage_options(aws), *at);
    return prevayler::make_aws_storage(aws_storage_options(aws));
#endif
  }
  prevayler::FileStorageOptions storage;
  storage.directory = dir;
  if (at) return prevayler::make_file_storage_as_of(storage, *at);
  return prevayler::make_file_storage(storage);
}

// The ledger this process serves: a writer, or a follower until promoted.
struct Node {
  std::unique_ptr<Bank> writer;
  std::unique_ptr<BankFollower> follower;

  std::shared_ptr<const bank::Ledger> state() const {
    return writer ? writer->state() : follower->state();
  }
  prevayler::JournalPosition position() const {
    return writer ? writer->position() : follower->position();
  }
  Bank& writable() {
    if (!writer) throw bank::Rejected("read-only follower (promote it first)");
    return *writer;
  }
};

std::string run_command(Node& node, const std::vector<std::string>& words) {
  const std::string& verb = words[0];
  auto amount_at = [&](std::size_t i) {
    auto amount = parse_amount(words[i]);
    if (!amount) throw bank::Rejected("invalid amount '" + words[i] + "' (want cents, e.g. 1250)");
    return *amount;
  };
  auto expect_args = [&](std::size_t n, const char* form) {
    if (words.size() != n + 1) throw bank::Rejected(std::string("usage: ") + form);
  };
  if (verb == "deposit") {
    expect_args(2, "deposit ACCOUNT AMOUNT");
    auto state = node.writable().handle(bank::Deposit{words[1], amount_at(2)});
    return "ok " + std::to_string(state->balance(words[1]));
  }
  if (verb == "withdraw") {
    expect_args(2, "withdraw ACCOUNT AMOUNT");
    auto state = node.writable().handle(bank::Withdraw{words[1], amount_at(2)});
    return "ok " + std::to_string(state->balance(words[1]));
  }
  if (verb == "transfer") {
    expect_args(3, "transfer FROM TO AMOUNT");
    auto state = node.writable().handle(bank::Transfer{words[1], words[2], amount_at(3)});
    return "ok " + std::to_string(state->balance(words[1])) + " " +
           std::to_string(state->balance(words[2]));
  }
  if (verb == "balance") {
    expect_args(1, "balance ACCOUNT");
    return "ok " + std::to_string(node.state()->balance(words[1]));
  }
  if (verb == "total") {
    expect_args(0, "total");
    return "ok " + std::to_string(node.state()->total());
  }
  if (verb == "snapshot") {
    expect_args(0, "snapshot");
    node.writable().snapshot();
    return "ok";
  }
  if (verb == "position") {
    expect_args(0, "position");
    const prevayler::JournalPosition at = node.position();
    return "ok " + std::to_string(at.segment) + " " + std::to_string(at.record);
  }
  if (verb == "sync") {
    expect_args(0, "sync");
    if (node.follower) node.follower->catch_up();
    return "ok";
  }
  if (verb == "promote") {
    expect_args(0, "promote");
    if (!node.writer) node.writer = node.follower->promote();
    return "ok";
  }
  throw bank::Rejected("unknown command '" + verb +
                       "' (deposit, withdraw, transfer, balance, total, snapshot, position, "
                       "sync, promote, quit)");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "./bank-data";
  std::string metrics_file;
  bool use_aws = false;
  bool dump = false;
  std::optional<prevayler::PointInTime> at;
  bool follow = false;
  AwsLocation aws;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return 0;
    }
    if (arg == "--dir" && has_value) {
      dir = argv[++i];
    } else if (arg == "--dump") {
      dump = true;
    } else if (arg == "--at" && has_value) {
      try {
        at = prevayler::PointInTime::parse(argv[++i]);
      } catch (const prevayler::ConfigError& e) {
        std::cerr << "prevayler-bank: --at: " << e.what() << "\n";
        return 2;
      }
    } else if (arg == "--follow") {
      follow = true;
    } else if (arg == "--aws") {
      use_aws = true;
    } else if (arg == "--table" && has_value) {
      aws.table = argv[++i];
    } else if (arg == "--bucket" && has_value) {
      aws.bucket = argv[++i];
    } else if (arg == "--snapshot-path" && has_value) {
      aws.snapshot_path = argv[++i];
    } else if (arg == "--metrics-file" && has_value) {
      metrics_file = argv[++i];
    } else {
      std::cerr << "prevayler-bank: unknown or incomplete option '" << arg << "'\n" << usage_text;
      return 2;
    }
  }
#ifndef PREVAYLER_WITH_AWS
  if (use_aws) {
    std::cerr << "prevayler-bank: --aws: this build has no AWS storage (built with "
                 "PREVAYLER_WITH_AWS=OFF); rebuild with -DPREVAYLER_WITH_AWS=ON, or use --dir\n";
    return 2;
  }
#endif
  if (follow && dump) {
    std::cerr << "prevayler-bank: --follow is a view of its own: not with --dump\n";
    return 2;
  }
  if (at && (follow || dump)) {
    std::cerr << "prevayler-bank: --at is a view of its own: not with --follow or --dump\n";
    return 2;
  }
  if (use_aws && (aws.table.empty() || aws.bucket.empty())) {
    std::cerr << "prevayler-bank: --aws needs --table and --bucket\n" << usage_text;
    return 2;
  }
  if (dump) {
    try {
      if (use_aws) {
#ifdef PREVAYLER_WITH_AWS
        dump_events(aws_storage_options(aws));
#endif
      } else {
        prevayler::FileStorageOptions storage;
        storage.directory = dir;
        dump_events(storage);
      }
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "prevayler-bank: cannot read the journal: " << e.what() << "\n";
      return 1;
    }
  }
  const std::string where = (use_aws ? "table " + aws.table + ", bucket " + aws.bucket : dir) +
                            (at ? " as of " + at->to_string() + " (read-only)" : "");

  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  Node node;
  try {
    Bank::Options options;
    options.business = bank::apply;
    // Only a person watching a terminal wants the progress lines; logs and
    // pipes stay as they were.
    if (::isatty(STDERR_FILENO) != 0) options.progress = print_progress;
    options.storage = open_storage(use_aws, dir, aws, at);
    // The consistency check costs O(1) per event: the ledger keeps its hash.
    options.state_hash = [](const bank::Ledger& ledger) { return ledger.fingerprint(); };
    if (follow) {
      node.follower = std::make_unique<BankFollower>(std::move(options));
    } else {
      node.writer = std::make_unique<Bank>(std::move(options));
    }
  } catch (const std::exception& e) {
    std::cerr << "prevayler-bank: cannot open the ledger: " << e.what() << "\n";
    return 1;
  }
  if (interactive) {
    std::cerr << "prevayler-bank: " << (follow ? "following the ledger in " : "ledger in ") << where
              << " (" << node.state()->accounts() << " accounts). Type a command, or quit.\n> "
              << std::flush;
  }

  std::optional<MetricsFile> metrics;
  if (!metrics_file.empty() && node.writer) metrics.emplace(*node.writer, metrics_file);

  std::string line;
  int status = 0;
  while (std::getline(std::cin, line)) {
    std::istringstream tokens(line);
    std::vector<std::string> words;
    for (std::string word; tokens >> word;) words.push_back(word);
    if (words.empty()) {
      if (interactive) std::cerr << "> " << std::flush;
      continue;
    }
    if (words[0] == "quit" || words[0] == "exit") break;
    try {
      const bool was_follower = !node.writer;
      std::cout << run_command(node, words) << std::endl;
      // A promoted follower's metrics are a writer's from then on.
      if (was_follower && node.writer && !metrics_file.empty()) {
        metrics.emplace(*node.writer, metrics_file);
      }
    } catch (const bank::Rejected& e) {
      std::cout << "error: " << e.what() << std::endl;
    } catch (const prevayler::StorageFailedError& e) {
      std::cout << "error: " << e.what() << std::endl;
      status = 1;
      break;  // the instance stopped; a restart recovers what is durable
    } catch (const std::exception& e) {
      std::cout << "error: " << e.what() << std::endl;
    }
    if (interactive) std::cerr << "> " << std::flush;
  }
  metrics.reset();  // its last write shows the final counters
  try {
    if (node.writer) node.writer->close();
    if (node.follower) node.follower->close();
  } catch (const std::exception& e) {
    std::cerr << "prevayler-bank: " << e.what() << "\n";
    return 1;
  }
  return status;
}
