// The bank example end to end, through its stdin/stdout interface.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

// Built only with the examples (PREVAYLER_BUILD_EXAMPLES).
#ifdef PREVAYLER_BANK_EXAMPLE
namespace prevayler::testing {
namespace {

std::vector<std::string> bank(const std::string& dir, const std::string& input,
                              int* status = nullptr) {
  return run_with_input({PREVAYLER_BANK_EXAMPLE, "--dir", dir}, input, status);
}

TEST(BankExample, DumpPrintsEveryJournaledEventDecoded) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  bank(dir,
       "deposit alice 1000\n"
       "transfer alice bob 300\n"
       "withdraw bob 2000\n"  // rejected: never journaled
       "snapshot\n"
       "withdraw alice 5\n");
  int status = -1;
  const auto lines = run_with_input({PREVAYLER_BANK_EXAMPLE, "--dump", "--dir", dir}, "", &status);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("{\"position\":\"0:1:0\",\"timestamp_ms\":", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("\"type\":\"deposit\",\"account\":\"alice\",\"amount\":1000}"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(
      lines[1].find("\"type\":\"transfer\",\"from\":\"alice\",\"to\":\"bob\",\"amount\":300}"),
      std::string::npos)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("{\"position\":\"1:1:0\"", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("\"type\":\"withdraw\",\"account\":\"alice\",\"amount\":5}"),
            std::string::npos)
      << lines[2];
  // The dump reads without opening: the ledger is as it was.
  EXPECT_EQ(bank(dir, "balance alice\n"), std::vector<std::string>{"ok 695"});
}

TEST(BankExample, CommandsPrintOneLineEach) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  int status = -1;
  const auto lines = bank(dir,
                          "deposit alice 1000\n"
                          "deposit bob 500\n"
                          "transfer alice bob 300\n"
                          "withdraw bob 2000\n"
                          "withdraw bob 100\n"
                          "balance alice\n"
                          "balance nobody\n"
                          "total\n"
                          "\n"
                          "deposit carol -5\n"
                          "deposit carol 12.5\n"
                          "deposit carol 99999999999999999999999\n"
                          "deposit carol\n"
                          "frobnicate\n"
                          "snapshot\n"
                          "quit\n"
                          "deposit never 1\n",
                          &status);
  EXPECT_EQ(status, 0);
  const std::vector<std::string> expected = {
      "ok 1000",
      "ok 500",
      "ok 700 800",
      "error: insufficient funds in bob (balance 800)",
      "ok 700",
      "ok 700",
      "ok 0",
      "ok 1400",
      "error: invalid amount '-5' (want cents, e.g. 1250)",
      "error: invalid amount '12.5' (want cents, e.g. 1250)",
      "error: invalid amount '99999999999999999999999' (want cents, e.g. 1250)",
      "error: usage: deposit ACCOUNT AMOUNT",
      "error: unknown command 'frobnicate' (deposit, withdraw, transfer, balance, total, "
      "snapshot, position, sync, promote, quit)",
      "ok",
  };
  EXPECT_EQ(lines, expected);
}

TEST(BankExample, SecondRunFindsTheBalancesOfTheFirst) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  bank(dir, "deposit alice 100\ntransfer alice bob 40\nsnapshot\ndeposit carol 5\n");
  const auto lines = bank(dir, "balance alice\nbalance bob\nbalance carol\ntotal\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"ok 60", "ok 40", "ok 5", "ok 105"}));
}

TEST(BankExample, AtAPointAnswersAsOfThenAndRefusesChanges) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  // Positions as the dump numbers them: 0:1 and 0:2, then 1:1 after the snapshot.
  bank(dir, "deposit alice 100\ntransfer alice bob 40\nsnapshot\ndeposit carol 5\n");
  const auto at = [&](const std::string& point, const std::string& input) {
    int status = -1;
    auto lines =
        run_with_input({PREVAYLER_BANK_EXAMPLE, "--at", point, "--dir", dir}, input, &status);
    EXPECT_EQ(status, 0) << point;
    return lines;
  };
  EXPECT_EQ(at("0:1", "balance alice\nbalance bob\ntotal\n"),
            (std::vector<std::string>{"ok 100", "ok 0", "ok 100"}));
  EXPECT_EQ(at("0:2", "balance alice\nbalance bob\n"),
            (std::vector<std::string>{"ok 60", "ok 40"}));
  EXPECT_EQ(at("1:1", "total\n"), std::vector<std::string>{"ok 105"});
  EXPECT_EQ(at("2100-01-01T00:00:00Z", "total\n"), std::vector<std::string>{"ok 105"});
  const auto refused = at("0:2", "deposit alice 1\nsnapshot\nbalance alice\n");
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[0].rfind("error: read-only", 0), 0u) << refused[0];
  EXPECT_EQ(refused[1].rfind("error: read-only", 0), 0u) << refused[1];
  EXPECT_EQ(refused[2], "ok 60");
  // Nothing was written: the live ledger is as it was.
  EXPECT_EQ(bank(dir, "total\n"), std::vector<std::string>{"ok 105"});
  int status = -1;
  run_with_input({PREVAYLER_BANK_EXAMPLE, "--at", "yesterday", "--dir", dir}, "", &status);
  EXPECT_EQ(status, 2);
}

TEST(BankExample, OverdrawIsNotJournaled) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  bank(dir, "deposit a 10\nwithdraw a 11\ntransfer a b 50\n");
  EXPECT_EQ(bank(dir, "balance a\ntotal\n"), (std::vector<std::string>{"ok 10", "ok 10"}));
}

TEST(BankExample, ADirectoryInUseIsReported) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  Subprocess first({PREVAYLER_BANK_EXAMPLE, "--dir", dir});
  first.write_stdin("deposit a 1\n");
  std::string line;
  ASSERT_TRUE(first.read_line(line));
  ASSERT_EQ(line, "ok 1");
  int status = 0;
  EXPECT_TRUE(bank(dir, "balance a\n", &status).empty());
  EXPECT_EQ(status, 1);
  first.close_stdin();
  EXPECT_EQ(first.wait(), 0);
}

// --follow beside a live writer: reads answer from the follower's state,
// changes are refused until `promote`, which fails while the writer holds
// the directory and works once it is gone; `position` agrees once synced.
TEST(BankExample, FollowerReadsSyncsAndIsPromotedOnceTheWriterIsGone) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  Subprocess writer({PREVAYLER_BANK_EXAMPLE, "--dir", dir});
  std::string line;
  const auto ask = [&line](Subprocess& process, const std::string& command) {
    process.write_stdin(command + "\n");
    EXPECT_TRUE(process.read_line(line)) << command;
    return line;
  };
  EXPECT_EQ(ask(writer, "deposit alice 100"), "ok 100");  // the directory exists from here
  Subprocess follower({PREVAYLER_BANK_EXAMPLE, "--follow", "--dir", dir});
  EXPECT_EQ(ask(writer, "transfer alice bob 30"), "ok 70 30");
  const std::string writer_position = ask(writer, "position");
  EXPECT_EQ(writer_position.rfind("ok ", 0), 0u) << writer_position;
  EXPECT_EQ(ask(follower, "sync"), "ok");
  EXPECT_EQ(ask(follower, "position"), writer_position);
  EXPECT_EQ(ask(follower, "balance alice"), "ok 70");
  EXPECT_EQ(ask(follower, "total"), "ok 100");
  EXPECT_EQ(ask(follower, "deposit carol 5"), "error: read-only follower (promote it first)");
  EXPECT_EQ(ask(follower, "snapshot"), "error: read-only follower (promote it first)");
  const std::string refused = ask(follower, "promote");
  EXPECT_EQ(refused.rfind("error: ", 0), 0u) << refused;
  EXPECT_NE(refused.find("in use by another process"), std::string::npos) << refused;

  EXPECT_EQ(ask(writer, "deposit bob 1"), "ok 31");
  writer.close_stdin();
  EXPECT_EQ(writer.wait(), 0);
  EXPECT_EQ(ask(follower, "promote"), "ok");
  EXPECT_EQ(ask(follower, "balance bob"), "ok 31");
  EXPECT_EQ(ask(follower, "deposit carol 5"), "ok 5");
  follower.close_stdin();
  EXPECT_EQ(follower.wait(), 0);
  EXPECT_EQ(bank(dir, "total\n"), std::vector<std::string>{"ok 106"});
}

// --metrics-file: the file appears (written at start, every few seconds and
// at exit, by rename: no temporary is left) and parses as the Prometheus
// text format, with the events this run journaled.
TEST(BankExample, MetricsFileIsWrittenAndParses) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "bank").string();
  const std::filesystem::path file = tmp.path() / "bank.prom";
  int status = -1;
  const auto lines =
      run_with_input({PREVAYLER_BANK_EXAMPLE, "--dir", dir, "--metrics-file", file.string()},
                     "deposit a 10\ndeposit b 5\nsnapshot\n", &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"ok 10", "ok 5", "ok"}));
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  std::ifstream in(file);
  std::string line;
  std::string family;
  int samples = 0;
  bool events_seen = false;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, line.find(' ', 7) - 7), family) << line;
      const std::string type = line.substr(line.rfind(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      continue;
    }
    EXPECT_EQ(line.rfind(family, 0), 0u) << "sample outside its family: " << line;
    const std::string value = line.substr(line.rfind(' ') + 1);
    std::size_t used = 0;
    (void)std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << line;
    ++samples;
    if (line == "prevayler_bank_events_total 2") events_seen = true;
  }
  EXPECT_GT(samples, 100);  // five histograms of 34 samples each, and the rest
  EXPECT_TRUE(events_seen) << "no prevayler_bank_events_total 2 in " << file;
}

TEST(BankExample, BadOptionIsAUsageError) {
  int status = 0;
  run_with_input({PREVAYLER_BANK_EXAMPLE, "--bogus"}, "", &status);
  EXPECT_EQ(status, 2);
}

#ifndef PREVAYLER_WITH_AWS
// Built without the AWS storage (PREVAYLER_WITH_AWS=OFF), the example refuses
// --aws as a usage error that says why, instead of an unknown option.
TEST(BankExample, AwsOptionSaysTheBuildHasNoAws) {
  int status = 0;
  const auto lines = run_with_input(
      {"/bin/sh", "-c", "\"$0\" --aws --table t --bucket b 2>&1", PREVAYLER_BANK_EXAMPLE}, "",
      &status);
  EXPECT_EQ(status, 2);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("no AWS storage"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("PREVAYLER_WITH_AWS=ON"), std::string::npos) << lines[0];
}
#endif

}  // namespace
}  // namespace prevayler::testing
#endif  // PREVAYLER_BANK_EXAMPLE
