// Per-segment counts gathered while a journal is read (inspect, verify).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/entry_codec.hpp"
#include "ops/journal_access.hpp"
#include "progress.hpp"

namespace prevayler::tool {

struct SegmentStats {
  std::uint64_t records = 0;
  std::uint64_t events = 0;
  std::uint64_t entry_bytes = 0;
  std::optional<Timestamp> first;
  std::optional<Timestamp> last;
};

class StatsVisitor : public ops::JournalVisitor {
 public:
  explicit StatsVisitor(Progress* progress = nullptr) : progress_(progress) {}
  void entry(const JournalPosition& position, std::string_view bytes) override {
    SegmentStats& s = segments[position.segment];
    if (position.entry == 0) ++s.records;
    ++s.events;
    s.entry_bytes += bytes.size();
    try {
      const detail::ParsedEntry parsed = detail::parse_entry(bytes, position_text(position));
      if (!s.first) s.first = parsed.timestamp;
      s.last = parsed.timestamp;
    } catch (const std::exception&) {
      // verify reports it; the counts stay.
    }
    if (progress_) progress_->add(1, bytes.size());
  }
  void warning(const std::string& message) override { warnings.push_back(message); }

  std::map<std::uint64_t, SegmentStats> segments;
  std::vector<std::string> warnings;

 private:
  static std::string position_text(const JournalPosition& p) { return p.to_string(); }
  Progress* progress_;
};

}  // namespace prevayler::tool
