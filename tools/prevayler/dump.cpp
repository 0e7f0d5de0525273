// `prevayler dump [--json] [--from POS] [--until POS|TIME]`: one line per
// event: position, timestamp, size, state hash if present, the event's
// schema version, the event bytes in base64. POS is SEGMENT[:RECORD[:ENTRY]]; TIME is ISO 8601 UTC.
// Both bounds are inclusive.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/entry_codec.hpp"
#include "core/position_text.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

bool before(const JournalPosition& a, const JournalPosition& b) {
  return std::tie(a.segment, a.record, a.entry) < std::tie(b.segment, b.record, b.entry);
}

// Stops the read once the upper bound is passed.
struct Done {};

class DumpVisitor : public ops::JournalVisitor {
 public:
  DumpVisitor(bool json, std::optional<JournalPosition> from,
              std::optional<JournalPosition> until_position, std::optional<Timestamp> until_time)
      : json_(json), from_(from), until_position_(until_position), until_time_(until_time) {}

  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (from_ && before(position, *from_)) return;
    if (until_position_ && before(*until_position_, position)) throw Done{};
    const detail::ParsedEntry e = detail::parse_entry(bytes, position.to_string());
    if (until_time_ && e.timestamp > *until_time_) throw Done{};
    if (json_) {
      nlohmann::json j = {{"position", position_text(position)},
                          {"segment", position.segment},
                          {"record", position.record},
                          {"entry", position.entry},
                          {"timestamp", to_iso8601(e.timestamp)},
                          {"timestamp_ms", e.timestamp.time_since_epoch().count()},
                          {"bytes", e.event.size()},
                          {"schema_version", e.schema_version},
                          {"event", base64(e.event)}};
      if (e.state_hash) j["state_hash"] = hex64(*e.state_hash);
      std::cout << j.dump() << "\n";
    } else {
      std::cout << position_text(position) << " " << to_iso8601(e.timestamp) << " "
                << e.event.size() << " " << (e.state_hash ? hex64(*e.state_hash) : "-") << " "
                << e.schema_version << " " << base64(e.event) << "\n";
    }
  }
  void warning(const std::string& message) override {
    std::cerr << program << ": warning: " << message << "\n";
  }

 private:
  bool json_;
  std::optional<JournalPosition> from_;
  std::optional<JournalPosition> until_position_;
  std::optional<Timestamp> until_time_;
};

}  // namespace

int run_dump(const StorageFlags& flags, const DumpOptions& options) {
  std::optional<JournalPosition> from;
  if (!options.from.empty()) {
    from = detail::parse_position(options.from, 0);
    if (!from)
      throw UsageError("--from wants SEGMENT[:RECORD[:ENTRY]], not '" + options.from + "'");
  }
  std::optional<JournalPosition> until_position;
  std::optional<Timestamp> until_time;
  if (!options.until.empty()) {
    until_time = parse_iso8601(options.until);
    if (!until_time) until_position = detail::parse_position(options.until, UINT64_MAX);
    if (!until_time && !until_position) {
      throw UsageError(
          "--until wants SEGMENT[:RECORD[:ENTRY]] or an ISO 8601 UTC time such as "
          "2026-12-01T10:55:13Z, not '" +
          options.until + "'");
    }
  }
  auto source = open_source(flags);
  const auto segments = source->segments();
  if (segments.empty()) return exit_ok;
  const std::uint64_t first =
      from ? std::max(from->segment, segments.front().id) : segments.front().id;
  DumpVisitor visitor(options.json, from, until_position, until_time);
  try {
    source->read(first, visitor);
  } catch (const Done&) {
  }
  std::cout << std::flush;
  return exit_ok;
}

}  // namespace prevayler::tool
