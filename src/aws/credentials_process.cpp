#include "aws/credentials_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "prevayler/error.hpp"

extern char** environ;

namespace prevayler::aws {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A credential tool that hangs (waiting for a prompt nobody answers, or for
// a network) must not hang the application: it is killed after this long.
constexpr std::chrono::milliseconds process_timeout_ms{60000};
// The JSON is a few hundred bytes; anything far larger is not credentials
// (the Java SDK uses the same order of limit).
constexpr std::size_t process_output_bytes_max = 64 * 1024;
constexpr std::size_t read_chunk_bytes = 4096;
constexpr std::chrono::milliseconds exit_poll_ms{5};

class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      throw StorageError(std::string("cannot create a pipe for credential_process: ") +
                         std::strerror(errno));
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

// Waits for `pid` until `deadline`, then kills it; returns its wait status.
int reap(pid_t pid, SteadyClock::time_point deadline) {
  int status = 0;
  while (SteadyClock::now() < deadline) {  // bounded by the deadline
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    std::this_thread::sleep_for(exit_poll_ms);
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // SIGKILL cannot be ignored: this ends as soon as the kernel reaps it.
  }
  return -1;
}

struct ProcessResult {
  std::string output;
  int wait_status = -1;  // -1: killed after the time-out
  bool output_too_large = false;
};

ProcessResult run(const std::string& command, const std::string& where) {
  Pipe out;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.write_end(), STDOUT_FILENO);
  std::string shell = "/bin/sh";
  std::string dash_c = "-c";
  std::string command_copy = command;
  char* argv[] = {shell.data(), dash_c.data(), command_copy.data(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, shell.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw StorageError(where + ": cannot start /bin/sh: " + std::strerror(spawned));
  }
  out.close_write();  // so that the read below sees end-of-file when the child exits

  ProcessResult result;
  const auto deadline = SteadyClock::now() + process_timeout_ms;
  char buffer[read_chunk_bytes];
  // Bounded by the deadline and by process_output_bytes_max.
  while (SteadyClock::now() < deadline) {
    pollfd p{out.read_end(), POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // time-out (or a poll failure): reap() kills the child
    const ssize_t n = ::read(out.read_end(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.wait_status = reap(pid, deadline);
      return result;
    }
    result.output.append(buffer, static_cast<std::size_t>(n));
    if (result.output.size() > process_output_bytes_max) {
      result.output_too_large = true;
      ::kill(pid, SIGKILL);
      reap(pid, deadline);
      return result;
    }
  }
  result.wait_status = reap(pid, SteadyClock::now());  // kills it
  return result;
}

// The program, without its arguments: arguments may carry secrets.
std::string program_of(const std::string& command) {
  std::size_t start = command.find_first_not_of(" \t");
  if (start == std::string::npos) return {};
  if (command[start] == '"' || command[start] == '\'') {
    const auto end = command.find(command[start], start + 1);
    return command.substr(start + 1, end == std::string::npos ? end : end - start - 1);
  }
  return command.substr(start, command.find_first_of(" \t", start) - start);
}

}  // namespace

Credentials run_credential_process(const std::string& command, const std::string& profile,
                                   const std::string& config_file) {
  const std::string where = "credential_process of profile '" + profile + "' in " + config_file +
                            " (program " + program_of(command) + ")";
  if (program_of(command).empty()) throw ConfigError(where + " is empty; set a command");
  const ProcessResult result = run(command, where);
  const std::string remedy =
      "; run the command by hand to see why (its standard error goes to "
      "this process's standard error)";
  if (result.output_too_large) {
    throw StorageError(where + " printed more than " + std::to_string(process_output_bytes_max) +
                       " bytes; it must print one JSON object with the credentials");
  }
  if (result.wait_status == -1) {
    throw StorageError(where + " did not finish within " +
                       std::to_string(process_timeout_ms.count() / 1000) +
                       " s and was killed; check that it does not wait for input" + remedy);
  }
  if (WIFSIGNALED(result.wait_status)) {
    throw StorageError(where + " was killed by signal " +
                       std::to_string(WTERMSIG(result.wait_status)) + remedy);
  }
  if (!WIFEXITED(result.wait_status) || WEXITSTATUS(result.wait_status) != 0) {
    const int code = WIFEXITED(result.wait_status) ? WEXITSTATUS(result.wait_status) : -1;
    // The shell reports a command killed by signal N as status 128 + N.
    const std::string why = code == 127 ? " (command not found)"
                            : code > 128 && code < 160
                                ? " (killed by signal " + std::to_string(code - 128) + ")"
                                : "";
    throw StorageError(where + " exited with status " + std::to_string(code) + why + remedy);
  }
  // Never quote the output: it holds the secret (nlohmann's messages would).
  const nlohmann::json json =
      nlohmann::json::parse(result.output, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    throw StorageError(where +
                       " did not print a JSON object; it must print {\"Version\": 1, "
                       "\"AccessKeyId\": ..., \"SecretAccessKey\": ...}");
  }
  const auto version = json.find("Version");
  if (version == json.end() || !version->is_number_integer() || version->get<long long>() != 1) {
    throw StorageError(where +
                       " printed JSON without \"Version\": 1 (the only version the AWS "
                       "SDKs define)");
  }
  const auto field = [&](const char* name) -> std::string {
    const auto it = json.find(name);
    return (it != json.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  Credentials c{field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"),
                std::nullopt};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw StorageError(where + " printed JSON without AccessKeyId and SecretAccessKey strings");
  }
  const std::string expiration = field("Expiration");
  if (!expiration.empty()) {
    c.expiration = parse_iso8601_utc(expiration);
    if (!c.expiration) {
      throw StorageError(where + " printed an Expiration that is not an ISO 8601 UTC time");
    }
  }
  return c;
}

}  // namespace prevayler::aws
