// A process-wide moto_server (https://github.com/getmoto/moto) shared by all
// tests of the AWS test executable: started on first use on a free loopback
// port, stopped at exit. Tests use unique table and bucket names, so they
// do not interfere with each other. The server's output goes to
// PREVAYLER_BINARY_DIR/moto_server.<pid>.<port>.log, removed at exit unless
// PREVAYLER_KEEP_MOTO_LOG is set (kept when the server fails to start).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/http.hpp"

namespace prevayler::aws::testing {

inline constexpr const char* kTestRegion = "us-east-1";
inline constexpr const char* kTestAccessKeyId = "testing";
inline constexpr const char* kTestSecretAccessKey = "testing";

class MotoServer {
 public:
  // Starts moto_server and waits until it answers. Throws std::runtime_error
  // (saying how to install moto when it is not on PATH, or where its log is
  // when it does not come up).
  // `environment`: extra variables for the server, e.g.
  // INITIAL_NO_AUTH_ACTION_COUNT=0 to make moto check credentials.
  explicit MotoServer(std::vector<std::pair<std::string, std::string>> environment = {});
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  const std::string& endpoint() const noexcept { return endpoint_; }  // http://127.0.0.1:PORT
  int port() const noexcept { return port_; }
  const std::string& log_path() const noexcept { return log_path_; }

 private:
  void stop() noexcept;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string endpoint_;
  std::string log_path_;
  bool keep_log_ = false;
};

// The shared server, started on first call (thread-safe).
MotoServer& moto();

// The fake credentials moto accepts ("testing"/"testing").
std::shared_ptr<CredentialsProvider> test_credentials();

// A real curl transport, shared by the tests.
std::shared_ptr<HttpTransport> test_transport();

// A name that is unique in this run and valid both as a DynamoDB table name
// and as an S3 bucket name (lowercase letters, digits, hyphens; <= 63 chars).
std::string unique_name(std::string_view prefix);

}  // namespace prevayler::aws::testing
