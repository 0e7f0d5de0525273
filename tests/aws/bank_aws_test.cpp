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

TEST(BankOnAws, SecondRunFindsTheBalancesOfTheFirst) {
  MotoJournal journal;
  ScopedEnv env;
  env.set("AWS_ENDPOINT_URL", aws::testing::moto().endpoint());
  env.set("AWS_REGION", aws::testing::kTestRegion);
  env.set("AWS_ACCESS_KEY_ID", aws::testing::kTestAccessKeyId);
  env.set("AWS_SECRET_ACCESS_KEY", aws::testing::kTestSecretAccessKey);
  const std::vector<std::string> bank = {PREVAYLER_BANK_EXAMPLE, "--aws",    "--table",
                                         journal.table,          "--bucket", journal.bucket};
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
