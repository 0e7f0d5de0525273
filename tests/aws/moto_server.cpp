#include "aws/moto_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "aws/curl_transport.hpp"

#ifndef PREVAYLER_BINARY_DIR
#define PREVAYLER_BINARY_DIR "."
#endif

namespace prevayler::aws::testing {
namespace {

constexpr std::chrono::seconds kStartTimeout{30};
constexpr std::chrono::milliseconds kPollInterval{100};
constexpr std::chrono::seconds kStopGrace{5};
constexpr const char* kExecutable = "moto_server";

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    std::size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(begin, end - begin);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return {};
}

// Binds port 0 on the loopback interface and returns the port the kernel
// chose. moto binds it a moment later; another process could take it in
// between, which the readiness check would reveal.
int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free loopback port");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

MotoServer::MotoServer(std::vector<std::pair<std::string, std::string>> environment) {
  const std::string executable = find_on_path(kExecutable);
  if (executable.empty())
    throw std::runtime_error(
        "moto_server is not on PATH; the AWS tests need it. Install it with "
        "`pip install 'moto[server]'` (moto 5) and make sure moto_server is on PATH");
  port_ = free_loopback_port();
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
  // pid and port: a process may run several servers (see WrongCredentials).
  log_path_ = std::string(PREVAYLER_BINARY_DIR) + "/moto_server." + std::to_string(::getpid()) +
              "." + std::to_string(port_) + ".log";
  const std::string port_text = std::to_string(port_);

  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed (no malloc, so no setenv).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [extra_name, unused] : environment) overridden |= extra_name == name;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : environment) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string argv0 = kExecutable, host_flag = "-H", host = "127.0.0.1", port_flag = "-p";
  std::string port_arg = port_text;
  std::vector<char*> argv = {argv0.data(),     host_flag.data(), host.data(),
                             port_flag.data(), port_arg.data(),  nullptr};

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork() failed");
  if (pid_ == 0) {
    // Child: own process group (so stop() reaches the pyenv shim's python
    // too), killed if the test process dies, output to the log.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::close(log);
    }
    ::execve(executable.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from the parent, to win the race with stop()

  auto transport = make_curl_transport();
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("moto_server exited during start-up; see " + log_path_);
    }
    try {
      HttpRequest probe;
      probe.method = "GET";
      probe.url = endpoint_ + "/moto-api/";
      probe.timeout = std::chrono::milliseconds(1000);
      transport->send(probe);
      return;  // any HTTP response: it is up
    } catch (const TransportError&) {
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      keep_log_ = true;  // the message points to it
      stop();
      throw std::runtime_error("moto_server did not answer on " + endpoint_ + " within " +
                               std::to_string(kStartTimeout.count()) + " s; see " + log_path_);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

MotoServer::~MotoServer() { stop(); }

void MotoServer::stop() noexcept {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid_, SIGKILL);  // stragglers of the group (the shim's python)
  pid_ = -1;
  // Every test process (ctest runs one per test) has its own log; keep them
  // only when asked, so the build directory does not fill up.
  if (!keep_log_ && !std::getenv("PREVAYLER_KEEP_MOTO_LOG")) ::unlink(log_path_.c_str());
}

MotoServer& moto() {
  static MotoServer server;  // C++11 guarantees thread-safe initialization
  return server;
}

std::shared_ptr<CredentialsProvider> test_credentials() {
  return static_credentials(Credentials{kTestAccessKeyId, kTestSecretAccessKey, "", std::nullopt});
}

std::shared_ptr<HttpTransport> test_transport() {
  static std::shared_ptr<HttpTransport> transport = make_curl_transport();
  return transport;
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  std::string name = "prv-" + std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter.fetch_add(1));
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) c = '-';
  }
  if (name.size() > 63) name.resize(63);
  return name;
}

}  // namespace prevayler::aws::testing
