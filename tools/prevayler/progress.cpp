#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace prevayler::tool {
namespace {

// Redrawing more often than this costs more than it tells.
constexpr std::chrono::milliseconds redraw_interval_ms{200};
constexpr int bar_width_chars = 30;

std::string mib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

}  // namespace

Progress::Progress(std::string what, std::uint64_t total_bytes)
    : what_(std::move(what)),
      total_bytes_(total_bytes),
      enabled_(::isatty(STDOUT_FILENO) != 0 && ::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { done(); }

void Progress::add(std::uint64_t events, std::uint64_t bytes) {
  events_ += events;
  bytes_ += bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < redraw_interval_ms) return;
  last_draw_ = now;
  draw();
}

void Progress::draw() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(events_) / seconds : 0;
  std::string line = what_ + " ";
  if (total_bytes_ > 0) {
    const double fraction =
        std::min(1.0, static_cast<double>(bytes_) / static_cast<double>(total_bytes_));
    const int filled = static_cast<int>(fraction * bar_width_chars);
    line += "[" + std::string(static_cast<std::size_t>(filled), '#') +
            std::string(static_cast<std::size_t>(bar_width_chars - filled), ' ') + "] ";
    line += mib(static_cast<double>(bytes_)) + " of " + mib(static_cast<double>(total_bytes_));
    const double byte_rate = seconds > 0 ? static_cast<double>(bytes_) / seconds : 0;
    if (byte_rate > 0 && bytes_ < total_bytes_) {
      line += ", " +
              std::to_string(
                  static_cast<long long>(static_cast<double>(total_bytes_ - bytes_) / byte_rate)) +
              " s left";
    }
  } else {
    line += mib(static_cast<double>(bytes_));
  }
  line += ", " + std::to_string(events_) + " events (" +
          std::to_string(static_cast<long long>(rate)) + "/s)";
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::done() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
  enabled_ = false;
}

}  // namespace prevayler::tool
