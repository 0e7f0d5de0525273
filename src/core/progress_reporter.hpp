// Calls Options::progress for one long operation at a bounded rate
// (progress.hpp: progress_interval_ms), and the stream buffers that count
// a snapshot's bytes for it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <streambuf>

#include "prevayler/progress.hpp"

namespace prevayler::detail {

using ProgressFunction = std::function<void(const Progress&)>;

class ProgressReporter {
 public:
  // Reports `done` = 0 at once (the operation started).
  // advance() reads the clock once every `clock_check_calls` calls: per
  // event in recovery, 1024 keeps the clock out of the profile.
  ProgressReporter(const ProgressFunction& callback, Progress::What what,
                   std::uint64_t clock_check_calls, std::optional<std::uint64_t> total = {});
  // Calls back only when progress_interval_ms passed since the last call.
  void advance(std::uint64_t done) {
    if (!callback_ || ++calls_ % clock_check_calls_ != 0) return;
    report_if_due(done);
  }
  // Reports the final `done`, once.
  void finish(std::uint64_t done);

 private:
  void report_if_due(std::uint64_t done);
  void report(std::uint64_t done, bool finished);

  const ProgressFunction& callback_;
  Progress::What what_;
  std::uint64_t clock_check_calls_;
  std::optional<std::uint64_t> total_;
  std::uint64_t calls_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_;
};

// Forwards writes to `target` in chunks of buffer_bytes and reports the
// bytes forwarded so far.
class CountingOutBuffer : public std::streambuf {
 public:
  CountingOutBuffer(std::streambuf& target, ProgressReporter& reporter);
  std::uint64_t bytes() const { return bytes_ + static_cast<std::uint64_t>(pptr() - pbase()); }
  // Forwards what is buffered; false when the target refused.
  bool flush_to_target();

 protected:
  int_type overflow(int_type c) override;
  int sync() override;

 private:
  static constexpr std::size_t buffer_bytes = 64 * 1024;
  std::streambuf& target_;
  ProgressReporter& reporter_;
  std::uint64_t bytes_ = 0;
  std::array<char, buffer_bytes> buffer_;
};

// Reads `source` in chunks of buffer_bytes and reports the bytes read so
// far. Reads ahead of its reader by up to one chunk.
class CountingInBuffer : public std::streambuf {
 public:
  CountingInBuffer(std::streambuf& source, ProgressReporter& reporter);
  std::uint64_t bytes() const { return bytes_; }

 protected:
  int_type underflow() override;

 private:
  static constexpr std::size_t buffer_bytes = 64 * 1024;
  std::streambuf& source_;
  ProgressReporter& reporter_;
  std::uint64_t bytes_ = 0;
  std::array<char, buffer_bytes> buffer_;
};

}  // namespace prevayler::detail
