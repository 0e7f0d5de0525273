// A child process with pipes to its stdin and stdout, for tests that run
// the example or a worker program and kill it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace prevayler::testing {

class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  void write_stdin(const std::string& text);
  void close_stdin();
  // Reads one line from stdout (without '\n'); false at end of output.
  bool read_line(std::string& line);
  // Reads everything until the child closes stdout.
  std::string read_all();
  void kill(int signal);
  // Waits for exit; returns the exit status, or 128 + signal.
  int wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool waited_ = false;
  int status_ = 0;
};

// Runs argv with `input` on stdin; returns stdout's lines.
std::vector<std::string> run_with_input(const std::vector<std::string>& argv,
                                        const std::string& input, int* exit_status = nullptr);

}  // namespace prevayler::testing
