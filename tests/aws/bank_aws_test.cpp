// The bank example end to end against moto: run, quit, run again, balances
// recovered — with region, endpoint and credentials from the environment,
// as a user would run it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "aws/aws_test_storage.hpp"
#include "support/subprocess.hpp"

#ifdef PREVAYLER_BANK_EXAMPLE
namespace prevayler::testing {
namespace {

// Sets environment variables for the children, restoring them afterwards.
class ScopedEnv {
 public:
  void set(const char* name, const std::string& value) {
    const char* old = std::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// The environment a user sets to run the bank on moto, for the children.
void point_children_at_moto(ScopedEnv& env) {
  env.set("AWS_ENDPOINT_URL", aws::testing::moto().endpoint());
  env.set("AWS_REGION", aws::testing::kTestRegion);
  env.set("AWS_ACCESS_KEY_ID", aws::testing::kTestAccessKeyId);
  env.set("AWS_SECRET_ACCESS_KEY", aws::testing::kTestSecretAccessKey);
}

std::vector<std::string> bank_command(const MotoJournal& journal) {
  return {PREVAYLER_BANK_EXAMPLE, "--aws", "--table", journal.table, "--bucket", journal.bucket};
}

TEST(BankOnAws, SecondRunFindsTheBalancesOfTheFirst) {
  MotoJournal journal;
  ScopedEnv env;
  point_children_at_moto(env);
  const std::vector<std::string> bank = bank_command(journal);
  int status = -1;
  auto first = run_with_input(bank,
                              "deposit alice 500\ntransfer alice bob 200\nwithdraw bob 999\n"
                              "snapshot\ndeposit carol 7\nquit\n",
                              &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(first, (std::vector<std::string>{"ok 500", "ok 300 200",
                                             "error: insufficient funds in bob (balance 200)", "ok",
                                             "ok 7"}));
  auto second = run_with_input(bank, "balance alice\nbalance bob\nbalance carol\ntotal\n", &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(second, (std::vector<std::string>{"ok 300", "ok 200", "ok 7", "ok 507"}));
  EXPECT_GT(MotoJournal::s3().head_object(journal.bucket, "snapshot").size, 0u);
}

// --follow --aws beside a live writer on another "machine" (process):
// reads answer from the follower's state, changes are refused until
// `promote`, and `position` agrees once synced; promoted after the writer
// quits, it accepts changes, and the next writer sees them.
TEST(BankOnAws, FollowerReadsSyncsAndIsPromoted) {
  MotoJournal journal;
  ScopedEnv env;
  point_children_at_moto(env);
  const std::vector<std::string> bank = bank_command(journal);
  std::vector<std::string> follow = bank;
  follow.push_back("--follow");
  std::string line;
  const auto ask = [&line](Subprocess& process, const std::string& command) {
    process.write_stdin(command + "\n");
    EXPECT_TRUE(process.read_line(line)) << command;
    return line;
  };
  Subprocess writer(bank);
  EXPECT_EQ(ask(writer, "deposit alice 100"), "ok 100");
  Subprocess follower(follow);
  EXPECT_EQ(ask(writer, "transfer alice bob 30"), "ok 70 30");
  const std::string writer_position = ask(writer, "position");
  EXPECT_EQ(writer_position.rfind("ok ", 0), 0u) << writer_position;
  EXPECT_EQ(ask(follower, "sync"), "ok");
  EXPECT_EQ(ask(follower, "position"), writer_position);
  EXPECT_EQ(ask(follower, "balance alice"), "ok 70");
  EXPECT_EQ(ask(follower, "total"), "ok 100");
  EXPECT_EQ(ask(follower, "deposit carol 5"), "error: read-only follower (promote it first)");
  EXPECT_EQ(ask(follower, "snapshot"), "error: read-only follower (promote it first)");
  EXPECT_EQ(ask(writer, "deposit bob 1"), "ok 31");
  writer.close_stdin();
  EXPECT_EQ(writer.wait(), 0);
  EXPECT_EQ(ask(follower, "promote"), "ok");
  EXPECT_EQ(ask(follower, "balance bob"), "ok 31");
  EXPECT_EQ(ask(follower, "deposit carol 5"), "ok 5");
  follower.close_stdin();
  EXPECT_EQ(follower.wait(), 0);
  int status = -1;
  EXPECT_EQ(run_with_input(bank, "total\n", &status), std::vector<std::string>{"ok 106"});
  EXPECT_EQ(status, 0);
}

TEST(BankOnAws, MissingTableIsAClearStartupError) {
  ScopedEnv env;
  env.set("AWS_ENDPOINT_URL", aws::testing::moto().endpoint());
  env.set("AWS_REGION", aws::testing::kTestRegion);
  env.set("AWS_ACCESS_KEY_ID", aws::testing::kTestAccessKeyId);
  env.set("AWS_SECRET_ACCESS_KEY", aws::testing::kTestSecretAccessKey);
  int status = -1;
  auto lines = run_with_input(
      {PREVAYLER_BANK_EXAMPLE, "--aws", "--table", "missing-table", "--bucket", "missing-bucket"},
      "total\n", &status);
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(lines.empty());
}

TEST(BankOnAws, AwsWithoutTableIsAUsageError) {
  int status = -1;
  run_with_input({PREVAYLER_BANK_EXAMPLE, "--aws", "--bucket", "b"}, "", &status);
  EXPECT_EQ(status, 2);
}

}  // namespace
}  // namespace prevayler::testing
#endif
