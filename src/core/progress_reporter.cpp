#include "core/progress_reporter.hpp"

namespace prevayler::detail {

ProgressReporter::ProgressReporter(const ProgressFunction& callback, Progress::What what,
                                   std::uint64_t clock_check_calls,
                                   std::optional<std::uint64_t> total)
    : callback_(callback),
      what_(what),
      clock_check_calls_(clock_check_calls == 0 ? 1 : clock_check_calls),
      total_(total) {
  if (callback_) report(0, false);
}

void ProgressReporter::finish(std::uint64_t done) {
  if (callback_ && !finished_) report(done, true);
  finished_ = true;
}

void ProgressReporter::report_if_due(std::uint64_t done) {
  if (std::chrono::steady_clock::now() - last_ >= std::chrono::milliseconds(progress_interval_ms)) {
    report(done, false);
  }
}

void ProgressReporter::report(std::uint64_t done, bool finished) {
  last_ = std::chrono::steady_clock::now();
  callback_(Progress{what_, done, total_, finished});
}

CountingOutBuffer::CountingOutBuffer(std::streambuf& target, ProgressReporter& reporter)
    : target_(target), reporter_(reporter) {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

bool CountingOutBuffer::flush_to_target() {
  const std::streamsize n = pptr() - pbase();
  if (n > 0 && target_.sputn(pbase(), n) != n) return false;
  bytes_ += static_cast<std::uint64_t>(n);
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  // Once per chunk: the clock is read at most every buffer_bytes.
  reporter_.advance(bytes_);
  return true;
}

CountingOutBuffer::int_type CountingOutBuffer::overflow(int_type c) {
  if (!flush_to_target()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int CountingOutBuffer::sync() {
  if (!flush_to_target()) return -1;
  return target_.pubsync();
}

CountingInBuffer::CountingInBuffer(std::streambuf& source, ProgressReporter& reporter)
    : source_(source), reporter_(reporter) {
  setg(buffer_.data(), buffer_.data(), buffer_.data());
}

CountingInBuffer::int_type CountingInBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  const std::streamsize n =
      source_.sgetn(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  if (n <= 0) return traits_type::eof();
  bytes_ += static_cast<std::uint64_t>(n);
  reporter_.advance(bytes_);
  setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
  return traits_type::to_int_type(*gptr());
}

}  // namespace prevayler::detail
