// A progress line for long operations (events and bytes done, rate, time
// left) on stderr, drawn only when stdout and stderr are terminals: piped
// or redirected output gets nothing extra.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace prevayler::tool {

class Progress {
 public:
  // `total_bytes`: 0 when unknown (no time left is shown then).
  Progress(std::string what, std::uint64_t total_bytes);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(std::uint64_t events, std::uint64_t bytes);
  // Clears the line.
  void done();

 private:
  void draw();

  std::string what_;
  std::uint64_t total_bytes_;
  bool enabled_;
  bool drawn_ = false;
  std::uint64_t events_ = 0;
  std::uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace prevayler::tool
