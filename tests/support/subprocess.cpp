#include "support/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace prevayler::testing {

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  ::signal(SIGPIPE, SIG_IGN);
}

Subprocess::~Subprocess() {
  close_stdin();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (!waited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait();
  }
}

void Subprocess::write_stdin(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(stdin_fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("write to child: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

void Subprocess::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

bool Subprocess::read_line(std::string& line) {
  for (;;) {
    const auto newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return true;
    }
    char chunk[4096];
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // a partial last line is dropped: it was never complete
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string Subprocess::read_all() {
  std::string all = std::move(buffer_);
  buffer_.clear();
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return all;
    all.append(chunk, static_cast<std::size_t>(n));
  }
}

void Subprocess::kill(int signal) { ::kill(pid_, signal); }

int Subprocess::wait() {
  if (waited_) return status_;
  int raw = 0;
  while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
  waited_ = true;
  status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return status_;
}

std::vector<std::string> run_with_input(const std::vector<std::string>& argv,
                                        const std::string& input, int* exit_status) {
  Subprocess child(argv);
  child.write_stdin(input);
  child.close_stdin();
  std::vector<std::string> lines;
  std::string line;
  while (child.read_line(line)) lines.push_back(line);
  const int status = child.wait();
  if (exit_status) *exit_status = status;
  return lines;
}

}  // namespace prevayler::testing
